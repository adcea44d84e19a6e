"""The Shopify stand-in's admin endpoints (``/shopify/{instance}/_admin/…``): what tests and the
demo use to seed the catalog, change stock, take orders and subscribe webhooks.

The kit adds ``faults``, ``requests``, ``clock``, ``webhooks`` (list) and ``redeliver``; every
endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.money import to_cents
from sandbox.kit.webhooks import subscribe
from sandbox.shopify.money import sale_transaction
from sandbox.shopify.shop import (
    LINE_ID_BASE,
    ORDER_ID_BASE,
    Item,
    ShopState,
    admin_item,
    as_json,
    deliver_all,
    kit,
    level_json,
    product_json,
    stocked_level_json,
    ts,
)

Payload = dict[str, Any]


@kit.admin.post("/seed")
def seed(state: ShopState = kit.state, payload: Payload = Body(default_factory=dict)) -> Payload:
    """``count`` generated items (``sku_prefix``, ``available``, ``inventory_policy``) and/or
    ``items`` given one by one; ``reset`` (default true) empties the shop first."""
    with state.lock:
        if payload.get("reset", True):
            state.catalog.clear()
            state.orders, state.transactions, state.gift_cards = [], {}, []
            state.extra_levels = {}  # the added locations stay; what they stocked went with the catalog
        now = state.now()
        count = int(payload.get("count", 0))
        if count:
            state.catalog.add_batch(state.total, state.total + count, payload.get("sku_prefix", "SKU-"), now,
                                    available=int(payload.get("available", 10)),
                                    policy=payload.get("inventory_policy", "deny"))
        created = []
        for spec in payload.get("items", []):
            index = state.total
            state.catalog.add_batch(index, index + 1, "\0", now, available=0, policy="deny")
            item = Item(index, spec["sku"], spec.get("title", spec["sku"]),
                        spec.get("available", 0) if spec.get("tracked", True) else None,
                        spec.get("inventory_policy", "deny"), now)
            state.store(item)
            created.append(admin_item(state, item))
        return {"total": state.total, "items": created}


@kit.admin.post("/config")
def config(state: ShopState = kit.state, payload: Payload = Body(default_factory=dict)) -> Payload:
    """The access token, the leaky bucket (``bucket_size``, ``leak_rate``, ``bucket_level``) and the
    main ``location_id``."""
    with state.lock:
        state.token = payload.get("access_token", state.token)
        state.bucket.size = float(payload.get("bucket_size", state.bucket.size))
        state.bucket.leak_rate = float(payload.get("leak_rate", state.bucket.leak_rate))
        if "bucket_level" in payload:
            state.bucket.fill(float(payload["bucket_level"]))
        state.location_id = int(payload.get("location_id", state.location_id))
        return {"access_token": state.token, "bucket_size": state.bucket.size, "leak_rate": state.bucket.leak_rate,
                "location_id": str(state.location_id)}


@kit.admin.post("/locations")
def add_locations(state: ShopState = kit.state, payload: Payload = Body(default_factory=dict)) -> Payload:
    """Add ``count`` active locations beside the main one (a shop with many stores or warehouses)."""
    with state.lock:
        for _ in range(int(payload.get("count", 1))):
            state.extra_locations.append(max(state.location_ids()) + 1)
        return {"location_ids": [str(location) for location in state.location_ids()]}


@kit.admin.post("/set_stock")
def set_stock(state: ShopState = kit.state, payload: Payload = Body(...)) -> JSONResponse:
    """A stock change made in Shopify's own admin: ``sku``, ``available``, ``inventory_policy``,
    optionally at an added ``location_id``; emits the webhooks Shopify would."""
    if int(payload.get("location_id") or state.location_id) != state.location_id:
        return set_stock_elsewhere(state, payload)
    with state.lock:
        index = state.index_for_sku(str(payload.get("sku")))
        if index is None:
            return JSONResponse({"error": f"unknown sku {payload.get('sku')}"}, status_code=404)
        old = state.item(index)
        item = replace(old, available=int(payload["available"]) if "available" in payload else old.available,
                       policy=payload.get("inventory_policy", old.policy), updated_at=state.now())
        state.store(item)
    events = [("inventory_levels/update", level_json(state, item))]
    if item.policy != old.policy:
        events.append(("products/update", product_json(item)))
    return JSONResponse({"item": admin_item(state, item), "webhooks": deliver_all(state, None, events)})


def set_stock_elsewhere(state: ShopState, payload: Payload) -> JSONResponse:
    """``set_stock`` at an added location: stocks the item there and emits its level's webhook."""
    location = int(payload["location_id"])
    with state.lock:
        index = state.index_for_sku(str(payload.get("sku")))
        if index is None or location not in state.extra_locations:
            missing = f"sku {payload.get('sku')}" if index is None else f"location {location}"
            return JSONResponse({"error": f"unknown {missing}"}, status_code=404)
        item = state.item(index)
        levels = state.extra_levels.setdefault(location, {})
        available = int(payload["available"]) if "available" in payload else levels.get(index, (0, None))[0]
        now = state.now()
        levels[index] = (available, now)
        level = stocked_level_json(location, item, available, now)
    hooks = deliver_all(state, None, [("inventory_levels/update", level)])
    return JSONResponse({"item": {**admin_item(state, item), "location_id": str(location), "available": available},
                         "webhooks": hooks})


