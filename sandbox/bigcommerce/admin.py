"""The BigCommerce stand-in's admin endpoints (``/bigcommerce/{instance}/_admin/…``): seed products
and locations, credentials and the quota, control-panel stock changes, checkouts, webhook
subscriptions and the state tests assert on. The kit adds ``faults``, ``requests``, ``clock``,
``webhooks`` (GET) and ``redeliver``; every endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.admin import Setting, add_config, known, plain
from sandbox.kit.money import to_cents, to_money
from sandbox.bigcommerce.store import Record, StoreState, deliver, fixtures, inventory_hook, kit, product_json


def add_product(state: StoreState, spec: Record) -> Record:
    """``{sku, name?, tracking?, inventory_level, availability?, price?, variants: [{sku, inventory_level}]}``:
    a product with ``variants`` is tracked by variant and has no base variant (``base_variant_id``
    null), one without has its base variant under its own SKU."""
    now, pid = state.now(), state.allocate()
    specs = spec.get("variants") or [spec]
    variants = [{"id": state.allocate(), "sku": v["sku"], "sku_id": state.allocate() if spec.get("variants") else None,
                 "options": [{"label": v["sku"], "option_display_name": "Option"}] if spec.get("variants") else []}
                for v in specs]
    product = {"id": pid, "name": spec.get("name", spec["sku"]), "sku": spec["sku"], "price": spec.get("price", 10.0),
               "inventory_tracking": spec.get("tracking", "variant" if spec.get("variants") else "product"),
               "availability": spec.get("availability", "available"), "availability_description": "",
               "date_created": now, "date_modified": now, "variants": variants,
               "base_variant_id": None if spec.get("variants") else variants[0]["id"]}
    state.products[pid] = product
    for variant, vspec in zip(variants, specs):
        if product["inventory_tracking"] != "none":
            state.set_level(product, state.item_of(product, variant), 1, int(vspec.get("inventory_level", 0)))
    return product


def admin_item(state: StoreState, product: Record, variant: Record) -> Record:
    return {"sku": variant["sku"], "product_id": str(product["id"]), "variant_id": str(variant["id"]),
            "tracking": product["inventory_tracking"], "availability": product["availability"],
            "availability_description": product["availability_description"],
            "levels": {str(loc): qty for loc, qty in state.levels.get(state.item_of(product, variant), {}).items()}}


@kit.admin.post("/seed")
def seed(state: StoreState = kit.state, payload: Record = Body(default_factory=dict)) -> Record:
    """``{"reset": true, "locations": K, "items": [...]}``: K locations beside the default one."""
    with state.lock:
        if payload.get("reset", True):
            state.products, state.levels, state.orders, state.refunds = {}, {}, {}, {}
            state.locations = [1, *range(2, 2 + int(payload.get("locations", 0)))]
        created = [add_product(state, spec) for spec in payload.get("items", [])]
        return {"locations": state.locations, "items": [admin_item(state, p, v) for p in created for v in p["variants"]]}


add_config(kit, {"access_token": Setting("token"), "quota": Setting("quota.quota", int),
                 "window_ms": Setting("quota.window_ms", int), "used": Setting("quota.used", int)})


@kit.admin.post("/set_stock")
def set_stock(state: StoreState = kit.state, payload: Record = Body(...)) -> JSONResponse:
    """A control-panel edit: ``{sku, quantity, location_id?}`` sets the level (absolute webhook)."""
    with state.lock:
        product, variant = known(state.by_sku(str(payload.get("sku"))), f"sku {payload.get('sku')}")
        item, location = state.item_of(product, variant), int(payload.get("location_id", 1))
        known(location if location in state.locations else None, f"location {location}")
        state.set_level(product, item, location, int(payload["quantity"]))
        shown = admin_item(state, product, variant)
    return JSONResponse({"item": shown, "webhooks": inventory_hook(state, product, item, int(payload["quantity"]))})


@kit.admin.post("/create_order")
def create_order(state: StoreState = kit.state, payload: Record = Body(...)) -> JSONResponse:
    """A checkout: ``{lines: [{sku, quantity, price}], email?, phone?, customer?, provider?}`` takes stock
    at the default location and emits ``store/order/created`` and the items' relative webhooks."""
    with state.lock:
        now, order_id, lines, taken = state.now(), state.allocate(), [], []
        for n, spec in enumerate(payload.get("lines", [])):
            product, variant = known(state.by_sku(str(spec["sku"])), f"sku {spec['sku']}")
            item, quantity = state.item_of(product, variant), int(spec.get("quantity", 1))
            state.set_level(product, item, 1, state.level(item) - quantity)
            taken.append((product, item, -quantity))
            lines.append(fixtures.fill("order_line", variant, id=order_id * 100 + n, order_id=order_id,
                                       product_id=product["id"], variant_id=variant["id"], name=product["name"],
                                       quantity=quantity, price=to_money(to_cents(spec.get("price", "10.00")))))
        customer = {"first_name": "Grace", "last_name": "Hopper", **(payload.get("customer") or {})}
        state.orders[order_id] = {
            "id": order_id, "created": now, "modified": now, "status_id": 11, "status": "Awaiting Fulfillment",
            "total": to_money(sum(to_cents(ln["price_inc_tax"]) * ln["quantity"] for ln in lines)),
            "refunded": "0.0000", "provider": payload.get("provider", "braintree"), "lines": lines,
            "billing": {**customer, "email": payload.get("email", "grace@example.com"), "phone": payload.get("phone", "")}}
    hooks = deliver(state, "store/order/created", {"type": "order", "id": order_id})
    for product, item, change in taken:
        hooks += inventory_hook(state, product, item, change, by_order=True)
    return JSONResponse({"order": {"id": order_id, "lines": [line["id"] for line in lines]}, "webhooks": hooks})


@kit.admin.post("/webhooks")
def subscribe(state: StoreState = kit.state, payload: Record = Body(...)) -> Record:
    """``{address, topics, headers}``: a subscription the API does not list (made elsewhere)."""
    hook = {"id": len(state.webhooks) + 1, "address": payload["address"], "topics": list(payload["topics"]),
            "headers": payload.get("headers") or {}, "is_active": True}
    state.webhooks.append(hook)
    return {"webhook": hook}


@kit.admin.get("/state/items")
def state_items(skus: str = "", state: StoreState = kit.state) -> Record:
    with state.lock:
        found = [pv for pv in (state.by_sku(sku) for sku in skus.split(",") if sku) if pv is not None]
        return {"items": [admin_item(state, *pv) for pv in found], "products": [product_json(state, p) for p, _ in found]}


@kit.admin.get("/state/orders/{order_id}")
def state_order(order_id: int, state: StoreState = kit.state) -> Any:
    with state.lock:
        order = known(state.orders.get(order_id), f"order {order_id}")
        return plain({**order, "refunds": state.refunds.get(order_id, [])})
