"""The Shopify stand-in's admin endpoints (``/shopify/{instance}/_admin/…``): what tests and the
demo use to seed the catalog, change stock, take orders and subscribe webhooks.

The kit serves ``faults``, ``requests``, ``clock``, ``webhooks`` (list and subscribe), ``redeliver``
and, from the declarations below, ``config``, ``seed``, ``set_stock``, ``create_order`` and the
``state/…`` views; every endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.kit import (Events, Json, Seed, Setting, add_checkout, add_config, add_connect, add_fulfillment,
                         add_item_state, add_order_view, add_returns, add_seed, add_set_stock, add_state_view, known,
                         reset, subtotal, to_money)
from sandbox.shopify import shop
from sandbox.shopify.shop import ShopState, fixtures, kit


def add_item(state: ShopState, spec: Json, now: datetime) -> Json:
    """One item given by hand (``sku``, ``title``, ``available``, ``tracked``, ``inventory_policy``)."""
    index = state.total
    state.catalog.add_batch(index, index + 1, "\0", now, available=0, policy="deny")
    state.store(item := shop.new_item(index, spec["sku"], spec.get("title", spec["sku"]),
                                      spec.get("available", 0) if spec.get("tracked", True) else None,
                                      spec.get("inventory_policy", "deny"), now))
    return item


def change_stock(state: ShopState, index: int, payload: Json, now: datetime) -> tuple[Json, Events]:
    """A stock change made in Shopify's own admin: ``available``, ``inventory_policy``, optionally at
    an added ``location_id``; the webhooks Shopify would emit."""
    old, location = state.get(index), int(payload.get("location_id") or state.location_id)
    given = int(payload["available"]) if "available" in payload else None
    if location != state.location_id:
        available = known(state.locations.place(location, index, given, now), f"location {location}")
        return {**shop.admin_item(state, old), "location_id": str(location), "available": available}, [
            ("inventory_levels/update", shop.level_json(state, old, location, available, now))]
    item = shop.change_item(state, old, now, policy=payload.get("inventory_policy", old["policy"]),
                            available=old["available"] if given is None else given)
    events = [("inventory_levels/update", shop.level_json(state, item))]
    return shop.admin_item(state, item), events + ([("products/update", shop.product_json(item))]
                                                   if item["policy"] != old["policy"] else [])


def sell(state: ShopState, index: int, quantity: int, price: Any, now: datetime) -> tuple[Json, Events]:
    levels = shop.take_stock(state, item := state.get(index), quantity, now)
    return shop.order_line(item, quantity, str(price)), [("inventory_levels/update", level) for level in levels]


def place(state: ShopState, lines: list[Json], payload: Json, now: datetime,
          begun: None) -> tuple[Json, Events]:
    """The order of a checkout (``email``, ``phone``, ``customer``, ``currency``, ``gateway``), paid."""
    email, gateway = payload.get("email", "ada@example.com"), str(payload.get("gateway", "manual"))
    customer = {"id": shop.CUSTOMER_ID_BASE + len(state.orders), "email": email, "phone": payload.get("phone"),
                **payload.get("customer", {"first_name": "Ada", "last_name": "Lovelace"})}
    order = shop.place_order(state, lines, now, gateway, email=email, phone=payload.get("phone"), customer=customer,
                             currency=payload.get("currency", "USD"), total_price=to_money(subtotal(lines)),
                             payment_gateway_names=[gateway])
    return {"order": {**order, "id": str(order["id"]), "transactions": state.transactions[order["id"]]}}, [
        ("orders/create", order)]


add_config(kit, {
    "access_token": Setting("token"), "bucket_size": Setting("bucket.size", float),
    "leak_rate": Setting("bucket.leak_rate", float), "location_id": Setting("location_id", int, show=str),
    "bucket_level": Setting("bucket.level", show=None, apply=lambda state, level: state.bucket.fill(float(level)))})
#: The added locations stay; what they stocked goes with the catalog.
add_seed(kit, Seed(reset("catalog", "orders", "transactions", "gift_cards", "locations.levels", "returns"),
                   start=lambda state, count: state.total, add=add_item, total=lambda state: state.total,
                   render=shop.admin_item, batch={"available": ("available", int, 10), "policy": ("inventory_policy", str, "deny")}))
add_set_stock(kit, ShopState.key_for_sku, change_stock, shop.webhooks.deliver_all)
add_checkout(kit, ShopState.key_for_sku, sell, place, shop.webhooks.deliver_all)
add_item_state(kit, lambda state: range(state.total), ShopState.key_for_sku, ShopState.get, shop.admin_item)
#: Every gift card with its full code (the API never shows it again after creation).
add_state_view(kit, "gift_cards", lambda state: [{**c, "id": str(c["id"])} for c in state.gift_cards])


#: Locations added beside the main one, an item connected to one (``inventory_levels/connect``) or
#: disconnected (``inventory_levels/disconnect``), and an order fulfilled in the admin, in full
#: (``orders/fulfilled``) or in part (``orders/partially_fulfilled``), its fulfillment ids above 2**53 too.
add_connect(kit, ShopState.key_for_sku, lambda state, key, *level: shop.level_json(state, state.get(key), *level),
            shop.webhooks.deliver_all, "inventory_levels/connect", disconnect_topic="inventory_levels/disconnect")
add_fulfillment(kit, lambda state, oid: state.find_order(int(oid)), shop.webhooks.deliver_all, "orders/fulfilled",
                lambda state, asked: fixtures.fill("fulfillment", asked, id=2**53 + 12 * 10**9 + state.allocate()),
                partial_topic="orders/partially_fulfilled")
#: Returns requested and moved in the admin (``returns/*`` webhooks), read back through GraphQL.
add_returns(kit, shop.webhooks.deliver_all, fixtures, lambda state: 2**53 + 14 * 10**9 + state.allocate())


#: An order with its refunds and transactions, ids as strings, for tests to assert on.
add_order_view(kit, lambda state, order: {**order, "id": str(order["id"]),
                                          "transactions": state.transactions.get(order["id"], [])})
