"""NetSuite's record services the connector uses: SuiteQL queries and purchase orders.

* SuiteQL ``POST /services/rest/query/v1/suiteql?limit=&offset=`` with ``Prefer: transient`` and
  ``{"q": "SELECT …"}`` (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html):
  the query really runs on the account's SQLite tables; only one SELECT is allowed; answers are
  the collection envelope with lower-case columns, values as strings, NULL columns omitted.
* Purchase orders: ``POST /record/v1/purchaseOrder`` and the upsert ``PUT …/eid:{externalId}``
  (``?replace=item`` replaces the item sublist, otherwise lines are added) answer ``204`` with the
  record's URL in ``Location`` (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1545141395.html,
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156335203191.html,
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1545297048.html);
  ``GET …/purchaseOrder/{id | eid:…}`` (``expandSubResources=true`` inlines the lines) or 404
  ``NONEXISTENT_ID``. Unresolvable references answer 400 ``INVALID_CONTENT`` with ``o:errorPath``
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/article_161165602348.html).
  Purchase orders are mirrored into SuiteQL's ``transaction`` / ``transactionline`` tables.
"""
from __future__ import annotations

import re
import sqlite3
from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.netsuite.account import (NONEXISTENT, PO_ID_BASE, AccountState, bad_request, error_body, kit, pages,
                                      render)


@kit.api.post("/query/v1/suiteql")
def suiteql(call: Call[AccountState] = kit.call) -> Response:
    if call.request.headers.get("Prefer", "").lower() != "transient":
        raise call.refuse(bad_request("The request header 'Prefer' must be 'transient' for SuiteQL queries.",
                                      "INVALID_HEADER"), 400)
    limit, offset = pages.open(call)
    query = call.body.get("q") if isinstance(call.body, dict) else None
    if not isinstance(query, str) or not query.strip().upper().startswith("SELECT") or ";" in query:
        raise call.refuse(bad_request("Invalid search query. Provide a single SELECT statement in the body "
                                      "field 'q'."), 400)
    call.entry["q"] = query
    with call.state.lock:
        try:
            columns, rows = call.state.run_select(query)
        except (sqlite3.Error, ValueError) as exc:
            raise call.refuse(bad_request(f"Invalid search query. Detailed unprocessed description follows. "
                                          f"{exc}"), 400) from None
    return pages.answer(call, rows, lambda row: {"links": [], **{c: render(v) for c, v in zip(columns, row)
                                                                  if v is not None}}, limit, offset)


def record_url(call: Call[AccountState], po_id: int) -> str:
    url = call.request.url
    return f"{url.scheme}://{url.netloc}/netsuite/{call.state.name}/services/rest/record/v1/purchaseOrder/{po_id}"


def written(call: Call[AccountState], po_id: int) -> Response:
    return call.answer(Response(status_code=204, headers={"Location": record_url(call, po_id)}))


def po_payload(call: Call[AccountState]) -> dict[str, Any]:
    payload = {} if not call.raw else call.body
    if not isinstance(payload, dict):
        raise call.refuse(bad_request("Invalid JSON in the request body.", "INVALID_CONTENT"), 400)
    return payload


@kit.api.post("/record/v1/purchaseOrder")
def create_po(call: Call[AccountState] = kit.call) -> Response:
    payload = po_payload(call)
    state = call.state
    with state.lock:
        external = payload.get("externalId")
        if external is not None and state.po_by_external_id(str(external)):
            raise call.refuse(bad_request("Error while accessing resource: A record with the same external ID "
                                          "already exists.", "USER_ERROR"), 400)
        problem = validate_po(state, payload)
        if problem:
            raise call.refuse(problem, 400)
        po = store_po(state, payload, str(external) if external is not None else None)
    return written(call, po["id"])


