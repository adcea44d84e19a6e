"""Control endpoints under ``/business_central/{instance}/_admin`` (docs/sandbox.md lists them):
the app registration and limits (``config``), the company's contents (``seed``), stock changed in
Business Central (``set_stock``: a positive or negative adjustment posted to the item ledger), goods
received against a purchase order (``purchase_orders/receive``: a posted purchase receipt and its
ledger entries), an item changed in its UI (``notify``), and views of what the stand-in holds.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.business_central.company import CompanyState, guid, kit, notify, stamp
from sandbox.kit.admin import Events, Setting, add_config, add_set_stock, add_state_view, known

add_config(kit, {"client_id": Setting("client_id"), "client_secret": Setting("client_secret", show=None),
                 "tenant": Setting("tenant"), "environment": Setting("environment"),
                 "token_lifetime_s": Setting("token_lifetime_s", int), "manual_po_numbers": Setting(
                     "manual_po_numbers", bool), "rate_limit": Setting("window.limit", int),
                 "rate_window_s": Setting("window.seconds", float)})


def item_view(state: CompanyState, item: dict[str, Any]) -> dict[str, Any]:
    codes = sorted({loc["code"] for loc in state.locations} | {e["locationCode"] for e in state.ledger
                                                               if e["itemNo"] == item["number"]})
    stock = {code: state.level(item["number"], code) for code in codes}
    return {"sku": item["number"], "id": item["id"], "stock": stock}


def deliver(state: CompanyState, events: Events) -> list[dict[str, Any]]:
    """Each ``(entity, id)`` changed: its subscribers are notified (after the lock is let go)."""
    return [record for entity, record_id in events for record in notify(state, entity, record_id, "updated")]


@kit.admin.post("/seed")
def seed(state: CompanyState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> JSONResponse:
    """``{"reset": true, "tenant"?, "company_id"?, "locations": ["MAIN"], "vendors": [{"number", "name"}],
    "items": [{"sku", "name", "stock": {"MAIN": 3}}]}``: stock is posted as positive adjustments; a
    ``tenant`` / ``company_id`` a configuration names is adopted (default: the instance's own)."""
    with state.lock:
        state.tenant = payload.get("tenant") or state.tenant
        state.company_id = payload.get("company_id") or state.company_id
        if payload.get("reset", True):
            state.locations, state.items, state.ledger, state.vendors = [], {}, [], {}
            state.orders, state.receipts = {}, []
        for code in payload.get("locations") or []:
            state.locations.append({"id": guid(state.name, "location", code), "code": code,
                                    "displayName": code.title()})
        for vendor in payload.get("vendors") or []:
            state.vendors[vendor["number"]] = {"id": guid(state.name, "vendor", vendor["number"]),
                                               "number": vendor["number"], "displayName": vendor.get("name", "")}
        added = []
        for spec in payload.get("items") or []:
            added.append(state.add_item(spec["sku"], spec.get("name", "")))
            for code, quantity in (spec.get("stock") or {}).items():
                state.set_level(spec["sku"], code, int(quantity))
        return JSONResponse({"tenant": state.tenant, "company_id": state.company_id,
                             "items": [item_view(state, item) for item in added]})


def change_stock(state: CompanyState, number: str, payload: dict[str, Any], now: datetime) -> tuple[Any, Events]:
    """``{"sku", "location", "quantity", "notify": false}``: the level posted as an adjustment. A
    posting does not change the item record, so no notification goes out unless asked."""
    state.set_level(number, str(payload["location"]), int(payload["quantity"]))
    if not payload.get("notify"):
        return item_view(state, state.items[number]), []
    return item_view(state, state.add_item(number)), [("items", state.items[number]["id"])]


add_set_stock(kit, lambda state, sku: sku if sku in state.items else None, change_stock, deliver)


@kit.admin.post("/purchase_orders/receive")
def receive(state: CompanyState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"number": "PO-…", "lines": {"SKU": quantity}}`` (default: everything outstanding): a posted
    purchase receipt; the received units enter the ledger at the line's location (else the first)."""
    with state.lock:
        order = known(next((o for o in state.orders.values() if o["number"] == payload.get("number")), None),
                      f"purchase order {payload.get('number')}")
        wanted, lines, events = payload.get("lines"), [], []
        number, receipt_id = f"107{len(state.receipts) + 1:03d}", guid(state.name, "receipt", str(len(state.receipts)))
        for line in order["purchaseOrderLines"]:
            sku, outstanding = line["lineObjectNumber"], int(line["quantity"]) - int(line["receivedQuantity"])
            quantity = min(outstanding, int(wanted.get(sku, 0)) if wanted else outstanding)
            if quantity <= 0:
                continue
            line["receivedQuantity"] += quantity
            state.post(sku, line.get("locationCode") or state.locations[0]["code"], quantity, "Purchase", number)
            lines.append({"id": guid(state.name, "prl", number, sku), "documentId": receipt_id,
                          "sequence": line["sequence"], "lineType": "Item",
                          "lineObjectNumber": sku, "description": line["description"], "quantity": quantity,
                          "unitCost": line["directUnitCost"], "expectedReceiptDate": line["expectedReceiptDate"]})
            events.append(("items", state.add_item(sku)["id"]))  # purchase posting updates the item's costs
        order["fullyReceived"] = all(li["receivedQuantity"] >= li["quantity"] for li in order["purchaseOrderLines"])
        receipt = {"id": receipt_id, "number": number, "orderNumber": order["number"],
                   "vendorNumber": order["vendorNumber"], "postingDate": state.now().date().isoformat(),
                   "lastModifiedDateTime": stamp(state.now()), "purchaseReceiptLines": lines}
        if lines:
            state.receipts.append(receipt)
    return JSONResponse({"receipt": receipt if lines else None, "webhooks": deliver(state, events)})


@kit.admin.post("/notify")
def notify_change(state: CompanyState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"sku", "changeType": "updated"}``: the item changed in Business Central's own pages."""
    with state.lock:
        item = state.add_item(known(payload.get("sku") if payload.get("sku") in state.items else None,
                                    f"sku {payload.get('sku')}"))
    return JSONResponse({"webhooks": notify(state, "items", item["id"], payload.get("changeType", "updated"))})


@kit.admin.get("/state/items")
def state_items(state: CompanyState = kit.state) -> JSONResponse:
    with state.lock:
        return JSONResponse({"items": [item_view(state, item) for item in state.items.values()]})


add_state_view(kit, "purchase_orders", lambda state: list(state.orders.values()))
add_state_view(kit, "receipts", lambda state: state.receipts)
add_state_view(kit, "subscriptions", lambda state: list(state.subscriptions.values()))
add_state_view(kit, "handshakes", lambda state: state.handshakes)
add_state_view(kit, "token_requests", lambda state: state.token_requests)
add_state_view(kit, "ledger", lambda state: state.ledger)
