"""WooCommerce's products and variations: list (paged, ``modified_after``, ``orderby``) and update.

``modified_after`` is strictly after and read in the site's zone unless ``dates_are_gmt``
(https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-products); variations live
under ``/products/{id}/variations`` (https://woocommerce.github.io/woocommerce-rest-api-docs/#product-variations);
a managed stock's ``stock_status`` follows its quantity and ``backorders``
(https://woocommerce.github.io/woocommerce-rest-api-docs/#product-properties).
"""
from __future__ import annotations

from typing import Any, Callable

from sandbox.kit import Call, Collection, Rule, Sorting, is_object, one_of
from sandbox.woocommerce import site
from sandbox.woocommerce.site import INVALID_JSON, SiteState, api, kit

EDITABLE = ("stock_quantity", "manage_stock", "backorders", "stock_status", "sku", "name")
#: ``orderby``: by date or modified date; ``id``/``include``/``title``/``slug`` keep the stored order.
ORDER_BY = Sorting({"date": lambda p: p["date_created"], "modified": lambda p: p["date_modified"],
                    "id": None, "include": None, "title": None, "slug": None})
products = Collection("products", site.pages, lambda call: list(call.state.product_ids), SiteState.get,
                      site.product_json, filters=(site.changed_after,), sort=ORDER_BY)


def variations_of(call: Call[SiteState]) -> list[int]:
    parent = call.state.get(int(call.path_param("product_id")))
    if parent is None or parent.get("parent_id"):
        raise call.refuse(*site.error("parent:unknown"))
    return list(parent.get("variations", []))


variations = Collection("variations", site.pages, variations_of, SiteState.get, site.variation_json,
                        filters=(site.changed_after,), sort=ORDER_BY)
UPDATE = site.schema(
    Rule("", is_object, INVALID_JSON, 400),
    *(Rule(key, one_of(allowed), ("rest_invalid_param", f"Invalid parameter(s): {key}"), 400)
      for key, allowed in (("backorders", ("no", "notify", "yes")),
                           ("stock_status", ("instock", "outofstock", "onbackorder")))))


products.listing(kit, "/products")
variations.listing(kit, "/products/{product_id}/variations")


def apply_update(call: Call[SiteState], product: dict[str, Any] | None, render: Callable[[dict], dict],
                 missing: str) -> dict[str, Any]:
    """The product (or variation) changed as the body says, stored and announced; else the error ``missing``."""
    if product is None:
        raise call.refuse(*site.error(missing))
    UPDATE.enforce(call, call.body)
    updated = site.with_stock(product, call.state.now(), **{k: call.body[k] for k in EDITABLE if k in call.body})
    call.state.store(updated)
    call.emit("product.updated", site.product_json(updated))
    return render(updated)


def update_product(call: Call[SiteState], product_id: int) -> dict[str, Any]:
    product = call.state.get(product_id)
    if product is not None and product["type"] == "variation":
        raise call.refuse(*site.error("product:variation"))
    return apply_update(call, product, site.product_json, "product:unknown")


def update_variation(call: Call[SiteState], product_id: int, variation_id: int) -> dict[str, Any]:
    variation = call.state.get(variation_id)
    return apply_update(call, variation if variation and variation.get("parent_id") == product_id else None,
                        site.variation_json, "variation:unknown")


api.write("PUT", "/products/{product_id}", None, update_product)
api.write("PUT", "/products/{product_id}/variations/{variation_id}", None, update_variation)
