"""The WooCommerce stand-in's admin endpoints (``/woocommerce/{instance}/_admin/…``): what tests
and the demo use to seed products, change stock, take orders and subscribe webhooks.

The kit adds ``faults``, ``requests``, ``clock`` (``advance_s``, ``freeze``), ``webhooks`` (list;
subscribe and ping), ``config`` and ``state/items`` from the declarations below; every endpoint is
listed in docs/sandbox.md.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.admin import Setting, add_config, add_item_state, add_state_view, known
from sandbox.woocommerce import site
from sandbox.woocommerce.money import coupon_json, refund_json
from sandbox.woocommerce.site import SiteState, kit

Payload = dict[str, Any]
add_config(kit, {"consumer_key": Setting("consumer_key"), "consumer_secret": Setting("consumer_secret", show=None)})
add_item_state(kit, lambda state: state.product_ids, SiteState.id_for_sku, SiteState.get, site.admin_item)


@kit.admin.post("/seed")
def seed(state: SiteState = kit.state, payload: Payload = Body(default_factory=dict)) -> Payload:
    """``count`` generated products (``sku_prefix``, ``stock_quantity``, ``backorders``) and/or
    ``items`` (with ``variations``); ``reset`` (default true) empties the site first."""
    with state.lock:
        if payload.get("reset", True):
            state.product_ids, state.orders, state.refunds, state.coupons = [], [], {}, []
            state.catalog.clear()
        now, count = state.now(), int(payload.get("count", 0))
        if count:
            start = state.allocate(count)
            state.catalog.add_batch(start, start + count, payload.get("sku_prefix", "SKU-"), now,
                                    quantity=int(payload.get("stock_quantity", 10)),
                                    backorders=payload.get("backorders", "no"))
            state.product_ids.extend(range(start, start + count))
        created = []
        for spec in payload.get("items", []):
            product = site.new_product(state, spec, now, parent_id=0)
            state.product_ids.append(product["id"])
            for vspec in spec.get("variations", []):
                variation = site.new_product(state, {**vspec, "type": "variation"}, now, parent_id=product["id"])
                product["variations"].append(variation["id"])
                state.store(variation)
            state.store(product)
            created.append(site.admin_item(state, product))
        return {"total": len(state.product_ids), "items": created}


@kit.admin.post("/set_stock")
def set_stock(state: SiteState = kit.state, payload: Payload = Body(...)) -> JSONResponse:
    """A stock change made in wp-admin: ``sku`` with ``stock_quantity`` / ``backorders`` /
    ``manage_stock``; emits ``product.updated``."""
    with state.lock:
        pid = known(state.id_for_sku(str(payload.get("sku"))), f"sku {payload.get('sku')}")
        changes = {k: payload[k] for k in ("stock_quantity", "backorders", "manage_stock") if k in payload}
        product = site.with_stock(state.get(pid), state.now(), **changes)
        state.store(product)
    hooks = site.deliver(state, "product.updated", site.product_json(product))
    return JSONResponse({"item": site.admin_item(state, product), "webhooks": hooks})


@kit.admin.post("/create_order")
def create_order(state: SiteState = kit.state, payload: Payload = Body(...)) -> JSONResponse:
    """A checkout on the store: managed stock goes down (its modified date stays), ``order.created``."""
    with state.lock:
        now, order_id, lines = state.now(), state.allocate(), []
        for n, spec in enumerate(payload.get("lines", [])):
            product = state.get(known(state.id_for_sku(str(spec["sku"])), f"sku {spec['sku']}"))
            quantity, price = int(spec.get("quantity", 1)), float(spec.get("price", "10.00"))
            site.take_stock(state, product, quantity, product["date_modified"])
            lines.append(site.order_line(order_id, n, product, quantity, price=price, total=f"{price * quantity:.2f}"))
        order = site.place_order(
            state, order_id, now, lines, status=payload.get("status", "processing"),
            currency=payload.get("currency", "USD"), total=f"{sum(float(line['total']) for line in lines):.2f}",
            billing={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "",
                     **payload.get("billing", {})},
            payment_method=payload.get("payment_method", "stripe"),
            payment_method_title=payload.get("payment_method_title", "Credit Card (Stripe)"))
        body = site.public(order)
    return JSONResponse({"order": body, "webhooks": site.deliver(state, "order.created", body)})


@kit.admin.get("/state/orders/{order_id}")
def state_order(order_id: int, state: SiteState = kit.state) -> JSONResponse:
    """An order with its full refunds (not just the summaries), for tests to assert on."""
    with state.lock:
        order = known(state.find_order(order_id), f"order {order_id}")
        return JSONResponse({**site.public(order),
                             "refunds_full": [refund_json(r) for r in state.refunds.get(order_id, [])]})

add_state_view(kit, "coupons", lambda state: [coupon_json(c) for c in state.coupons])
