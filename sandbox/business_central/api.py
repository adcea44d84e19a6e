"""Business Central API endpoints: items, locations, vendors, purchase orders and their lines, posted
purchase receipts (API v2.0) and item ledger entries (Analytics API v1.0), each an OData collection.

Resource shapes and create bodies follow the v2.0 reference
(https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/ :
``resources/dynamics_item``, ``…_location``, ``…_vendor``, ``…_purchaseorder``, ``…_purchaseorderline``,
``…_purchasereceipt``, ``…_purchasereceiptline``; ``api/dynamics_purchaseorder_create``,
``api/dynamics_purchaseorderline_create``) and the Analytics API's item ledger entry
(https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-analytics/api/dynamics_itemledgerentry_get).
``$expand=purchaseOrderLines`` / ``purchaseReceiptLines`` inline the lines. Refusals (**assumed**
wording, codes from the error-code table): a purchase order ``number`` while the number series takes
no manual numbers → 400 ``Application_DialogException`` "You may not enter numbers manually…"; a
number already used → 400 ``Internal_EntityWithSameKeyExists``; an unknown vendor → 400
``Internal_RecordNotFound``; a line for an unknown item → 400 ``Internal_InvalidTableRelation``.
An item changed in Business Central's own pages is ``_admin/notify`` (``admin``).
"""
from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from sandbox.business_central.company import CompanyState, company, error, guid, kit, pages, stamp
from sandbox.kit import Call

V2 = "/v2.0/companies({company_id})"
ITEM_FIELDS = ("id", "number", "displayName", "type", "blocked", "inventory", "unitCost", "lastModifiedDateTime")
ENTRY_FIELDS = ("entryNo", "itemNo", "locationCode", "postingDate", "entryType", "documentNo", "quantity",
                "remainingQuantity", "open", "positive")
ORDER_FIELDS = ("id", "number", "vendorNumber", "vendorName", "orderDate", "requestedReceiptDate", "status",
                "fullyReceived", "lastModifiedDateTime")


def context(call: Call[CompanyState], entity: str) -> str:
    return f"{str(call.request.base_url).rstrip('/')}/$metadata#companies({call.state.company_id})/{entity}"


def bad(call: Call[CompanyState], code: str, message: str, status: int = 400) -> Exception:
    return call.refuse(error(code, message), status)


@kit.api.get(V2 + "/items")
def list_items(company_id: str, call: Call[CompanyState] = kit.call) -> Response:
    company(call, company_id)
    with call.state.lock:
        rows = [call.state.render_item(i) for i in call.state.items.values()]
    return pages.answer(call, rows, ITEM_FIELDS, context=context(call, "items"))


@kit.api.get(V2 + "/locations")
def list_locations(company_id: str, call: Call[CompanyState] = kit.call) -> Response:
    company(call, company_id)
    return pages.answer(call, list(call.state.locations), ("id", "code", "displayName"),
                        context=context(call, "locations"))


@kit.api.get(V2 + "/vendors")
def list_vendors(company_id: str, call: Call[CompanyState] = kit.call) -> Response:
    company(call, company_id)
    return pages.answer(call, list(call.state.vendors.values()), ("id", "number", "displayName"),
                        context=context(call, "vendors"))


@kit.api.get("/microsoft/analytics/v1.0/companies({company_id})/itemLedgerEntries")
def list_entries(company_id: str, call: Call[CompanyState] = kit.call) -> Response:
    company(call, company_id)
    with call.state.lock:
        rows = [dict(e) for e in call.state.ledger]
    return pages.answer(call, rows, ENTRY_FIELDS, context=context(call, "itemLedgerEntries"))


def with_lines(record: dict[str, Any], key: str, expand: str | None) -> dict[str, Any]:
    shown = {k: v for k, v in record.items() if k != key}
    return {**shown, key: [dict(line) for line in record[key]]} if key in (expand or "").split(",") else shown


@kit.api.get(V2 + "/purchaseOrders")
def list_orders(company_id: str, call: Call[CompanyState] = kit.call) -> Response:
    company(call, company_id)
    with call.state.lock:
        rows = [dict(o) for o in call.state.orders.values()]
    return pages.answer(call, rows, ORDER_FIELDS, lambda o: with_lines(o, "purchaseOrderLines", call.query.get(
        "$expand")), context(call, "purchaseOrders"))


