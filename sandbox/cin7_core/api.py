"""The External API v2 endpoints the Cin7 Core stand-in serves under ``/ExternalApi/v2``
(https://dearinventory.docs.apiary.io/): ``ref/productavailability`` (``Sku``, ``Location``),
``product`` (list by ``Sku``; ``PUT`` with ``ID`` and the fields to change), ``ref/location``,
``purchaseList`` (``Search`` in the order number, supplier and status), ``purchase`` (``GET ?ID=``,
``POST`` a header), ``purchase/order`` (``POST`` the order lines, once), and ``webhooks`` (``GET``,
``POST``, ``PUT``; at most 5 of one type). Lists page by ``Page`` / ``Limit`` (1–1,000, default 100)
and name the ``Total``.
"""
from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from sandbox.cin7_core.account import WEBHOOK_TYPES, AccountState, cin7_error, kit, new_id
from sandbox.kit import Call


def page(call: Call[AccountState], key: str, rows: list[dict[str, Any]]) -> Response:
    try:
        number, size = int(call.query.get("Page", 1)), int(call.query.get("Limit", 100))
    except ValueError:
        raise call.refuse(cin7_error(400, "Page and Limit must be numbers"), 400) from None
    if not 1 <= size <= 1000:
        raise call.refuse(cin7_error(400, "Limit must be between 1 and 1000"), 400)
    return call.reply({"Total": len(rows), "Page": number, key: rows[(number - 1) * size:number * size]})


def body_of(call: Call[AccountState]) -> dict[str, Any]:
    if not isinstance(call.body, dict):
        raise call.refuse(cin7_error(400, "The request body is not a JSON object"), 400)
    return call.body


@kit.api.get("/ref/productavailability")
def availability(call: Call[AccountState] = kit.call) -> Response:
    sku, place = call.query.get("Sku"), call.query.get("Location")
    with call.state.lock:
        return page(call, "ProductAvailabilityList", [row for row in call.state.rows() if (not sku or row["SKU"] == sku)
                                                      and (not place or row["Location"] == place)])


@kit.api.get("/product")
def products(call: Call[AccountState] = kit.call) -> Response:
    sku = call.query.get("Sku")
    with call.state.lock:
        return page(call, "Products", [p for p in call.state.products.values() if not sku or p["SKU"] == sku])


@kit.api.put("/product")
def update_product(call: Call[AccountState] = kit.call) -> Response:
    body = body_of(call)
    with call.state.lock:
        product = call.state.products.get(str(body.get("ID")))
        if product is None:
            raise call.refuse(cin7_error(400, f"Product with ID {body.get('ID')} not found"), 400)
        unknown = [name for name in body if name not in product]
        if unknown:
            raise call.refuse(cin7_error(400, f"Unknown field {unknown[0]}"), 400)
        product.update(body)
        product["LastModifiedOn"] = call.state.now().isoformat()
        return call.reply({"Products": [product]})


@kit.api.get("/ref/location")
def locations(call: Call[AccountState] = kit.call) -> Response:
    with call.state.lock:
        return page(call, "LocationList", list(call.state.locations.values()))


@kit.api.get("/purchaseList")
def purchase_list(call: Call[AccountState] = kit.call) -> Response:
    search = (call.query.get("Search") or "").lower()
    with call.state.lock:
        rows = [{k: p.get(k) for k in ("ID", "OrderNumber", "Status", "Supplier", "SupplierID", "RequiredBy")}
                for p in call.state.purchases.values()]
        return page(call, "PurchaseList", [row for row in rows if not search or any(
            search in str(row.get(k) or "").lower() for k in ("OrderNumber", "Supplier", "Status"))])


@kit.api.get("/purchase")
def purchase(call: Call[AccountState] = kit.call) -> Response:
    with call.state.lock:
        found = call.state.purchases.get(call.query.get("ID", ""))
        if found is None:
            raise call.refuse(cin7_error(400, f"Purchase with ID {call.query.get('ID')} not found"), 400)
        return call.reply(found)