@kit.admin.post("/create_order")
def create_order(state: ShopState = kit.state, payload: Payload = Body(...)) -> JSONResponse:
    """Creates an order, decrements tracked stock like checkout does, emits the webhooks."""
    levels = []
    with state.lock:
        number = len(state.orders)
        now = state.now()
        lines = []
        for n, spec in enumerate(payload.get("lines", [])):
            index = state.index_for_sku(str(spec["sku"]))
            if index is None:
                return JSONResponse({"error": f"unknown sku {spec['sku']}"}, status_code=404)
            item = state.item(index)
            quantity = int(spec.get("quantity", 1))
            if item.available is not None:
                item = replace(item, available=item.available - quantity, updated_at=now)
                state.store(item)
                levels.append(level_json(state, item))
            lines.append({"id": LINE_ID_BASE + number * 100 + n, "variant_id": item.variant_id,
                          "product_id": item.product_id, "sku": item.sku, "title": item.title,
                          "quantity": quantity, "price": str(spec.get("price", "10.00"))})
        customer = payload.get("customer", {"first_name": "Ada", "last_name": "Lovelace"})
        total = sum(to_cents(line["price"]) * line["quantity"] for line in lines) / 100
        gateway = str(payload.get("gateway", "manual"))
        order = {
            "id": ORDER_ID_BASE + number, "name": f"#{1001 + number}", "order_number": 1001 + number,
            "email": payload.get("email", "ada@example.com"), "phone": payload.get("phone"),
            "created_at": ts(now), "updated_at": ts(now), "cancelled_at": None, "closed_at": None,
            "currency": payload.get("currency", "USD"), "total_price": f"{total:.2f}",
            "financial_status": "paid", "fulfillment_status": None, "payment_gateway_names": [gateway],
            "refunds": [],
            "customer": {"id": ORDER_ID_BASE + 500_000 + number, "email": payload.get("email", "ada@example.com"),
                         "phone": payload.get("phone"), **customer},
            "line_items": lines, "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID_BASE + number}",
        }
        state.orders.append(order)
        sale = sale_transaction(state, order, gateway, now)
    hooks = deliver_all(state, None, [("orders/create", order)] + [("inventory_levels/update", lv) for lv in levels])
    return JSONResponse({"order": {**order, "id": str(order["id"]), "transactions": [sale]}, "webhooks": hooks})


@kit.admin.post("/webhooks")
def add_webhook(state: ShopState = kit.state, payload: Payload = Body(...)) -> Payload:
    return {"webhook": subscribe(state, payload)}


@kit.admin.get("/state/items")
def state_items(skus: str | None = None, offset: int = 0, limit: int = 100,
                state: ShopState = kit.state) -> JSONResponse:
    with state.lock:
        if skus:
            found = [state.index_for_sku(s) for s in skus.split(",")]
            items = [state.item(i) for i in found if i is not None]
        else:
            items = [state.item(i) for i in range(offset, min(state.total, offset + limit))]
        return JSONResponse({"total": state.total, "items": [admin_item(state, it) for it in items]})


@kit.admin.get("/state/orders/{order_id}")
def state_order(order_id: int, state: ShopState = kit.state) -> JSONResponse:
    """An order with its refunds and transactions, ids as strings, for tests to assert on."""
    with state.lock:
        order = state.find_order(order_id)
        if order is None:
            return JSONResponse({"error": f"unknown order {order_id}"}, status_code=404)
        return as_json({**order, "id": str(order["id"]), "transactions": state.transactions.get(order_id, [])})


@kit.admin.get("/state/gift_cards")
def state_gift_cards(state: ShopState = kit.state) -> JSONResponse:
    """Every gift card with its full code (the API never shows it again after creation)."""
    with state.lock:
        return JSONResponse({"gift_cards": [{**c, "id": str(c["id"])} for c in state.gift_cards]})
