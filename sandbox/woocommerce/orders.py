"""WooCommerce's orders: list (paged, ``modified_after``), read, and create as the v3 controller does.

https://woocommerce.github.io/woocommerce-rest-api-docs/#orders: ``POST orders`` takes
``line_items`` by ``product_id`` / ``variation_id``, ``set_paid`` makes it ``processing``, and an
order created in a status that reduces stock (``wc_maybe_reduce_stock_levels``) takes it from
its products.
"""
from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response

from sandbox.kit.money import to_cents, to_money
from sandbox.kit import Call
from sandbox.woocommerce.site import (
    SiteState,
    deliver,
    gmt,
    kit,
    local,
    pages,
    product_json,
    public,
    refused,
    when_after,
    with_stock,
    wp_error,
)

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")
#: Statuses in which WooCommerce has reduced the stock of the order's items
#: (``wc_maybe_reduce_stock_levels``).
STOCK_REDUCING = ("processing", "on-hold", "completed")


def order_refusal(state: SiteState, payload: Any
                  ) -> tuple[JSONResponse | None, list[tuple[dict[str, Any], dict]]]:
    """The orders controller's checks on a create: (refusal, [(product, line spec)])."""
    if not isinstance(payload, dict):
        return wp_error("rest_invalid_json", "Invalid JSON body passed.", 400), []
    if payload.get("status", "pending") not in ORDER_STATUSES:
        return wp_error("rest_invalid_param", "Invalid parameter(s): status", 400,
                        params={"status": "status is not one of " + ", ".join(ORDER_STATUSES) + "."}), []
    specs = payload.get("line_items") or []
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        return wp_error("rest_invalid_param", "Invalid parameter(s): line_items", 400), []
    lines = []
    for spec in specs:
        pid = spec.get("variation_id") or spec.get("product_id")
        if not pid:
            return wp_error("woocommerce_rest_required_product_reference", "Product ID or SKU is required.",
                            400), []
        try:
            product = state.get(int(pid))
            quantity = int(spec.get("quantity", 1))
            for key in ("subtotal", "total"):
                if spec.get(key) is not None:
                    to_cents(spec[key])
        except (TypeError, ValueError):
            return wp_error("rest_invalid_param", "Invalid parameter(s): line_items", 400), []
        wrong_parent = spec.get("variation_id") and product is not None and \
            product.get("parent_id") != int(spec.get("product_id") or 0)
        if product is None or wrong_parent:
            return wp_error("woocommerce_rest_invalid_product_id", "Invalid product ID.", 400), []
        if quantity <= 0:
            return wp_error("woocommerce_rest_invalid_product_quantity",
                            "Product quantity must be a positive float.", 400), []
        lines.append((product, spec))
    return None, lines


def build_order(state: SiteState, payload: dict[str, Any], lines: list[tuple[dict[str, Any], dict]]
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order as the REST API answers it; stock reduced when it is created paid or processing."""
    now = state.now()
    order_id = state.allocate()
    status = "processing" if payload.get("set_paid") else payload.get("status", "pending")
    items, reduced = [], []
    for n, (product, spec) in enumerate(lines):
        quantity = int(spec.get("quantity", 1))
        subtotal = to_cents(spec["subtotal"]) if spec.get("subtotal") is not None else 1000 * quantity
        total = to_cents(spec["total"]) if spec.get("total") is not None else subtotal
        items.append({"id": order_id * 100 + n, "name": product["name"],
                      "product_id": product["parent_id"] or product["id"],
                      "variation_id": product["id"] if product["parent_id"] else 0, "quantity": quantity,
                      "sku": product["sku"], "price": subtotal / 100 / quantity,
                      "subtotal": to_money(subtotal),
                      "total": to_money(total), "meta_data": []})
        if status in STOCK_REDUCING and product["manage_stock"]:
            product = with_stock(product, now, stock_quantity=(product["stock_quantity"] or 0) - quantity)
            state.store(product)
            reduced.append(product)
    total = sum(to_cents(i["total"]) for i in items)
    order = {"id": order_id, "number": str(order_id), "status": status,
             "currency": payload.get("currency", "USD"),
             "customer_id": int(payload.get("customer_id") or 0), "created_via": "rest-api",
             "date_created": local(now), "date_created_gmt": gmt(now),
             "date_modified": local(now), "date_modified_gmt": gmt(now),
             "date_paid": local(now) if payload.get("set_paid") else None,
             "discount_total": to_money(sum(to_cents(i["subtotal"]) - to_cents(i["total"]) for i in items)),
             "total": to_money(total), "billing": payload.get("billing") or {},
             "shipping": payload.get("shipping") or {},
             "payment_method": payload.get("payment_method", ""),
             "payment_method_title": payload.get("payment_method_title", ""),
             "customer_note": payload.get("customer_note", ""),
             "meta_data": [{"id": state.allocate(), "key": m.get("key"), "value": m.get("value")}
                           for m in payload.get("meta_data") or [] if isinstance(m, dict)],
             "line_items": items, "refunds": [], "_modified": now}
    state.orders.append(order)
    return order, reduced


@kit.api.get("/orders")
def list_orders(call: Call[SiteState] = kit.call) -> Response:
    when = when_after(call)
    with call.state.lock:
        by_id = {o["id"]: o for o in call.state.orders if when is None or o["_modified"] > when}
        ids = sorted(by_id, reverse=call.query.get("order", "desc") == "desc")
        return pages.answer(call, ids, lambda i: public(by_id[i]))


@kit.api.get("/orders/{order_id}")
def get_order(order_id: int, call: Call[SiteState] = kit.call) -> Response:
    with call.state.lock:
        order = call.state.find_order(order_id)
        body = public(order) if order else None
    if body is None:
        raise refused(call, wp_error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404))
    return call.reply(body)


@kit.api.post("/orders")
def create_order(call: Call[SiteState] = kit.call) -> Response:
    """Validated as the v3 controller does, answered 201 with the order."""
    state = call.state
    with state.lock:
        refusal, lines = order_refusal(state, call.body)
        if refusal is not None:
            raise refused(call, refusal)
        order, reduced = build_order(state, call.body, lines)
        body = public(order)
    deliver(state, "order.created", body)
    for product in reduced:
        deliver(state, "product.updated", product_json(product))
    return call.reply(body, 201)
