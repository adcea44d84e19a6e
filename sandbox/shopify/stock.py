"""Shopify's catalog and stock endpoints: products, locations, inventory levels, orders, variants.

``inventory_levels.json`` needs ``inventory_item_ids`` or ``location_ids``, at most 50 ids each
(https://shopify.dev/docs/api/admin-rest/latest/resources/inventorylevel);
``inventory_levels/set.json`` sets ``available`` at a location the item is stocked at (the main one,
or an added one it was connected to; elsewhere 422)
(https://shopify.dev/docs/api/admin-rest/latest/resources/inventorylevel);
a variant's ``inventory_policy`` is ``deny`` or ``continue``
(https://shopify.dev/docs/api/admin-rest/latest/resources/product-variant).
"""
from __future__ import annotations

from fastapi.responses import Response

from sandbox.kit import (Call, Collection, Filter, IdLists, Json, Rule, answers, changed_since, found, given, ids,
                         is_object, one_of, positions, since_id)
from sandbox.shopify import shop
from sandbox.shopify.shop import REFUSALS, ShopState, api, kit

#: ``inventory_levels.json`` needs ``inventory_item_ids`` or ``location_ids``, at most 50 ids each.
LEVEL_IDS = IdLists(("inventory_item_ids", "location_ids"), most=50, required=True)
products = Collection("products", shop.pages, keys=lambda call: range(call.state.total), get=ShopState.get,
                      render=shop.product_json,
                      filters=(changed_since("updated_at_min", lambda v, q: shop.parse_ts(v)),))
orders = Collection(
    "orders", shop.pages, positions("orders", shop.ORDER_ID_BASE), ShopState.find_order,
    filters=(shop.updated_since, ids(), since_id(), Filter("status", default="open", test=lambda order, status: (
        status == "any" or (status == "open" and not order["cancelled_at"])))))
SET_LEVEL = shop.schema(
    Rule("available", given, [shop.MISSING_PARAM], 400, field="inventory_item_id"),
    Rule("inventory_item_id", given, [shop.MISSING_PARAM], 400),
    Rule("location_id", lambda value, body, state: int(body.get("location_id") or 0) == state.location_id or
         state.locations.stocked(int(body.get("location_id") or 0), int(body["inventory_item_id"]) - shop.ITEM_ID_BASE),
         ["Inventory item does not have inventory tracking enabled at the location"], field=""))
UPDATE_VARIANT = shop.schema(
    Rule("variant", is_object, shop.MISSING_PARAM, 400),
    Rule("variant.inventory_policy", one_of(("deny", "continue"), allow_null=True), ["is not included in the list"],
         field="inventory_policy"))
products.listing(kit, "/products.json")
orders.listing(kit, "/orders.json")


api.many("/locations.json", "locations", lambda state: [shop.fixtures.fill(
    "location", id=location, name=f"Location {n + 1}" if n else "Warehouse")
    for n, location in enumerate(state.locations.all(state.location_id))])


def level_for_key(state: ShopState, key: int) -> Json:
    """The level behind a sort key of ``inventory_levels.json``: an item's at the main location, or
    one at an added location (``sandbox.kit.locations``)."""
    location, index, available, updated_at = state.locations.at(key) or (None, key, None, None)
    return shop.level_json(state, state.get(index), location, available, updated_at)


@answers(kit.api.get("/inventory_levels.json"), REFUSALS)
def list_levels(call: Call[ShopState] = kit.call) -> Response:
    state, cursor = call.state, shop.pages.open(call, "inventory_levels")
    lists = LEVEL_IDS.read(cursor.filters)
    item_ids = lists["inventory_item_ids"]
    wanted = {int(x) - shop.ITEM_ID_BASE for x in item_ids if x.isdigit()} if item_ids else None
    seq = state.locations.level_keys(
        state.location_id, lambda when: state.changed(range(state.total), when),
        state.total, lists["location_ids"], wanted, shop.parse_ts(cursor.filters.get("updated_at_min") or ""))
    return shop.pages.answer(call, "inventory_levels", seq, lambda key: level_for_key(state, key), cursor)


@answers(kit.api.post("/inventory_levels/set.json"), REFUSALS)
def set_level(call: Call[ShopState] = kit.call) -> Json:
    SET_LEVEL.enforce(call, call.body)
    item = found(call.state.get(int(call.body["inventory_item_id"]) - shop.ITEM_ID_BASE), "inventory_item")
    location, available, now = int(call.body["location_id"]), int(call.body["available"]), call.state.now()
    if location != call.state.location_id:  # an added location the item is stocked at
        placed = call.state.locations.place(location, item["index"], available, now)
        return {"inventory_level": call.emit("inventory_levels/update", shop.level_json(
            call.state, item, location, placed, now))}
    item = shop.change_item(call.state, item, now, available=available)
    return {"inventory_level": call.emit("inventory_levels/update", shop.level_json(call.state, item))}


@answers(kit.api.put("/variants/{variant_id}.json"), REFUSALS)
def update_variant(variant_id: int, call: Call[ShopState] = kit.call) -> Json:
    UPDATE_VARIANT.enforce(call, call.body)
    variant, item = call.body["variant"], found(call.state.get(variant_id - shop.VARIANT_ID_BASE), "variant")
    item = shop.change_item(call.state, item, call.state.now(), sku=variant.get("sku", item["sku"]),
                            policy=variant.get("inventory_policy") or item["policy"])
    call.emit("products/update", shop.product_json(item))
    return {"variant": shop.variant_json(item)}
