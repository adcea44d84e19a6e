"""Shopify's catalog and stock endpoints: products, locations, inventory levels, orders, variants.

``inventory_levels.json`` needs ``inventory_item_ids`` or ``location_ids``, at most 50 ids each
(https://shopify.dev/docs/api/admin-rest/latest/resources/inventorylevel);
``inventory_levels/set.json`` sets ``available`` at a location
(https://shopify.dev/docs/api/admin-rest/latest/resources/inventorylevel);
a variant's ``inventory_policy`` is ``deny`` or ``continue``
(https://shopify.dev/docs/api/admin-rest/latest/resources/product-variant).
"""
from __future__ import annotations

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.resources import Collection, Filter, ids, in_list, positions, since, since_id
from sandbox.kit.validation import Rule, given, is_object, one_of
from sandbox.shopify import shop
from sandbox.shopify.shop import ShopState, kit

#: ``inventory_levels.json`` takes at most 50 ids in ``inventory_item_ids`` and in ``location_ids``.
MAX_IDS_PER_LIST = 50
updated_since = since("updated_at_min", lambda record: shop.parse_ts(record["updated_at"]),
                      lambda value, query: shop.parse_ts(value))
products = Collection(
    "products", shop.pages, keys=lambda call: range(call.state.total), get=ShopState.item, render=shop.product_json,
    filters=(Filter("updated_at_min", narrow=lambda state, keys, when: state.indices_updated_since(when),
                    parse=lambda value, query: shop.parse_ts(value)),))
orders = Collection(
    "orders", shop.pages, positions("orders", shop.ORDER_ID_BASE), in_list("orders", shop.ORDER_ID_BASE),
    filters=(updated_since, ids(), since_id(), Filter("status", default="open", test=lambda order, status: status ==
                                                      "any" or (status == "open" and not order["cancelled_at"]))))
SET_LEVEL = shop.schema(
    Rule("available", given, [shop.MISSING_PARAM], 400, field="inventory_item_id"),
    Rule("inventory_item_id", given, [shop.MISSING_PARAM], 400),
    Rule("location_id", lambda value, body, state: int(body.get("location_id") or 0) == state.location_id,
         ["Inventory item does not have inventory tracking enabled at the location"], field=""))
UPDATE_VARIANT = shop.schema(
    Rule("variant", is_object, shop.MISSING_PARAM, 400),
    Rule("variant.inventory_policy", one_of(("deny", "continue"), allow_null=True), ["is not included in the list"],
         field="inventory_policy"))


products.listing(kit, "/products.json")
orders.listing(kit, "/orders.json")


@kit.api.get("/locations.json")
def list_locations(call: Call[ShopState] = kit.call) -> Response:
    return call.reply({"locations": [shop.fixtures.fill("location", id=location, name=f"Location {n + 1}" if n else
                                                        "Warehouse") for n, location in enumerate(call.state.location_ids())]})


def level_for_key(state: ShopState, key: int) -> dict:
    """The level behind a sort key of ``inventory_levels.json``: an item's at the main location, or
    one at an added location (``sandbox.kit.locations``)."""
    elsewhere = state.locations.at(key)
    if elsewhere is None:
        return shop.level_json(state, state.item(key))
    location, index, available, updated_at = elsewhere
    return shop.stocked_level_json(location, state.item(index), available, updated_at)


@kit.api.get("/inventory_levels.json")
def list_levels(call: Call[ShopState] = kit.call) -> Response:
    cursor = shop.pages.open(call, "inventory_levels")
    lists = {name: [x for x in str(cursor.filters.get(name, "")).split(",") if x]
             for name in ("inventory_item_ids", "location_ids")}
    if not any(lists.values()):
        raise call.refuse(shop.errors({"base": ["inventory_item_ids or location_ids must be present"]}), 422)
    for name, given_ids in lists.items():
        if len(given_ids) > MAX_IDS_PER_LIST:
            raise call.refuse(shop.errors({name: [f"must have at most {MAX_IDS_PER_LIST} ids"]}), 422)
    when = shop.parse_ts(cursor.filters.get("updated_at_min") or "")
    item_ids = lists["inventory_item_ids"]
    wanted = {int(x) - shop.ITEM_ID_BASE for x in item_ids if x.isdigit()} if item_ids else None
    state = call.state
    with state.lock:
        seq = state.locations.level_keys(state.location_id, state.indices_updated_since, state.total,
                                         lists["location_ids"], wanted, when)
        return shop.pages.answer(call, "inventory_levels", seq, lambda key: level_for_key(state, key), cursor)


@kit.api.post("/inventory_levels/set.json")
def set_level(call: Call[ShopState] = kit.call) -> Response:
    SET_LEVEL.enforce(call, call.body)
    state = call.state
    with state.lock:
        item = shop.change_item(call, int(call.body["inventory_item_id"]) - shop.ITEM_ID_BASE,
                                lambda item: {"available": int(call.body["available"])})
        level = shop.level_json(state, item)
    shop.deliver_all(state, call, [("inventory_levels/update", level)])
    return call.reply({"inventory_level": level})


@kit.api.put("/variants/{variant_id}.json")
def update_variant(variant_id: int, call: Call[ShopState] = kit.call) -> Response:
    UPDATE_VARIANT.enforce(call, call.body)
    variant = call.body["variant"]
    state = call.state
    with state.lock:
        item = shop.change_item(call, variant_id - shop.VARIANT_ID_BASE, lambda item: {
            "policy": variant.get("inventory_policy") or item.policy, "sku": variant.get("sku", item.sku)})
        product = shop.product_json(item)
    shop.deliver_all(state, call, [("products/update", product)])
    return call.reply({"variant": shop.variant_json(item)})
