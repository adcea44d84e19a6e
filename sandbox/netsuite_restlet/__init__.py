"""The store's own NetSuite scripts, as deployed from ``integrations/netsuite/``: the RESTlet at
``/netsuite/{account}/app/site/hosting/restlet.nl?script=…&deploy=…`` and the User Event script
that posts each inventory change, signed, to the product's webhook endpoint.

Served on the NetSuite stand-in's accounts (its state, its token-based authentication): a RESTlet
is called with the same TBA header as REST web services, the query parameters ``script`` and
``deploy`` signed with the rest (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1534941088.html).
What NetSuite itself does around a RESTlet is strict here
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_4634920277.html): a script
or deployment that is not there answers 404; an error the script throws answers 400 with
``{"error": {"code", "message"}}``; more concurrent calls than the account allows answer 400
``SSS_REQUEST_LIMIT_EXCEEDED`` (``_admin/restlet`` ``{"busy": n}`` makes the next ``n`` do so).
The scripts' own contract is the one ``integrations/netsuite/backorders_restlet.js`` documents.

Admin: ``_admin/restlet`` sets the deployment (``script``, ``deploy``, ``status_field``,
``busy``) and, with ``{"address", "secret"}``, deploys the User Event script posting there;
``_admin/adjust`` books an inventory adjustment (a transaction: the item record is not touched,
as in NetSuite) and runs the User Event script; ``_admin/state/item_fields`` shows what the
RESTlet wrote.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, FastAPI
from fastapi.responses import JSONResponse

from sandbox.kit import Call, Signed, known, subscribe
from sandbox.netsuite.account import TS_FORMAT, AccountState, kit, render

TOPICS = ("inventory.changed", "item.modified")
ROWS = f"""SELECT item.id AS item_id, item.itemid AS sku, iil.location AS location_id,
    iil.quantityonhand AS on_hand, iil.quantityavailable AS available, iil.quantitycommitted AS committed,
    iil.quantitybackordered AS backordered,
    MAX(item.lastmodifieddate, COALESCE((SELECT MAX(t.lastmodifieddate) FROM transactionline tl
        JOIN "transaction" t ON t.id = tl."transaction" WHERE tl.item = item.id AND t.type = 'InvAdjst'),
        item.lastmodifieddate)) AS modified
