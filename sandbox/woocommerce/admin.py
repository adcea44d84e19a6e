"""The WooCommerce stand-in's admin endpoints (``/woocommerce/{instance}/_admin/…``): what tests
and the demo use to seed products, change stock, take orders and subscribe webhooks.

The kit serves ``faults``, ``requests``, ``clock`` (``advance_s``, ``freeze``), ``webhooks`` (list;
subscribe and ping) and, from the declarations below, ``config``, ``seed``, ``set_stock``,
``create_order`` and the ``state/…`` views; every endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.kit import (Events, Json, Seed, Setting, add_checkout, add_config, add_item_state, add_order_view,
                         add_seed, add_set_stock, add_state_view, reset)
from sandbox.woocommerce import site
from sandbox.woocommerce.site import SiteState, kit


def generated(state: SiteState, count: int) -> int:
    """Ids for ``count`` generated products, listed after the ones there are."""
    start = state.allocate(count)
    state.product_ids.extend(range(start, start + count))
    return start


def add_product(state: SiteState, spec: Json, now: datetime) -> dict[str, Any]:
    """A product given by hand, with its ``variations``."""
    product = site.product(state.allocate(), spec, now)
    state.product_ids.append(product["id"])
    for vspec in spec.get("variations", []):
        variation = site.product(state.allocate(), {**vspec, "type": "variation"}, now, parent_id=product["id"])
        product["variations"].append(variation["id"])
        state.store(variation)
    state.store(product)
    return product


def change_stock(state: SiteState, pid: int, payload: Json, now: datetime) -> tuple[Json, Events]:
    """A stock change made in wp-admin: ``stock_quantity`` / ``backorders`` / ``manage_stock``."""
    changes = {k: payload[k] for k in ("stock_quantity", "backorders", "manage_stock") if k in payload}
    state.store(product := site.with_stock(state.get(pid), now, **changes))
    return site.admin_item(state, product), [("product.updated", site.product_json(product))]


def sell(state: SiteState, pid: int, quantity: int, price: Any, now: datetime) -> tuple[Json, Events]:
    """A checkout takes managed stock without moving the product's modified date."""
    product, price = state.get(pid), float(price)
    state.move_stock(site.STOCK, product, -quantity, product["date_modified"])
    return site.order_line(product, quantity, price=price, total=f"{price * quantity:.2f}"), []


def place(state: SiteState, lines: list[Json], payload: Json, now: datetime,
          order_id: int) -> tuple[Json, Events]:
    """The checkout's order (``status``, ``currency``, ``billing``, ``shipping``,
    ``payment_method(_title)``, ``transaction_id``; what is not given is ``fixtures/checkout.json``'s,
    no shipping address)."""
    order = state.add_order(site.DATES, order_id, now, lines, **{
        key: payload.get(key, value) for key, value in site.fixture("checkout").items()},
        total=f"{sum(float(line['total']) for line in lines):.2f}",
        billing={**site.fixture("billing"), **payload.get("billing", {})}, shipping=dict(payload.get("shipping") or {}))
    return {"order": site.public(order)}, [("order.created", site.public(order))]


add_config(kit, {"consumer_key": Setting("consumer_key"), "consumer_secret": Setting("consumer_secret", show=None)})
add_seed(kit, Seed(reset("product_ids", "orders", "refunds", "coupons", "catalog"), generated, add_product,
                   total=lambda state: len(state.product_ids), render=site.admin_item,
                   batch={"quantity": ("stock_quantity", int, 10), "backorders": ("backorders", str, "no")}))
add_set_stock(kit, SiteState.key_for_sku, change_stock, site.webhooks.deliver_all)
add_checkout(kit, SiteState.key_for_sku, sell, place, site.webhooks.deliver_all, begin=SiteState.allocate)
add_item_state(kit, lambda state: state.product_ids, SiteState.key_for_sku, SiteState.get, site.admin_item)
add_state_view(kit, "coupons", lambda state: [site.public(c) for c in state.coupons])
#: An order with its full refunds (not just the summaries).
add_order_view(kit, lambda state, order: {**site.public(order), "refunds_full": [
    site.public(r) for r in state.refunds.get(order["id"], [])]})
