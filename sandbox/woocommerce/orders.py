"""WooCommerce's orders: list (paged, ``modified_after``), read, and create as the v3 controller does.

https://woocommerce.github.io/woocommerce-rest-api-docs/#orders: ``POST orders`` takes
``line_items`` by ``product_id`` / ``variation_id``, ``set_paid`` makes it ``processing``, and an
order created in a status that reduces stock (``wc_maybe_reduce_stock_levels``) takes it from
its products.
"""
from __future__ import annotations

from typing import Any

from sandbox.kit import (Call, Collection, Rule, Sorting, is_object, list_of_objects, one_of, parses, since,
                         to_cents, to_money)
from sandbox.woocommerce import site
from sandbox.woocommerce.site import INVALID_JSON, SiteState, api, kit

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")
#: Statuses in which WooCommerce has reduced the stock of the order's items
#: (``wc_maybe_reduce_stock_levels``).
STOCK_REDUCING = ("processing", "on-hold", "completed")
BAD_LINES = ("rest_invalid_param", "Invalid parameter(s): line_items")
orders = Collection(
    "orders", site.pages, lambda call: [o["id"] for o in call.state.orders], lambda state, i: state.find_order(i),
    site.public, filters=(since("modified_after", lambda o: o["_modified"], site.modified_after, strictly=True),),
    sort=Sorting({"id": lambda order: order["id"]}, param=None, default="id"),
    missing=lambda: site.error("order:unknown")[0])


def product_of(state: SiteState, line: dict[str, Any]) -> dict[str, Any] | None:
    """The line's product (its variation when it names one, which must belong to ``product_id``)."""
    product = state.get(int(line.get("variation_id") or line.get("product_id")))
    wrong_parent = line.get("variation_id") and product and product.get("parent_id") != int(line.get("product_id") or 0)
    return None if wrong_parent else product


NEW_ORDER = site.schema(
    Rule("", is_object, INVALID_JSON, 400),
    Rule("status", one_of(ORDER_STATUSES), ("rest_invalid_param", "Invalid parameter(s): status", {
        "params": {"status": "status is not one of " + ", ".join(ORDER_STATUSES) + "."}}), 400),
    Rule("line_items", list_of_objects, BAD_LINES, 400),
    Rule("line_items[]", lambda line, _, s: bool(line.get("variation_id") or line.get("product_id")),
         ("woocommerce_rest_required_product_reference", "Product ID or SKU is required."), 400),
    #: what the controller casts: the product reference, the quantity, the money
    Rule("line_items[]", lambda line, _, s: parses(int)(line.get("variation_id") or line.get("product_id"), line, s),
         BAD_LINES, 400),
    Rule("line_items[].quantity", parses(int), BAD_LINES, 400),
    *(Rule(f"line_items[].{key}", parses(to_cents, allow_null=True), BAD_LINES, 400) for key in ("subtotal", "total")),
    Rule("line_items[]", lambda line, _, state: product_of(state, line) is not None,
         ("woocommerce_rest_invalid_product_id", "Invalid product ID."), 400),
    Rule("line_items[]", lambda line, _, s: int(line.get("quantity", 1)) > 0,
         ("woocommerce_rest_invalid_product_quantity", "Product quantity must be a positive float."), 400))


def build_order(call: Call[SiteState]) -> dict[str, Any]:
    """The order as the REST API answers it, validated as the v3 controller does; stock reduced when
    it is created paid or processing."""
    NEW_ORDER.enforce(call, call.body)
    state, payload = call.state, call.body
    now, order_id = state.now(), state.allocate()
    status = "processing" if payload.get("set_paid") else payload.get("status", "pending")
    items, reduced = [], []
    for spec in payload.get("line_items") or []:
        product, quantity = product_of(state, spec), int(spec.get("quantity", 1))
        subtotal = to_cents(spec["subtotal"]) if spec.get("subtotal") is not None else 1000 * quantity
        total = to_cents(spec["total"]) if spec.get("total") is not None else subtotal
        items.append(site.order_line(product, quantity, price=subtotal / 100 / quantity,
                                     subtotal=to_money(subtotal), total=to_money(total), meta_data=[]))
        if status in STOCK_REDUCING and product["manage_stock"]:
            reduced.append(state.move_stock(site.STOCK, product, -quantity, now))
    order = site.public(state.add_order(
        site.DATES, order_id, now, items, status=status, currency=payload.get("currency", "USD"),
        customer_id=int(payload.get("customer_id") or 0), created_via="rest-api",
        date_paid=site.local(now) if payload.get("set_paid") else None,
        discount_total=to_money(sum(to_cents(i["subtotal"]) - to_cents(i["total"]) for i in items)),
        total=to_money(sum(to_cents(i["total"]) for i in items)), billing=payload.get("billing") or {},
        shipping=payload.get("shipping") or {}, payment_method=payload.get("payment_method", ""),
        payment_method_title=payload.get("payment_method_title", ""), customer_note=payload.get("customer_note", ""),
        meta_data=[{"id": state.allocate(), "key": m.get("key"), "value": m.get("value")}
                   for m in payload.get("meta_data") or [] if isinstance(m, dict)]))
    call.emit("order.created", order)
    call.emit("product.updated", *(site.product_json(product) for product in reduced))
    return order


orders.listing(kit, "/orders")
orders.reading(kit, "/orders/{order_id}", "order_id")
api.write("POST", "/orders", None, build_order, 201)