@kit.api.put("/record/v1/purchaseOrder/eid:{external_id}")
def upsert_po(external_id: str, call: Call[AccountState] = kit.call) -> Response:
    payload = po_payload(call)
    if not re.match(r"^[A-Za-z0-9_-]+$", external_id):
        raise call.refuse(bad_request(f"Invalid external ID '{external_id}'.", "INVALID_ID"), 400)
    replace = "item" in call.query.get("replace", "").split(",")
    state = call.state
    with state.lock:
        existing = state.po_by_external_id(external_id)
        problem = validate_po(state, payload, partial=existing is not None)
        if problem:
            raise call.refuse(problem, 400)
        if existing is None:
            po = store_po(state, payload, external_id)
        else:
            po = update_po(state, existing, payload, replace_items=replace)
    return written(call, po["id"])


@kit.api.get("/record/v1/purchaseOrder/{ref}")
def get_po(ref: str, call: Call[AccountState] = kit.call) -> Response:
    state = call.state
    with state.lock:
        if ref.startswith("eid:"):
            po = state.po_by_external_id(ref[4:])
        else:
            po = state.purchase_orders.get(int(ref)) if ref.isdigit() else None
        if po is None:
            raise call.refuse(error_body(404, "Record Not Found", NONEXISTENT, "NONEXISTENT_ID"), 404)
        expand = call.query.get("expandSubResources", "").lower() == "true"
        return call.reply(po_view(po, record_url(call, po["id"]), expand))


def validate_po(state: AccountState, payload: dict[str, Any], partial: bool = False) -> dict[str, Any] | None:
    """NetSuite's 400 for a reference it cannot resolve (``INVALID_CONTENT`` with ``o:errorPath``)."""
    def invalid(value: Any, field_name: str, path: str) -> dict[str, Any]:
        body = error_body(400, "Bad Request", f"Error while accessing resource: You have entered an Invalid "
                                              f"Field Value {value} for the following field: {field_name}",
                          "INVALID_CONTENT")
        body["o:errorDetails"][0]["o:errorPath"] = path
        return body

    entity = payload.get("entity")
    if entity is None and not partial:
        return error_body(400, "Bad Request", "Error while accessing resource: Please enter value(s) for: Vendor",
                          "USER_ERROR")
    if entity is not None:
        vendor_id = str((entity or {}).get("id", "")) if isinstance(entity, dict) else ""
        if not vendor_id.isdigit() or state.db.execute("SELECT 1 FROM vendor WHERE id = ?",
                                                       (int(vendor_id),)).fetchone() is None:
            return invalid(vendor_id, "entity", "entity")
    lines = ((payload.get("item") or {}).get("items")) if isinstance(payload.get("item"), dict) else None
    if lines is None and not partial:
        return error_body(400, "Bad Request", "Error while accessing resource: You must enter at least one "
                                              "line item for this transaction.", "USER_ERROR")
    for index, line in enumerate(lines or []):
        item_id = str(((line or {}).get("item") or {}).get("id", ""))
        if not item_id.isdigit() or state.db.execute("SELECT 1 FROM item WHERE id = ?",
                                                     (int(item_id),)).fetchone() is None:
            return invalid(item_id, "item", f"item.items[{index}].item")
    return None


def _po_lines(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"item": str(line["item"]["id"]), "quantity": float(line.get("quantity", 1)),
             "rate": float(line.get("rate", 0))} for line in (payload.get("item") or {}).get("items") or []]


def index_po(state: AccountState, po: dict[str, Any]) -> None:
    """Mirror a purchase order into the SuiteQL tables (header line first, as NetSuite has it)."""
    state.db.execute('DELETE FROM transactionline WHERE "transaction" = ?', (po["id"],))
    state.db.execute('INSERT OR REPLACE INTO "transaction" VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                     (po["id"], po["tranId"], po["externalId"], "PurchOrd", int(po["entity"]), po["status"],
                      po["memo"], state.stamp()))
    location = int(po["location"]) if po.get("location") else None
    state.db.execute("INSERT INTO transactionline VALUES (?, ?, ?, 'T', NULL, NULL, NULL, NULL, ?)",
                     (0, po["id"], 0, location))
    for n, line in enumerate(po["lines"], start=1):
        state.db.execute("INSERT INTO transactionline VALUES (?, ?, ?, 'F', ?, ?, ?, ?, ?)",
                         (n, po["id"], n, int(line["item"]), line["quantity"], line.get("received", 0.0),
                          line["rate"], location))
    state.db.commit()