FROM item JOIN inventoryitemlocations iil ON iil.item = item.id
WHERE item.itemtype = 'InvtPart' AND item.isinactive = 'F' {{where}} ORDER BY item.id, iil.location"""
CHANGED = """AND (item.lastmodifieddate >= :since OR EXISTS (SELECT 1 FROM transactionline tl
    JOIN "transaction" t ON t.id = tl."transaction" WHERE tl.item = item.id AND t.type = 'InvAdjst'
    AND t.lastmodifieddate >= :since))"""
#: The User Event script's headers (integrations/netsuite/backorders_events.js).
events = Signed({"Content-Type": "application/json", "X-Backorders-Topic": "{topic}",
                 "X-Backorders-Event-Id": "{kind}:{record}:{uuid}", "X-Backorders-Signature": "sha256={signature_hex}"})
router = APIRouter(prefix="/netsuite/{instance}")


def script_error(code: str, message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def deployment(call: Call[AccountState]) -> dict[str, str]:
    """The deployment the URL names, else NetSuite's 404; a busy account's 400."""
    restlet = call.state.restlet
    if (call.query.get("script"), call.query.get("deploy")) != (restlet["script"], restlet["deploy"]):
        raise call.refuse({"error": {"code": "SSS_INVALID_SCRIPTLET_ID",
                                     "message": "That Suitelet is invalid, disabled, or no longer exists."}}, 404)
    if int(restlet.get("busy", 0)) > 0:
        restlet["busy"] = str(int(restlet["busy"]) - 1)
        raise call.refuse({"error": {"code": "SSS_REQUEST_LIMIT_EXCEEDED",
                                     "message": "The request limit for this account has been exceeded."}}, 400)
    return restlet


def rows(state: AccountState, since: str | None, item_ids: list[int] | None = None) -> list[dict[str, str]]:
    where = CHANGED if since else ""
    if item_ids is not None:
        where += f" AND item.id IN ({', '.join(str(int(i)) for i in item_ids) or 'NULL'})"
    cursor = state.db.execute(ROWS.format(where=where), {"since": since} if since else {})
    columns = [d[0] for d in cursor.description]
    return [{c: render(v) for c, v in zip(columns, row) if v is not None} for row in cursor.fetchall()]


@router.get("/app/site/hosting/restlet.nl")
def restlet_get(call: Call[AccountState] = kit.call) -> JSONResponse:
    deployment(call)
    if call.query.get("action") != "stock":
        raise call.refuse({"error": {"code": "UNKNOWN_ACTION", "message": f"GET action {call.query.get('action')}"}},
                          400)
    since = call.query.get("since")
    try:
        limit, offset = min(max(int(call.query.get("limit", 1000)), 1), 1000), max(int(call.query.get("offset", 0)), 0)
    except ValueError:
        raise call.refuse({"error": {"code": "INVALID_PAGE", "message": "limit and offset are numbers"}}, 400) from None
    with call.state.lock:
        if since is not None:
            try:
                since = call.state.db.execute("SELECT TO_TIMESTAMP(?, ?)", (since, TS_FORMAT)).fetchone()[0]
            except Exception:
                raise call.refuse({"error": {"code": "INVALID_SINCE", "message": f"since {since} is not "
                                                                                 f"YYYY-MM-DD HH24:MI:SS"}}, 400) from None
        found, now = rows(call.state, since), call.state.stamp()
    page = found[offset:offset + limit]
    has_more = offset + len(page) < len(found)
    base = str(call.request.url).split("?")[0]
    nxt = {"script": call.query["script"], "deploy": call.query["deploy"], "action": "stock", "limit": limit,
           "offset": offset + len(page), **({"since": since} if since else {})}
    links = [{"rel": "next", "href": base + "?" + "&".join(f"{k}={v}" for k, v in nxt.items())}] if has_more else []
    return call.reply({"contract": 1, "items": page, "hasMore": has_more, "offset": offset, "count": len(page),
                       "totalResults": len(found), "links": links, "now": now})


@router.post("/app/site/hosting/restlet.nl")
def restlet_post(call: Call[AccountState] = kit.call) -> JSONResponse:
    restlet = deployment(call)
    body = call.body if isinstance(call.body, dict) else {}
    if body.get("action") != "backorder_status":
        raise call.refuse({"error": {"code": "UNKNOWN_ACTION", "message": f"POST action {body.get('action')}"}}, 400)
    entries = body.get("items")
    if not isinstance(entries, list) or not 1 <= len(entries) <= 100:
        raise call.refuse({"error": {"code": "INVALID_ITEMS", "message": "items must list 1 to 100 "
                                                                         "{item_id, backorder}"}}, 400)
    field, updated, unchanged = restlet["status_field"], [], []
    with call.state.lock:
        for entry in entries:
            item_id = str(entry.get("item_id", "")) if isinstance(entry, dict) else ""
            if not item_id.isdigit() or not isinstance(entry.get("backorder"), bool):
                raise call.refuse({"error": {"code": "INVALID_ITEMS", "message": f"item {entry!r} needs a numeric "
                                                                                 f"item_id and a boolean backorder"}}, 400)
            if call.state.db.execute("SELECT 1 FROM item WHERE id = ?", (int(item_id),)).fetchone() is None:
                raise call.refuse({"error": {"code": "RCRD_DSNT_EXIST", "message": "That record does not exist."}},
                                  400)
            key = (int(item_id), field)
            if call.state.item_fields.get(key, False) == entry["backorder"]:
                unchanged.append(item_id)
                continue
            call.state.item_fields[key] = entry["backorder"]
            updated.append({"item_id": item_id, "field": field, "value": entry["backorder"]})
    return call.reply({"contract": 1, "updated": updated, "unchanged": unchanged})


@router.post("/_admin/restlet")
def configure(state: AccountState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> JSONResponse:
    with state.lock:
        state.restlet.update({k: str(payload[k]) for k in ("script", "deploy", "status_field", "busy")
                              if k in payload})
        if payload.get("address"):
            state.webhooks[:] = [h for h in state.webhooks if h["address"] != payload["address"]]
            subscribe(state, {"address": payload["address"], "secret": payload["secret"], "topics": list(TOPICS)})
        return JSONResponse({"restlet": state.restlet, "webhooks": len(state.webhooks)})


@router.post("/_admin/adjust")
def adjust(state: AccountState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"sku", "location_id", "delta"}``: an inventory adjustment; the User Event script posts."""
    with state.lock:
        item = known(state.item_row(str(payload.get("sku"))), f"sku {payload.get('sku')}")[0]
        location, delta = int(payload.get("location_id", 1)), int(payload["delta"])
        state.db.execute("UPDATE inventoryitemlocations SET quantityonhand = quantityonhand + :d, "
                         "quantityavailable = quantityavailable + :d WHERE item = :i AND location = :l",
                         {"d": delta, "i": item, "l": location})
        tid = (state.db.execute('SELECT MAX(id) FROM "transaction"').fetchone()[0] or 90000) + 1
        state.db.execute('INSERT INTO "transaction" (id, tranid, type, status, lastmodifieddate) VALUES '
                         "(?, ?, 'InvAdjst', 'A', ?)", (tid, f"ADJ{tid}", state.stamp()))
        state.db.execute('INSERT INTO transactionline (id, "transaction", linesequencenumber, mainline, item, quantity,'
                         " location) VALUES (1, ?, 1, 'F', ?, ?, ?)", (tid, item, delta, location))
        state.db.commit()
        posted = rows(state, None, [item])
    delivered = events.deliver(state, "inventory.changed", {"items": posted}, kind="inventoryadjustment",
                               record=str(tid))
    return JSONResponse({"transaction": str(tid), "items": posted, "deliveries": delivered})


@router.get("/_admin/state/item_fields")
def item_fields(state: AccountState = kit.state) -> JSONResponse:
    with state.lock:
        return JSONResponse({"item_fields": [{"item_id": str(i), "field": f, "value": v}
                                             for (i, f), v in sorted(state.item_fields.items())]})


def install(app: FastAPI) -> None:
    """Served beside the NetSuite stand-in (``sandbox.netsuite`` installs first: its accounts)."""
    app.include_router(router)
