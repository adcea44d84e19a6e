"""The BigCommerce stand-in's admin endpoints (``/bigcommerce/{instance}/_admin/…``): seed products
and locations, credentials and the quota, control-panel stock changes, checkouts, webhook
subscriptions and the state tests assert on. The kit adds ``faults``, ``requests``, ``clock``,
``webhooks`` (GET, and POST ``{address, topics, headers}``: a hook the API does not list) and
``redeliver``; every endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body

from sandbox.kit.admin import Events, Setting, add_checkout, add_config, add_item_state, add_set_stock, known, plain
from sandbox.kit.money import to_cents, to_money
from sandbox.bigcommerce.store import Record, StoreState, deliver_all, fixtures, inventory_event, kit


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


def admin_item(state: StoreState, key: tuple[Record, Record]) -> Record:
    return fixtures.fill("admin_item", key[0], sku=key[1]["sku"], product_id=str(key[0]["id"]), variant_id=str(
        key[1]["id"]), levels={str(loc): qty for loc, qty in state.levels.get(state.item_of(*key), {}).items()})


@kit.admin.post("/seed")
def seed(state: StoreState = kit.state, payload: Record = Body(default_factory=dict)) -> Record:
    """``{"reset": true, "locations": K, "items": [...]}``: K locations beside the default one."""
    with state.lock:
        if payload.get("reset", True):
            state.products, state.levels, state.orders, state.refunds = {}, {}, {}, {}
            state.locations = [1, *range(2, 2 + int(payload.get("locations", 0)))]
        created = [add_product(state, spec) for spec in payload.get("items", [])]
        return {"locations": state.locations, "items": [admin_item(state, (p, v)) for p in created for v in p["variants"]]}


add_config(kit, {"access_token": Setting("token"), "quota": Setting("quota.limit", int),
                 "window_ms": Setting("quota.seconds", lambda ms: int(ms) / 1000, lambda s: int(s * 1000)), "used": Setting("quota.used", int)})


def change_stock(state: StoreState, key: tuple[Record, Record], payload: Record, now: Any) -> tuple[Record, Events]:
    """A control-panel edit: ``{sku, quantity, location_id?}`` sets the level (absolute webhook)."""
    (product, variant), location = key, int(payload.get("location_id", 1))
    item = state.item_of(product, variant)
    state.set_level(product, item, known(location if location in state.locations else None, f"location {location}"),
                    int(payload["quantity"]))
    return admin_item(state, key), [inventory_event(product, item, int(payload["quantity"]))]


def sell(state: StoreState, key: tuple[Record, Record], quantity: int, price: Any, now: Any) -> tuple[Record, Events]:
    """A checkout takes the line's stock at the default location (a relative webhook)."""
    (product, variant), item = key, state.item_of(*key)
    state.set_level(product, item, 1, state.level(item) - quantity)
    return (fixtures.fill("order_line", variant, id=0, order_id=0, product_id=product["id"], variant_id=variant["id"],
                          name=product["name"], quantity=quantity, price=to_money(to_cents(price))),
            [inventory_event(product, item, -quantity, by_order=True)])


def place(state: StoreState, lines: list[Record], payload: Record, now: Any, order_id: int) -> tuple[Record, Events]:
    """The order (``email``, ``phone``, ``customer``, ``provider``): Awaiting Fulfillment, paid in full."""
    for n, line in enumerate(lines):
        line.update(id=order_id * 100 + n, order_id=order_id)
    billing = {"first_name": "Grace", "last_name": "Hopper", **(payload.get("customer") or {}),
               "email": payload.get("email", "grace@example.com"), "phone": payload.get("phone", "")}
    state.orders[order_id] = {"id": order_id, "created": now, "modified": now, "status_id": 11, "lines": lines,
                              "status": "Awaiting Fulfillment", "refunded": "0.0000", "billing": billing,
                              "provider": payload.get("provider", "braintree"), "store": state.name,
                              "total": to_money(sum(to_cents(ln["price_inc_tax"]) * ln["quantity"] for ln in lines))}
    return {"order": {"id": order_id, "lines": [line["id"] for line in lines]}}, [
        ("store/order/created", {"type": "order", "id": order_id})]


add_set_stock(kit, StoreState.by_sku, change_stock, deliver_all)
add_checkout(kit, StoreState.by_sku, sell, place, deliver_all, begin=StoreState.allocate)
add_item_state(kit, lambda state: [(p, v) for p in state.products.values() for v in p["variants"]],
               StoreState.by_sku, lambda state, key: key, admin_item)


@kit.admin.get("/state/orders/{order_id}")
def state_order(order_id: int, state: StoreState = kit.state) -> Any:
    with state.lock:
        order = known(state.orders.get(order_id), f"order {order_id}")
        return plain({**order, "refunds": state.refunds.get(order_id, [])})