@kit.api.post(V2 + "/purchaseOrders")
def create_order(company_id: str, call: Call[CompanyState] = kit.call) -> Response:
    company(call, company_id)
    state, body = call.state, call.body if isinstance(call.body, dict) else None
    if body is None:
        raise bad(call, "BadRequest", "Invalid Request Body")
    with state.lock:
        vendor = state.vendors.get(str(body.get("vendorNumber") or "")) or next(
            (v for v in state.vendors.values() if v["id"] == body.get("vendorId")), None)
        if not (body.get("vendorNumber") or body.get("vendorId")):
            raise bad(call, "Application_DialogException", "A vendorNumber or a vendorId must be provided.")
        if vendor is None:
            raise bad(call, "Internal_RecordNotFound", f"The Vendor does not exist. Identification fields and values: "
                      f"No.='{body.get('vendorNumber') or body.get('vendorId')}'")
        number = str(body.get("number") or "")
        if number and not state.manual_po_numbers:
            raise bad(call, "Application_DialogException", "You may not enter numbers manually. If you want to enter "
                      "numbers manually, please activate Manual Nos. in No. Series P-ORD.")
        number = number or f"106{len(state.orders) + 1:03d}"
        if any(o["number"] == number for o in state.orders.values()):
            raise bad(call, "Internal_EntityWithSameKeyExists", f"The Purchase Header already exists. Identification "
                      f"fields and values: Document Type='Order',No.='{number}'")
        order = {"@odata.etag": state.etag(), "id": guid(state.name, "po", number), "number": number,
                 "orderDate": state.now().date().isoformat(), "vendorId": vendor["id"],
                 "vendorNumber": vendor["number"], "vendorName": vendor["displayName"],
                 "requestedReceiptDate": body.get("requestedReceiptDate"), "status": "Draft", "fullyReceived": False,
                 "lastModifiedDateTime": stamp(state.now()), "purchaseOrderLines": []}
        state.orders[order["id"]] = order
        shown = with_lines(order, "purchaseOrderLines", None)
    return call.reply(shown, 201)


@kit.api.post(V2 + "/purchaseOrders({order_id})/purchaseOrderLines")
def create_line(company_id: str, order_id: str, call: Call[CompanyState] = kit.call) -> Response:
    company(call, company_id)
    state, body = call.state, call.body if isinstance(call.body, dict) else {}
    with state.lock:
        order = state.orders.get(order_id)
        if order is None:
            raise bad(call, "Internal_RecordNotFound", f"The Purchase Header does not exist. Identification fields "
                      f"and values: Id='{order_id}'", 404)
        item = state.items.get(str(body.get("lineObjectNumber") or ""))
        if body.get("lineType") != "Item" or item is None:
            raise bad(call, "Internal_InvalidTableRelation", f"The field No. of table Purchase Line contains a value "
                      f"({body.get('lineObjectNumber')}) that cannot be found in the related table (Item).")
        location = next((loc["code"] for loc in state.locations if loc["id"] == body.get("locationId")), None)
        position = len(order["purchaseOrderLines"])
        line = {"@odata.etag": state.etag(), "id": guid(state.name, "pol", order_id, str(position)),
                "documentId": order_id, "sequence": 10000 * (position + 1),
                "itemId": item["id"], "lineType": "Item", "lineObjectNumber": item["number"],
                "description": item["displayName"], "quantity": body.get("quantity", 0),
                "directUnitCost": body.get("directUnitCost", item["unitCost"]),
                "expectedReceiptDate": body.get("expectedReceiptDate"), "receivedQuantity": 0,
                "locationId": body.get("locationId"), "locationCode": location or ""}
        order["purchaseOrderLines"].append(line)
    return call.reply({k: v for k, v in line.items() if k != "locationCode"}, 201)


@kit.api.get(V2 + "/purchaseReceipts")
def list_receipts(company_id: str, call: Call[CompanyState] = kit.call) -> Response:
    company(call, company_id)
    with call.state.lock:
        rows = [dict(r) for r in call.state.receipts]
    return pages.answer(call, rows, ("id", "number", "orderNumber", "vendorNumber", "postingDate",
                                     "lastModifiedDateTime"),
                        lambda r: with_lines(r, "purchaseReceiptLines", call.query.get("$expand")),
                        context(call, "purchaseReceipts"))