def receive_po(state: AccountState, po: dict[str, Any], wanted: dict[str, Any] | None,
               location: int) -> list[dict[str, Any]]:
    """An item receipt against ``po``: each line's received quantity rises (never past what was
    ordered), the items' on-hand at ``location`` rises with it, and the PO's status follows."""
    booked = []
    for line in po["lines"]:
        sku = state.db.execute("SELECT itemid FROM item WHERE id = ?", (int(line["item"]),)).fetchone()[0]
        outstanding = line["quantity"] - line.get("received", 0.0)
        qty = outstanding if wanted is None else min(float(wanted.get(sku, 0)), outstanding)
        if qty <= 0:
            continue
        line["received"] = line.get("received", 0.0) + qty
        state.db.execute("INSERT OR IGNORE INTO inventoryitemlocations VALUES (?, ?, 0, 0, 0, 0, 0, 0)",
                         (int(line["item"]), location))
        state.db.execute("UPDATE inventoryitemlocations SET quantityonhand = quantityonhand + ?, "
                         "quantityavailable = quantityavailable + ? WHERE item = ? AND location = ?",
                         (qty, qty, int(line["item"]), location))
        state.db.execute("UPDATE item SET lastmodifieddate = ? WHERE id = ?", (state.stamp(), int(line["item"])))
        booked.append({"sku": sku, "quantity": qty})
    done = all(line.get("received", 0.0) >= line["quantity"] for line in po["lines"])
    po["status"] = "Pending Bill" if done else "Partially Received"
    index_po(state, po)
    return booked


def store_po(state: AccountState, payload: dict[str, Any], external_id: str | None) -> dict[str, Any]:
    po_id = max(state.purchase_orders, default=PO_ID_BASE - 1) + 1
    po = {"id": po_id, "tranId": f"PO{po_id}", "externalId": external_id, "memo": payload.get("memo"),
          "entity": str(payload["entity"]["id"]), "location": (payload.get("location") or {}).get("id"),
          "subsidiary": (payload.get("subsidiary") or {}).get("id"), "status": "Pending Receipt",
          "lines": _po_lines(payload), "createdDate": state.stamp(), "writes": 1}
    state.purchase_orders[po_id] = po
    index_po(state, po)
    return po


def update_po(state: AccountState, po: dict[str, Any], payload: dict[str, Any], replace_items: bool) -> dict[str, Any]:
    """An upsert that matched: body fields overwrite; item lines are replaced or added to."""
    po["memo"] = payload.get("memo", po["memo"])
    if payload.get("entity"):
        po["entity"] = str(payload["entity"]["id"])
    if payload.get("item") is not None:
        po["lines"] = _po_lines(payload) if replace_items else po["lines"] + _po_lines(payload)
    po["writes"] += 1
    index_po(state, po)
    return po


def po_view(po: dict[str, Any], url: str, expand: bool) -> dict[str, Any]:
    """The record as REST GET shows it: references as ``{"id"}`` objects, sublist as a link unless expanded."""
    total = sum(line["quantity"] * line["rate"] for line in po["lines"])
    items: dict[str, Any] = {"links": [{"rel": "self", "href": f"{url}/item"}]}
    if expand:
        items["items"] = [{"line": n + 1, "item": {"id": line["item"]}, "quantity": line["quantity"],
                           "rate": line["rate"], "amount": round(line["quantity"] * line["rate"], 2)}
                          for n, line in enumerate(po["lines"])]
    view = {"links": [{"rel": "self", "href": url}], "id": str(po["id"]), "tranId": po["tranId"],
            "externalId": po["externalId"], "memo": po["memo"], "entity": {"id": po["entity"]},
            "status": po["status"], "createdDate": po["createdDate"], "total": round(total, 2), "item": items}
    for name in ("location", "subsidiary"):
        if po.get(name) is not None:
            view[name] = {"id": str(po[name])}
    if not url:
        view["writes"] = po["writes"]
    return view
