"""ShipStation API endpoints: V1 ``/shipments`` and webhook subscriptions, V2 labels, shipments and
tracking, each under its own auth and rate limit (``account``)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.shipstation.account import (
    EVENTS, AccountState, created, kit, label_view, read_time, shipment_view, tracking_view, v1_error, v1_view,
    v2_error, v2_time,
)


def page_of(call: Call[AccountState], rows: list[Any], size_param: str, invalid: Any) -> tuple[list[Any], dict[str, int]]:
    """``page`` (from 1) and a page size of 1–500: the page and ``{total, page, pages}``."""
    try:
        page, size = int(call.query.get("page", 1)), int(call.query.get(size_param, 100))
    except ValueError:
        raise call.refuse(invalid(f"page and {size_param} must be whole numbers"), 400) from None
    if page < 1 or not 1 <= size <= 500:
        raise call.refuse(invalid(f"page must be at least 1 and {size_param} between 1 and 500"), 400)
    pages = (len(rows) + size - 1) // size
    return rows[(page - 1) * size: page * size], {"total": len(rows), "page": page, "pages": pages}


def since(call: Call[AccountState], name: str, zone: Any = None) -> Any:
    raw = call.query.get(name)
    if not raw:
        return None
    try:
        return read_time(raw, zone) if zone else read_time(raw)
    except ValueError:
        raise call.refuse(v1_error(f"The value '{raw}' is not valid for {name}."), 400) from None


@kit.api.get("/shipments")
def list_shipments(call: Call[AccountState] = kit.call) -> Response:
    """https://docs.shipstation.com/apis/shipstation-v1/docs/shipments/list (``batchId`` is what a
    SHIP_NOTIFY ``resource_url`` carries)."""
    q = call.query
    start, end = since(call, "createDateStart"), since(call, "createDateEnd")
    with call.state.lock:
        rows = [r for r in call.state.shipments.values()
                if (start is None or created(r) >= start) and (end is None or created(r) <= end)
                and q.get("orderNumber") in (None, r["orderNumber"]) and q.get("trackingNumber") in (None, r["trackingNumber"])
                and ("batchId" not in q or r["shipmentId"] in call.state.batches.get(int(q["batchId"] or 0), []))]
        key = (lambda r: r["shipDate"]) if q.get("sortBy") == "ShipDate" else created
        rows.sort(key=key, reverse=q.get("sortDir", "ASC").upper() == "DESC")
        chosen, counts = page_of(call, rows, "pageSize", v1_error)
        items = q.get("includeShipmentItems", "false").lower() == "true"
        return call.reply({"shipments": [v1_view(r, items) for r in chosen], **counts})


@kit.api.get("/webhooks")
def list_webhooks(call: Call[AccountState] = kit.call) -> Response:
    return call.reply({"webhooks": [{"WebHookID": h["id"], "HookType": h["topics"][0], "Url": h["address"],
                                     "Name": h.get("name"), "Active": True, "MessageFormat": "Json",
                                     "StoreID": h.get("store_id")} for h in call.state.webhooks]})


@kit.api.post("/webhooks/subscribe")
def subscribe(call: Call[AccountState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    if not body.get("target_url") or body.get("event") not in EVENTS:
        raise call.refuse(v1_error("target_url and a valid event are required."), 400)
    with call.state.lock:
        hook = {"id": 9000 + len(call.state.webhooks) + 1, "address": body["target_url"], "secret": "",
                "topics": [body["event"]], "name": body.get("friendly_name"), "store_id": body.get("store_id")}
        call.state.webhooks.append(hook)
    return call.reply({"id": hook["id"]}, 201)


@kit.api.delete("/webhooks/{webhook_id}")
def unsubscribe(webhook_id: int, call: Call[AccountState] = kit.call) -> Response:
    with call.state.lock:
        call.state.webhooks[:] = [h for h in call.state.webhooks if h["id"] != webhook_id]
    return call.reply(None, 200)


@kit.api.get("/v2/labels")
def list_labels(call: Call[AccountState] = kit.call) -> Response:
    """https://docs.shipstation.com/apis/shipengine/docs/reference/pagination (``links`` left out);
    ``rma_number`` lists the return labels bought under it."""
    start = since(call, "created_at_start", zone=timezone.utc)
    with call.state.lock:
        if call.query.get("rma_number"):
            found = [r for r in call.state.return_labels if r["rma_number"] == call.query["rma_number"]]
            return call.reply({"labels": found, "total": len(found), "page": 1, "pages": 1 if found else 0})
        rows = sorted((r for r in call.state.shipments.values() if start is None or created(r) >= start), key=created,
                      reverse=call.query.get("sort_dir", "desc") == "desc")
        chosen, counts = page_of(call, rows, "page_size", lambda m: v2_error("invalid_field_value", m))
        return call.reply({"labels": [label_view(call.state, r) for r in chosen], **counts})


@kit.api.get("/v2/shipments/{shipment_id}")
def get_shipment(shipment_id: str, call: Call[AccountState] = kit.call) -> Response:
    row = call.state.shipments.get(int(shipment_id.removeprefix("se-s"))) if shipment_id[4:].isdigit() else None
    if row is None:
        raise call.refuse(v2_error("not_found", f"shipment {shipment_id} not found"), 404)
    return call.reply(shipment_view(row))


@kit.api.get("/v2/tracking")
def track(call: Call[AccountState] = kit.call) -> Response:
    number, carrier = call.query.get("tracking_number"), call.query.get("carrier_code")
    if not number or not carrier:
        raise call.refuse(v2_error("invalid_field_value", "carrier_code and tracking_number are required"), 400)
    with call.state.lock:
        return call.reply(tracking_view(call.state, number, carrier))


@kit.api.get("/v2/labels/{label_id}/track")
def track_label(label_id: str, call: Call[AccountState] = kit.call) -> Response:
    row = call.state.shipments.get(int(label_id.removeprefix("se-"))) if label_id[3:].isdigit() else None
    if row is None:
        raise call.refuse(v2_error("not_found", f"label {label_id} not found"), 404)
    with call.state.lock:
        return call.reply(tracking_view(call.state, row["trackingNumber"], row["carrierCode"]))


RETURN_CHARGE_EVENTS = ("carrier_default", "on_creation", "on_carrier_acceptance")


@kit.api.post("/v2/labels")
def create_label(call: Call[AccountState] = kit.call) -> Response:
    """A return label (https://docs.shipstation.com/return-labels): ``is_return_label: true`` needs a
    ``charge_event``; the shipment needs ``carrier_id``, ``service_code``, ``ship_to``, ``ship_from``
    and a package weight. Only return labels are sold here."""
    body = call.body if isinstance(call.body, dict) else {}
    shipment = body.get("shipment") if isinstance(body.get("shipment"), dict) else {}
    missing = [k for k in ("carrier_id", "service_code", "ship_to", "ship_from", "packages") if not shipment.get(k)]
    if missing:
        raise call.refuse(v2_error("field_value_required", f"shipment.{missing[0]} is required"), 400)
    if body.get("is_return_label") is not True:
        raise call.refuse(v2_error("invalid_field_value", "this stand-in sells return labels only"), 400)
    if body.get("charge_event") not in RETURN_CHARGE_EVENTS:
        raise call.refuse(v2_error("invalid_field_value", "charge_event is required for a return label"), 400)
    with call.state.lock:
        call.state.next_id += 1
        number = f"9405{call.state.next_id:018d}"
        label = {"label_id": f"se-r{call.state.next_id}", "status": "completed", "is_return_label": True,
                 "rma_number": body.get("rma_number"), "charge_event": body["charge_event"],
                 "created_at": v2_time(datetime.now(timezone.utc)), "tracking_number": number,
                 "carrier_code": "stamps_com", "service_code": shipment["service_code"],
                 "carrier_id": shipment["carrier_id"], "shipment_id": f"se-s{call.state.next_id}",
                 "ship_to": shipment["ship_to"], "ship_from": shipment["ship_from"],
                 "label_download": {"pdf": f"https://api.shipstation.com/v1/downloads/{call.state.next_id}.pdf"}}
        call.state.return_labels.append(label)
    return call.reply(label, 200)
