"""WooCommerce's products and variations: list (paged, ``modified_after``, ``orderby``) and update.

``modified_after`` is strictly after and read in the site's zone unless ``dates_are_gmt``
(https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-products); variations live
under ``/products/{id}/variations`` (https://woocommerce.github.io/woocommerce-rest-api-docs/#product-variations);
a managed stock's ``stock_status`` follows its quantity and ``backorders``
(https://woocommerce.github.io/woocommerce-rest-api-docs/#product-properties).
"""
from __future__ import annotations

from typing import Any, Callable

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.woocommerce.site import (
    SiteState,
    deliver,
    kit,
    pages,
    product_json,
    refused,
    variation_json,
    when_after,
    with_stock,
    wp_body,
    wp_error,
)

EDITABLE = ("stock_quantity", "manage_stock", "backorders", "stock_status", "sku", "name")


def filtered(call: Call[SiteState], ids: list[int]) -> list[int]:
    """``modified_after``, then ``orderby`` (``date``, ``modified``; ``id``/``include``/``title``/``slug``
    keep the stored order) and ``order`` (``desc`` by default)."""
    state, query = call.state, call.query
    when = when_after(call)
    if when is not None:
        newer = {p for p, prod in state.catalog.stored.items() if prod["date_modified"] > when}
        wanted = newer | state.catalog.generated_since(when, strictly=True)
        ids = [p for p in ids if p in wanted]
    orderby = query.get("orderby", "date")
    if orderby in ("date", "modified"):
        field_name = "date_created" if orderby == "date" else "date_modified"
        ids = sorted(ids, key=lambda p: (state.get(p)[field_name], p))
    elif orderby not in ("id", "include", "title", "slug"):
        raise refused(call, wp_error("rest_invalid_param", "Invalid parameter(s): orderby", 400))
    return list(reversed(ids)) if query.get("order", "desc") == "desc" else ids


@kit.api.get("/products")
def list_products(call: Call[SiteState] = kit.call) -> Response:
    with call.state.lock:
        ids = filtered(call, list(call.state.product_ids))
        return pages.answer(call, ids, lambda p: product_json(call.state.get(p)))


@kit.api.get("/products/{product_id}/variations")
def list_variations(product_id: int, call: Call[SiteState] = kit.call) -> Response:
    with call.state.lock:
        parent = call.state.get(product_id)
        if parent is None or parent.get("parent_id"):
            raise call.refuse(wp_body("woocommerce_rest_product_invalid_id", "Invalid ID.", 404), 404)
        ids = filtered(call, list(parent.get("variations", [])))
        return pages.answer(call, ids, lambda v: variation_json(call.state.get(v)))


def apply_update(call: Call[SiteState], product: dict[str, Any], render: Callable[[dict], dict]) -> Response:
    payload: Any = call.body
    if not isinstance(payload, dict):
        raise call.refuse(wp_body("rest_invalid_json", "Invalid JSON body passed.", 400), 400)
    for key, allowed in (("backorders", ("no", "notify", "yes")),
                         ("stock_status", ("instock", "outofstock", "onbackorder"))):
        if key in payload and payload[key] not in allowed:
            raise call.refuse(wp_body("rest_invalid_param", f"Invalid parameter(s): {key}", 400), 400)
    state = call.state
    with state.lock:
        updated = with_stock(product, state.now(), **{k: payload[k] for k in EDITABLE if k in payload})
        state.store(updated)
    deliver(state, "product.updated", product_json(updated))
    return call.reply(render(updated))


@kit.api.put("/products/{product_id}")
def update_product(product_id: int, call: Call[SiteState] = kit.call) -> Response:
    product = call.state.get(product_id)
    if product is None:
        raise call.refuse(wp_body("woocommerce_rest_product_invalid_id", "Invalid ID.", 400), 400)
    if product["type"] == "variation":
        raise call.refuse(wp_body("woocommerce_rest_invalid_product_id",
                                  "To manipulate product variations you should use the "
                                  "/products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.", 404), 404)
    return apply_update(call, product, product_json)


@kit.api.put("/products/{product_id}/variations/{variation_id}")
def update_variation(product_id: int, variation_id: int, call: Call[SiteState] = kit.call) -> Response:
    variation = call.state.get(variation_id)
    if variation is None or variation.get("parent_id") != product_id:
        raise call.refuse(wp_body("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 400), 400)
    return apply_update(call, variation, variation_json)
