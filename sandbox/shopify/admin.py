"""The Shopify stand-in's admin endpoints (``/shopify/{instance}/_admin/…``): what tests and the
demo use to seed the catalog, change stock, take orders and subscribe webhooks.

The kit adds ``faults``, ``requests``, ``clock``, ``webhooks`` (list and subscribe), ``redeliver``,
``config`` and ``state/items`` from the declarations below; every endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.common import to_cents
from sandbox.kit.admin import Setting, add_config, add_item_state, add_state_view, known, plain
from sandbox.shopify import shop
from sandbox.shopify.money import sale_transaction
from sandbox.shopify.shop import ShopState, kit

Payload = dict[str, Any]
add_config(kit, {
    "access_token": Setting("token"), "bucket_size": Setting("bucket.size", float),
    "leak_rate": Setting("bucket.leak_rate", float),
    "bucket_level": Setting("bucket.level", show=None, apply=lambda state, level: state.bucket.fill(float(level))),
    "location_id": Setting("location_id", int, show=str)})
add_item_state(kit, lambda state: range(state.total), ShopState.index_for_sku, ShopState.item, shop.admin_item)


@kit.admin.post("/seed")
def seed(state: ShopState = kit.state, payload: Payload = Body(default_factory=dict)) -> Payload:
    """``count`` generated items (``sku_prefix``, ``available``, ``inventory_policy``) and/or
    ``items`` given one by one; ``reset`` (default true) empties the shop first."""
    with state.lock:
        if payload.get("reset", True):
            state.catalog.clear()
            state.orders, state.transactions, state.gift_cards = [], {}, []
            state.locations.levels = {}  # the added locations stay; what they stocked went with the catalog
        now, count = state.now(), int(payload.get("count", 0))
        if count:
            state.catalog.add_batch(state.total, state.total + count, payload.get("sku_prefix", "SKU-"), now,
                                    available=int(payload.get("available", 10)),
                                    policy=payload.get("inventory_policy", "deny"))
        created = []
        for spec in payload.get("items", []):
            index = state.total
            state.catalog.add_batch(index, index + 1, "\0", now, available=0, policy="deny")
            state.store(shop.Item(index, spec["sku"], spec.get("title", spec["sku"]),
                             spec.get("available", 0) if spec.get("tracked", True) else None,
                             spec.get("inventory_policy", "deny"), now))
            created.append(shop.admin_item(state, state.item(index)))
        return {"total": state.total, "items": created}


@kit.admin.post("/locations")
def add_locations(state: ShopState = kit.state, payload: Payload = Body(default_factory=dict)) -> Payload:
    """Add ``count`` active locations beside the main one (a shop with many stores or warehouses)."""
    with state.lock:
        state.locations.add(state.location_id, int(payload.get("count", 1)))
        return {"location_ids": [str(location) for location in state.location_ids()]}


@kit.admin.post("/set_stock")
def set_stock(state: ShopState = kit.state, payload: Payload = Body(...)) -> JSONResponse:
    """A stock change made in Shopify's own admin: ``sku``, ``available``, ``inventory_policy``,
    optionally at an added ``location_id``; emits the webhooks Shopify would."""
    location = int(payload.get("location_id") or state.location_id)
    with state.lock:
        now = state.now()
        old = state.item(known(state.index_for_sku(str(payload.get("sku"))), f"sku {payload.get('sku')}"))
        if location != state.location_id:
            given = int(payload["available"]) if "available" in payload else None
            available = known(state.locations.place(location, old.index, given, now), f"location {location}")
            shown = {**shop.admin_item(state, old), "location_id": str(location), "available": available}
            events = [("inventory_levels/update", shop.stocked_level_json(location, old, available, now))]
        else:
            item = replace(old, available=int(payload["available"]) if "available" in payload else old.available,
                           policy=payload.get("inventory_policy", old.policy), updated_at=now)
            state.store(item)
            shown = shop.admin_item(state, item)
            events = [("inventory_levels/update", shop.level_json(state, item))]
            events += [("products/update", shop.product_json(item))] if item.policy != old.policy else []
    return JSONResponse({"item": shown, "webhooks": shop.deliver_all(state, None, events)})


@kit.admin.post("/create_order")
def create_order(state: ShopState = kit.state, payload: Payload = Body(...)) -> JSONResponse:
    """Creates an order, decrements tracked stock like checkout does, emits the webhooks."""
    with state.lock:
        now, lines, levels = state.now(), [], []
        for spec in payload.get("lines", []):
            item = state.item(known(state.index_for_sku(str(spec["sku"])), f"sku {spec['sku']}"))
            quantity = int(spec.get("quantity", 1))
            levels += shop.take_stock(state, item, quantity, now)
            lines.append(shop.order_line(item, quantity, str(spec.get("price", "10.00"))))
        email, gateway = payload.get("email", "ada@example.com"), str(payload.get("gateway", "manual"))
        customer = {"id": shop.CUSTOMER_ID_BASE + len(state.orders), "email": email, "phone": payload.get("phone"),
                    **payload.get("customer", {"first_name": "Ada", "last_name": "Lovelace"})}
        total = sum(to_cents(line["price"]) * line["quantity"] for line in lines) / 100
        order = shop.place_order(state, lines, now, email=email, phone=payload.get("phone"), customer=customer,
                            currency=payload.get("currency", "USD"), total_price=f"{total:.2f}",
                            payment_gateway_names=[gateway])
        sale = sale_transaction(state, order, gateway, now)
    hooks = shop.deliver_all(state, None, [("orders/create", order)] + [("inventory_levels/update", lv) for lv in levels])
    return JSONResponse({"order": {**order, "id": str(order["id"]), "transactions": [sale]}, "webhooks": hooks})


@kit.admin.get("/state/orders/{order_id}")
def state_order(order_id: int, state: ShopState = kit.state) -> JSONResponse:
    """An order with its refunds and transactions, ids as strings, for tests to assert on."""
    with state.lock:
        order = known(state.find_order(order_id), f"order {order_id}")
        return plain({**order, "id": str(order["id"]), "transactions": state.transactions.get(order_id, [])})

#: Every gift card with its full code (the API never shows it again after creation).
add_state_view(kit, "gift_cards", lambda state: [{**c, "id": str(c["id"])} for c in state.gift_cards])
