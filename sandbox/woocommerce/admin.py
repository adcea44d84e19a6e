"""The WooCommerce stand-in's admin endpoints (``/woocommerce/{instance}/_admin/…``): what tests
and the demo use to seed products, change stock, take orders and subscribe webhooks.

The kit adds ``faults``, ``requests``, ``clock`` (``advance_s``, ``freeze``) and ``webhooks``
(list); every endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.webhooks import subscribe
from sandbox.woocommerce.money import coupon_json, refund_json
from sandbox.woocommerce.site import (
    SiteState,
    admin_item,
    deliver,
    deliver_ping,
    gmt,
    kit,
    local,
    new_product,
    product_json,
    public,
    with_stock,
)

Payload = dict[str, Any]


@kit.admin.post("/seed")
def seed(state: SiteState = kit.state, payload: Payload = Body(default_factory=dict)) -> Payload:
    """``count`` generated products (``sku_prefix``, ``stock_quantity``, ``backorders``) and/or
    ``items`` (with ``variations``); ``reset`` (default true) empties the site first."""
    with state.lock:
        if payload.get("reset", True):
            state.product_ids = []
            state.catalog.clear()
            state.orders, state.refunds, state.coupons = [], {}, []
        now = state.now()
        count = int(payload.get("count", 0))
        if count:
            start = state.allocate(count)
            state.catalog.add_batch(start, start + count, payload.get("sku_prefix", "SKU-"), now,
                                    quantity=int(payload.get("stock_quantity", 10)),
                                    backorders=payload.get("backorders", "no"))
            state.product_ids.extend(range(start, start + count))
        created = []
        for spec in payload.get("items", []):
            product = new_product(state, spec, now, parent_id=0)
            state.product_ids.append(product["id"])
            for vspec in spec.get("variations", []):
                variation = new_product(state, {**vspec, "type": "variation"}, now, parent_id=product["id"])
                product["variations"].append(variation["id"])
                state.store(variation)
            state.store(product)
            created.append(admin_item(product))
        return {"total": len(state.product_ids), "items": created}


@kit.admin.post("/config")
def config(state: SiteState = kit.state, payload: Payload = Body(default_factory=dict)) -> Payload:
    state.consumer_key = payload.get("consumer_key", state.consumer_key)
    state.consumer_secret = payload.get("consumer_secret", state.consumer_secret)
    return {"consumer_key": state.consumer_key}


@kit.admin.post("/set_stock")
def set_stock(state: SiteState = kit.state, payload: Payload = Body(...)) -> JSONResponse:
    """A stock change made in wp-admin: ``sku`` with ``stock_quantity`` / ``backorders`` /
    ``manage_stock``; emits ``product.updated``."""
    with state.lock:
        pid = state.id_for_sku(str(payload.get("sku")))
        if pid is None:
            return JSONResponse({"error": f"unknown sku {payload.get('sku')}"}, status_code=404)
        changes = {k: payload[k] for k in ("stock_quantity", "backorders", "manage_stock") if k in payload}
        product = with_stock(state.get(pid), state.now(), **changes)
        state.store(product)
    hooks = deliver(state, "product.updated", product_json(product))
    return JSONResponse({"item": admin_item(product), "webhooks": hooks})


@kit.admin.post("/create_order")
def create_order(state: SiteState = kit.state, payload: Payload = Body(...)) -> JSONResponse:
    """A checkout on the store: managed stock goes down (its modified date stays), ``order.created``."""
    with state.lock:
        now = state.now()
        order_id = state.allocate()
        lines = []
        for n, spec in enumerate(payload.get("lines", [])):
            pid = state.id_for_sku(str(spec["sku"]))
            if pid is None:
                return JSONResponse({"error": f"unknown sku {spec['sku']}"}, status_code=404)
            product = state.get(pid)
            quantity = int(spec.get("quantity", 1))
            if product["manage_stock"]:
                product = with_stock(product, product["date_modified"],
                                     stock_quantity=(product["stock_quantity"] or 0) - quantity)
                state.store(product)
            price = str(spec.get("price", "10.00"))
            lines.append({"id": order_id * 100 + n, "name": product["name"],
                          "product_id": product["parent_id"] or pid,
                          "variation_id": pid if product["parent_id"] else 0, "quantity": quantity,
                          "sku": product["sku"], "price": float(price), "total": f"{float(price) * quantity:.2f}"})
        billing = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "",
                   **payload.get("billing", {})}
        order = {"id": order_id, "number": str(order_id), "status": payload.get("status", "processing"),
                 "currency": payload.get("currency", "USD"),
                 "date_created": local(now), "date_created_gmt": gmt(now),
                 "date_modified": local(now), "date_modified_gmt": gmt(now),
                 "total": f"{sum(float(line['total']) for line in lines):.2f}", "billing": billing,
                 "payment_method": payload.get("payment_method", "stripe"),
                 "payment_method_title": payload.get("payment_method_title", "Credit Card (Stripe)"),
                 "line_items": lines, "refunds": [], "_modified": now}
        state.orders.append(order)
        body = public(order)
    hooks = deliver(state, "order.created", body)
    return JSONResponse({"order": body, "webhooks": hooks})


@kit.admin.post("/webhooks")
def add_webhook(state: SiteState = kit.state, payload: Payload = Body(...)) -> Payload:
    """Subscribe, then ping the address as WooCommerce does on saving a webhook (``ping: false`` skips it)."""
    hook = subscribe(state, payload, status="active")
    return {"webhook": hook, "ping": deliver_ping(state, hook) if payload.get("ping", True) else None}


@kit.admin.get("/state/items")
def state_items(skus: str | None = None, offset: int = 0, limit: int = 100,
                state: SiteState = kit.state) -> JSONResponse:
    with state.lock:
        if skus:
            ids = [state.id_for_sku(s) for s in skus.split(",")]
            items = [state.get(i) for i in ids if i is not None]
        else:
            items = [state.get(i) for i in state.product_ids[offset:offset + limit]]
        return JSONResponse({"total": len(state.product_ids), "items": [admin_item(p) for p in items]})


@kit.admin.get("/state/orders/{order_id}")
def state_order(order_id: int, state: SiteState = kit.state) -> JSONResponse:
    """An order with its full refunds (not just the summaries), for tests to assert on."""
    with state.lock:
        order = state.find_order(order_id)
        if order is None:
            return JSONResponse({"error": f"unknown order {order_id}"}, status_code=404)
        return JSONResponse({**public(order), "refunds_full": [refund_json(r) for r in state.refunds.get(order_id, [])]})


@kit.admin.get("/state/coupons")
def state_coupons(state: SiteState = kit.state) -> JSONResponse:
    with state.lock:
        return JSONResponse({"coupons": [coupon_json(c) for c in state.coupons]})