@kit.api.post("/purchase")
def create_purchase(call: Call[AccountState] = kit.call) -> Response:
    state, body = call.state, body_of(call)
    with state.lock:
        supplier = str(body.get("SupplierID") or "")
        if supplier not in state.suppliers:
            supplier = next((sid for sid, name in state.suppliers.items() if name == body.get("Supplier")), "")
        if not supplier:
            raise call.refuse(cin7_error(400, "Supplier not found"), 400)
        if body.get("Approach", "INVOICE") not in ("INVOICE", "STOCK"):
            raise call.refuse(cin7_error(400, "Approach should be INVOICE or STOCK"), 400)
        number = body.get("OrderNumber") or f"PO-{next(state.numbers):05d}"
        if any(p["OrderNumber"] == number for p in state.purchases.values()):
            raise call.refuse(cin7_error(400, f"Order number {number} already exists"), 400)
        location = body.get("Location") or next(iter(state.locations), "")
        if location not in state.locations:
            raise call.refuse(cin7_error(400, f"Location {location} not found"), 400)
        made = {**body, "ID": new_id(), "OrderNumber": number, "Status": "DRAFT", "SupplierID": supplier,
                "Supplier": state.suppliers[supplier], "Location": location, "Order": {"Status": "NOT AVAILABLE",
                                                                                        "Lines": []},
                "StockReceived": {"Status": "NOT AVAILABLE", "Lines": []}}
        state.purchases[made["ID"]] = made
        return call.reply(made)


@kit.api.post("/purchase/order")
def purchase_order(call: Call[AccountState] = kit.call) -> Response:
    state, body = call.state, body_of(call)
    with state.lock:
        made = state.purchases.get(str(body.get("TaskID")))
        if made is None:
            raise call.refuse(cin7_error(400, f"Purchase with TaskID {body.get('TaskID')} not found"), 400)
        if made["Order"]["Lines"]:
            raise call.refuse(cin7_error(400, "Order already exists for this purchase; use PUT to change it"), 400)
        lines = body.get("Lines") or []
        if not lines or any(str(line.get("ProductID")) not in state.products or float(line.get("Quantity") or 0) <= 0
                            for line in lines):
            raise call.refuse(cin7_error(400, "Lines must name known products with a positive Quantity"), 400)
        if body.get("Status") not in ("DRAFT", "AUTHORISED"):
            raise call.refuse(cin7_error(400, "Status should be DRAFT or AUTHORISED"), 400)
        made["Order"] = {"Status": body["Status"], "Memo": body.get("Memo"), "Lines": lines}
        if body["Status"] == "AUTHORISED":
            made["Status"] = "ORDERED"
        return call.reply({"TaskID": made["ID"], **made["Order"]})


@kit.api.get("/webhooks")
def webhooks(call: Call[AccountState] = kit.call) -> Response:
    with call.state.lock:
        return call.reply({"Webhooks": list(call.state.hooks)})


def checked(call: Call[AccountState], body: dict[str, Any]) -> dict[str, Any]:
    if body.get("Type") not in WEBHOOK_TYPES:
        raise call.refuse(cin7_error(400, f"Unknown webhook type {body.get('Type')}"), 400)
    if not str(body.get("ExternalURL") or "").startswith(("http://", "https://")):
        raise call.refuse(cin7_error(400, "ExternalURL is required"), 400)
    if body.get("ExternalAuthorizationType", "noauth") not in ("noauth", "basicauth", "bearerauth"):
        raise call.refuse(cin7_error(400, "ExternalAuthorizationType should be noauth, basicauth or bearerauth"), 400)
    return {"IsActive": True, "ExternalAuthorizationType": "noauth", "ExternalHeaders": [], **body}


@kit.api.post("/webhooks")
def add_webhook(call: Call[AccountState] = kit.call) -> Response:
    state, body = call.state, checked(call, body_of(call))
    with state.lock:
        if sum(1 for hook in state.hooks if hook["Type"] == body["Type"]) >= 5:
            raise call.refuse(cin7_error(400, f"Maximum 5 webhooks of type {body['Type']} allowed"), 400)
        hook = {**body, "ID": new_id()}
        state.hooks.append(hook)
        return call.reply(hook)


@kit.api.put("/webhooks")
def update_webhook(call: Call[AccountState] = kit.call) -> Response:
    state, body = call.state, checked(call, body_of(call))
    with state.lock:
        hook = next((h for h in state.hooks if h["ID"] == body.get("ID")), None)
        if hook is None:
            raise call.refuse(cin7_error(400, f"Webhook {body.get('ID')} not found"), 400)
        hook.update(body)
        return call.reply(hook)

