"""The Inventory API endpoints the Zoho Inventory stand-in serves under ``/inventory/v1``, and the
accounts host's token endpoint (https://www.zoho.com/inventory/api/v1/items/ ,
https://www.zoho.com/inventory/api/v1/purchase-order/ , https://www.zoho.com/inventory/api/v1/oauth/).

Lists page by ``page`` / ``per_page`` (≤ 200, default 200) with ``page_context.has_more_page``;
``GET items`` filters by ``sku`` and ``last_modified_time`` (strictly after) and answers item
summaries without per-location figures; ``GET items/{id}`` is the item with ``locations[]`` (or
``warehouses[]``) and ``custom_fields[]``; ``PUT item/{id}/customfields`` takes
``[{"customfield_id", "value"}]``; ``GET purchaseorders`` filters by ``reference_number``;
``POST purchaseorders`` needs a known ``vendor_id``, lines with known ``item_id`` and, with
``ignore_auto_number_generation=true``, a ``purchaseorder_number`` not used yet.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sandbox.kit import Call
from sandbox.zoho_inventory.org import OrgState, kit, zoho_error

SUMMARY = ("item_id", "name", "sku", "status", "product_type", "track_inventory", "stock_on_hand",
           "available_stock", "reorder_level", "last_modified_time")


def page(call: Call[OrgState], key: str, rows: list[dict[str, Any]]) -> Response:
    try:
        number, size = int(call.query.get("page", 1)), int(call.query.get("per_page", 200))
    except ValueError:
        raise call.refuse(zoho_error(2, "Invalid value passed for page"), 400) from None
    if not 1 <= size <= 200:
        raise call.refuse(zoho_error(2, "Invalid value passed for per_page"), 400)
    chunk = rows[(number - 1) * size:number * size]
    return call.reply({"code": 0, "message": "success", key: chunk, "page_context": {
        "page": number, "per_page": size, "has_more_page": number * size < len(rows)}})


def found(call: Call[OrgState], item_id: str) -> dict[str, Any]:
    item = call.state.items.get(item_id)
    if item is None:
        raise call.refuse(zoho_error(1002, "Item does not exist."), 404)
    return item


@kit.api.get("/items")
def items(call: Call[OrgState] = kit.call) -> Response:
    after, sku = call.query.get("last_modified_time"), call.query.get("sku")
    with call.state.lock:
        rows = [{k: item.get(k) for k in SUMMARY} for item in call.state.items.values()
                if (not sku or item["sku"] == sku) and (not after or item["last_modified_time"] > after)]
        if call.query.get("sort_column") == "last_modified_time":
            rows.sort(key=lambda row: row["last_modified_time"])
        return page(call, "items", rows)


@kit.api.get("/items/{item_id}")
def item(item_id: str, call: Call[OrgState] = kit.call) -> Response:
    with call.state.lock:
        shown = {k: v for k, v in found(call, item_id).items() if k != "stock"}
        return call.reply({"code": 0, "message": "success", "item": shown})


@kit.api.put("/item/{item_id}/customfields")
def custom_fields(item_id: str, call: Call[OrgState] = kit.call) -> Response:
    state, body = call.state, call.body
    with state.lock:
        item = found(call, item_id)
        if not isinstance(body, list) or not body:
            raise call.refuse(zoho_error(2, "Invalid value passed for custom_fields"), 400)
        for given in body:
            label = state.custom_fields.get(str(given.get("customfield_id")))
            if label is None:
                raise call.refuse(zoho_error(1041, "Invalid custom field."), 400)
            field = next(f for f in item["custom_fields"] if f["customfield_id"] == given["customfield_id"])
            field["value"] = given.get("value")
        state.touch(item)
    return call.reply({"code": 0, "message": "Custom Fields Updated Successfully"})


@kit.api.get("/locations")
def locations(call: Call[OrgState] = kit.call) -> Response:
    with call.state.lock:
        first = next(iter(call.state.locations), None)
        return call.reply({"code": 0, "message": "success", "locations": [
            {"location_id": where, "location_name": name, "status": "active", "is_primary": where == first}
            for where, name in call.state.locations.items()]})


@kit.api.get("/purchaseorders")
def purchaseorders(call: Call[OrgState] = kit.call) -> Response:
    reference = call.query.get("reference_number")
    with call.state.lock:
        return page(call, "purchaseorders", [po for po in call.state.purchaseorders.values()
                                             if not reference or po["reference_number"] == reference])


@kit.api.post("/purchaseorders")
def create_purchaseorder(call: Call[OrgState] = kit.call) -> Response:
    state, body = call.state, call.body if isinstance(call.body, dict) else {}
    with state.lock:
        if str(body.get("vendor_id")) not in state.vendors:
            raise call.refuse(zoho_error(4, "Vendor does not exist."), 400)
        lines = body.get("line_items") or []
        if not lines or any(str(line.get("item_id")) not in state.items for line in lines):
            raise call.refuse(zoho_error(1002, "Item does not exist."), 400)
        number = body.get("purchaseorder_number")
        if call.query.get("ignore_auto_number_generation") == "true":
            if not number:
                raise call.refuse(zoho_error(4, "Purchase Order# is mandatory."), 400)
            if any(po["purchaseorder_number"] == number for po in state.purchaseorders.values()):
                raise call.refuse(zoho_error(4024, "Purchase Order number already exists."), 400)
        else:
            number = f"PO-{len(state.purchaseorders) + 1:05d}"
        po = {**body, "purchaseorder_id": state.new_id(), "purchaseorder_number": number, "status": "issued",
              "reference_number": body.get("reference_number", ""), "line_items": [
                  {**line, "line_item_id": state.new_id(), "quantity_received": 0} for line in lines]}
        state.purchaseorders[po["purchaseorder_id"]] = po
        return call.reply({"code": 0, "message": "Purchase Order has been created.", "purchaseorder": po}, 201)


def accounts() -> APIRouter:
    """The accounts host: ``POST /oauth/v2/token`` with the refresh-token grant in the query."""
    router = APIRouter(prefix="/zoho_inventory/{instance}/accounts")

    @router.post("/oauth/v2/token")
    def token(instance: str, request: Request) -> JSONResponse:
        state: OrgState = kit.instances(request.app).get(instance)
        asked = dict(request.query_params)
        with state.lock:
            state.token_requests += 1
            wanted = {k: state.credentials[k] for k in ("client_id", "client_secret", "refresh_token")}
            if asked.get("grant_type") != "refresh_token" or any(asked.get(k) != v for k, v in wanted.items()):
                return JSONResponse({"error": "invalid_code"})  # Zoho answers a refused grant 200
            access = f"1000.{secrets.token_hex(16)}"
            state.tokens[access] = time.time() + state.token_lifetime_s
        return JSONResponse({"access_token": access, "api_domain": "https://www.zohoapis.com",
                             "token_type": "Bearer", "expires_in": int(state.token_lifetime_s)})
    return router

