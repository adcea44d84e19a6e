"""Shopify's catalog and stock endpoints: products, locations, inventory levels, orders, variants.

``inventory_levels.json`` needs ``inventory_item_ids`` or ``location_ids``, at most 50 ids each
(https://shopify.dev/docs/api/admin-rest/latest/resources/inventorylevel);
``inventory_levels/set.json`` sets ``available`` at a location
(https://shopify.dev/docs/api/admin-rest/latest/resources/inventorylevel);
a variant's ``inventory_policy`` is ``deny`` or ``continue``
(https://shopify.dev/docs/api/admin-rest/latest/resources/product-variant).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.shopify.shop import (
    ITEM_ID_BASE,
    VARIANT_ID_BASE,
    ShopState,
    deliver_all,
    errors,
    kit,
    level_for_key,
    level_json,
    not_found,
    pages,
    parse_ts,
    product_json,
    variant_json,
)

#: ``inventory_levels.json`` takes at most 50 ids in ``inventory_item_ids`` and in ``location_ids``.
MAX_IDS_PER_LIST = 50


@kit.api.get("/products.json")
def list_products(call: Call[ShopState] = kit.call) -> Response:
    cursor = pages.open(call, "products")
    since = parse_ts(cursor.filters["updated_at_min"]) if cursor.filters.get("updated_at_min") else None
    state = call.state
    with state.lock:
        seq = state.indices_updated_since(since)
        return pages.answer(call, "products", seq, lambda i: product_json(state.item(i)), cursor)


@kit.api.get("/locations.json")
def list_locations(call: Call[ShopState] = kit.call) -> Response:
    return call.reply({"locations": [
        {"id": location, "name": "Warehouse" if n == 0 else f"Location {n + 1}", "active": True,
         "legacy": False, "country_code": "US"} for n, location in enumerate(call.state.location_ids())]})


@kit.api.get("/inventory_levels.json")
def list_levels(call: Call[ShopState] = kit.call) -> Response:
    cursor = pages.open(call, "inventory_levels")
    filters = cursor.filters
    item_ids = [x for x in str(filters.get("inventory_item_ids", "")).split(",") if x]
    location_ids = [x for x in str(filters.get("location_ids", "")).split(",") if x]
    if not item_ids and not location_ids:
        raise call.refuse(errors({"base": ["inventory_item_ids or location_ids must be present"]}), 422)
    for name, ids in (("inventory_item_ids", item_ids), ("location_ids", location_ids)):
        if len(ids) > MAX_IDS_PER_LIST:
            raise call.refuse(errors({name: [f"must have at most {MAX_IDS_PER_LIST} ids"]}), 422)
    since = parse_ts(filters["updated_at_min"]) if filters.get("updated_at_min") else None
    wanted = {int(x) - ITEM_ID_BASE for x in item_ids if x.isdigit()} if item_ids else None
    state = call.state
    with state.lock:
        if location_ids and str(state.location_id) not in location_ids:
            seq: Sequence[int] = []
        else:
            seq = state.indices_updated_since(since)
            if wanted is not None:
                seq = sorted(i for i in wanted if 0 <= i < state.total and (since is None or i in seq))
        elsewhere = state.extra_level_keys(set(location_ids), wanted, since)
        if elsewhere:
            seq = [*seq, *elsewhere]
        return pages.answer(call, "inventory_levels", seq, lambda key: level_for_key(state, key), cursor)


@kit.api.get("/orders.json")
def list_orders(call: Call[ShopState] = kit.call) -> Response:
    cursor = pages.open(call, "orders")
    since = parse_ts(cursor.filters["updated_at_min"]) if cursor.filters.get("updated_at_min") else None
    status = cursor.filters.get("status", "open")
    state = call.state
    with state.lock:
        seq = [n for n, o in enumerate(state.orders)
               if (since is None or parse_ts(o["updated_at"]) >= since)
               and (status == "any" or (status == "open" and not o["cancelled_at"]))]
        return pages.answer(call, "orders", seq, lambda n: state.orders[n], cursor)


@kit.api.post("/inventory_levels/set.json")
def set_level(call: Call[ShopState] = kit.call) -> Response:
    payload: Any = call.body
    state = call.state
    if not isinstance(payload, dict) or "available" not in payload or "inventory_item_id" not in payload:
        raise call.refuse(errors({"inventory_item_id": ["Required parameter missing or invalid"]}), 400)
    if int(payload.get("location_id") or 0) != state.location_id:
        raise call.refuse(errors(["Inventory item does not have inventory tracking enabled at the location"]), 422)
    with state.lock:
        item = state.item(int(payload["inventory_item_id"]) - ITEM_ID_BASE)
        if item is None:
            raise not_found(call)
        item = replace(item, available=int(payload["available"]), updated_at=state.now())
        state.store(item)
        level = level_json(state, item)
    deliver_all(state, call, [("inventory_levels/update", level)])
    return call.reply({"inventory_level": level})


@kit.api.put("/variants/{variant_id}.json")
def update_variant(variant_id: int, call: Call[ShopState] = kit.call) -> Response:
    variant = call.body.get("variant") if isinstance(call.body, dict) else None
    if not isinstance(variant, dict):
        raise call.refuse(errors({"variant": "Required parameter missing or invalid"}), 400)
    policy = variant.get("inventory_policy")
    if policy is not None and policy not in ("deny", "continue"):
        raise call.refuse(errors({"inventory_policy": ["is not included in the list"]}), 422)
    state = call.state
    with state.lock:
        item = state.item(variant_id - VARIANT_ID_BASE)
        if item is None:
            raise not_found(call)
        item = replace(item, policy=policy or item.policy, sku=variant.get("sku", item.sku), updated_at=state.now())
        state.store(item)
        product = product_json(item)
    deliver_all(state, call, [("products/update", product)])
    return call.reply({"variant": variant_json(item)})
