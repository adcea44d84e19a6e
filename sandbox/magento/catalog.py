"""Magento's catalog and stock routes: products, the legacy stock items and statuses, MSI's
sources, source items and salable quantity, and the admin token.

Routes and ACL resources as the ``webapi.xml`` of ``Magento_CatalogInventory``
(https://github.com/magento/magento2/blob/2.4-develop/app/code/Magento/CatalogInventory/etc/webapi.xml),
``Magento_InventoryApi`` and ``Magento_InventorySalesApi``
(https://github.com/magento/inventory/blob/develop/InventoryApi/etc/webapi.xml) declare them; the
admin token as https://developer.adobe.com/commerce/webapi/get-started/authentication/gs-authentication-token/
describes it. ``GET /V1/products`` carries no ``stock_item`` (only one product read does:
https://github.com/magento/magento2/issues/36533).
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.errors import message_error
from sandbox.magento.store import (NO_PRODUCT, NO_SKU, StoreState, inventory, kit, pages, product_json,
                                   route, stock_item_event, stock_item_json, webhooks)

PRODUCTS = "Magento_Catalog::products"
STOCK = "Magento_CatalogInventory::cataloginventory"
SOURCES = "Magento_InventoryApi::source"
REQUIRED = '"%fieldName" is required. Enter and try again.'
EDITABLE = ("qty", "is_in_stock", "backorders", "use_config_backorders", "manage_stock", "use_config_manage_stock")


def known(call: Call[StoreState], sku: str, message: str = NO_SKU) -> dict[str, Any]:
    product = call.state.product(sku)
    if product is None:
        raise message_error(call, message, [sku] if "%1" in message else None, 404)
    return product


def required(call: Call[StoreState], name: str) -> Any:
    body = call.body if isinstance(call.body, dict) else {}
    if body.get(name) is None:
        raise message_error(call, REQUIRED, {"fieldName": name})
    return body[name]


@route("POST", "/integration/admin/token", None)
def admin_token(store: str, call: Call[StoreState] = kit.call) -> Response:
    """A JSON string valid ``token_lifetime_h`` hours on the store's clock; a wrong login is 401."""
    body, state = call.body if isinstance(call.body, dict) else {}, call.state
    if not body.get("username") or state.admins.get(str(body["username"])) != body.get("password"):
        raise message_error(call, "The account sign-in was incorrect or your account is disabled temporarily. "
                          "Please wait and try again later.", status=401)
    token = secrets.token_hex(16)
    state.admin_tokens[token] = state.now() + timedelta(hours=state.token_lifetime_h)
    return call.reply(token)


@route("GET", "/products", PRODUCTS)
def list_products(store: str, call: Call[StoreState] = kit.call) -> Response:
    with call.state.lock:
        return pages.answer(call, list(call.state.products.values()), product_json)


@route("GET", "/products/{sku}", PRODUCTS)
def read_product(store: str, sku: str, call: Call[StoreState] = kit.call) -> Response:
    product = known(call, sku, NO_PRODUCT)
    body = product_json(product)
    body["extension_attributes"]["stock_item"] = stock_item_json(call.state, product)
    return call.reply(body)


@route("GET", "/stockItems/lowStock", STOCK)
def low_stock(store: str, call: Call[StoreState] = kit.call) -> Response:
    """Stock items at or under ``qty`` (``scopeId`` and ``qty`` required), ``currentPage`` /
    ``pageSize`` (0: all) as ``StockItemCriteria::setLimit``."""
    query, state = call.query, call.state
    for name in ("scopeId", "qty"):
        if name not in query:
            raise message_error(call, REQUIRED, {"fieldName": name})
    with state.lock:
        items = [stock_item_json(state, p) for p in state.products.values() if state.qty(p) <= float(query["qty"])]
    page, size = int(query.get("currentPage", 1)), int(query.get("pageSize", 0))
    chosen = items[(page - 1) * size: page * size] if size else items
    return call.reply({"items": chosen, "search_criteria": {"criteria_list": [], "limit": [page, size]},
                       "total_count": len(items)})


@route("GET", "/stockItems/{sku}", STOCK)
def read_stock_item(store: str, sku: str, call: Call[StoreState] = kit.call) -> Response:
    return call.reply(stock_item_json(call.state, known(call, sku)))


@route("GET", "/stockStatuses/{sku}", None)
def read_stock_status(store: str, sku: str, call: Call[StoreState] = kit.call) -> Response:
    product, state = known(call, sku), call.state
    item = stock_item_json(state, product)
    return call.reply({"product_id": product["entity_id"], "stock_id": 1, "qty": item["qty"],
                       "stock_status": int(item["is_in_stock"]), "stock_item": item})


@route("PUT", "/products/{sku}/stockItems/{item_id}", STOCK)
def update_stock_item(store: str, sku: str, item_id: str, call: Call[StoreState] = kit.call) -> Response:
    """``updateStockItemBySku``: the SKU and the body decide (the path's item id is not read);
    answers the item id; the store's observer posts ``stock_item.updated``."""
    product, item = known(call, sku), required(call, "stockItem")
    state = call.state
    with state.lock:
        changes = {k: (float(v) if k == "qty" else v) for k, v in item.items() if k in EDITABLE}
        if "backorders" in changes and "use_config_backorders" not in changes:
            changes["use_config_backorders"] = False
        saved, shown = state.set_stock(product, **changes), stock_item_event(state, product)
    webhooks.deliver(state, "stock_item.updated", {"items": [shown]})
    return call.reply(saved["item_id"])


@route("GET", "/inventory/sources", SOURCES)
def list_sources(store: str, call: Call[StoreState] = kit.call) -> Response:
    return pages.answer(call, inventory(call).sources)


@route("GET", "/inventory/get-sources-assigned-to-stock-ordered-by-priority/{stock_id}", SOURCES)
def stock_sources(store: str, stock_id: int, call: Call[StoreState] = kit.call) -> Response:
    codes = inventory(call).stock_sources.get(stock_id, [])
    return call.reply([s for code in codes for s in call.state.sources if s["source_code"] == code])


@route("GET", "/inventory/source-items", SOURCES)
def list_source_items(store: str, call: Call[StoreState] = kit.call) -> Response:
    with inventory(call).lock:
        return pages.answer(call, list(call.state.source_items.values()))


@route("POST", "/inventory/source-items", "Magento_InventoryApi::stock_source_item_assign")
def save_source_items(store: str, call: Call[StoreState] = kit.call) -> Response:
    """``SourceItemsSaveInterface``: every item names a known SKU and source; answers ``[]``."""
    state, items = inventory(call), required(call, "sourceItems")
    codes = {s["source_code"] for s in state.sources}
    with state.lock:
        for item in items:
            if item.get("source_code") not in codes or state.product(str(item.get("sku"))) is None:
                raise message_error(call, "Validation Failed", status=400)
        saved = [state.set_source(i["sku"], i["source_code"], float(i["quantity"]), int(i.get("status", 1)))
                 for i in items]
    webhooks.deliver(state, "source_items.updated", {"items": saved})
    return call.reply([])


@route("GET", "/inventory/get-product-salable-quantity/{sku}/{stock_id}", "Magento_InventorySalesApi::stock")
def salable_quantity(store: str, sku: str, stock_id: int, call: Call[StoreState] = kit.call) -> Response:
    state = inventory(call)
    known(call, sku)
    return call.reply(state.salable(sku, stock_id))
