"""WooCommerce's money: an order's refunds (``api_refund`` through the gateway, ``api_restock``)
and coupons.

Refunds follow https://woocommerce.github.io/woocommerce-rest-api-docs/#order-refunds and
``wc_create_refund`` / ``wc_refund_payment``: the amount may not exceed what is left, and asking
the gateway to pay back needs a gateway that ``supports('refunds')``. Coupons follow
https://woocommerce.github.io/woocommerce-rest-api-docs/#coupons (codes are unique, lower case).
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
    refused,
    with_stock,
    wp_error,
)

#: Gateways that implement ``process_refund`` (``supports('refunds')``) vs. core offline ones that do not.
REFUNDING_GATEWAYS = frozenset({"stripe", "woocommerce_payments", "ppcp-gateway", "square_credit_card"})
OFFLINE_GATEWAYS = frozenset({"bacs", "cheque", "cod"})
CANNOT_REFUND = "woocommerce_rest_cannot_create_order_refund"


def refunded_cents(state: SiteState, order_id: int) -> int:
    return sum(to_cents(r["amount"]) for r in state.refunds.get(order_id, []))


def refund_line_items(order: dict[str, Any], specs: Any) -> tuple[list[dict[str, Any]], str | None]:
    """``line_items: [{id, quantity, refund_total, refund_tax}]`` checked against the order's lines."""
    if specs in (None, []):
        return [], None
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        return [], "line_items"
    by_id = {line["id"]: line for line in order["line_items"]}
    lines = []
    for spec in specs:
        try:
            line = by_id.get(int(spec.get("id")))
            quantity = int(spec.get("quantity") or 0)
            total = to_cents(spec.get("refund_total") or 0)
        except (TypeError, ValueError):
            return [], "line_items"
        if line is None:
            return [], "line_items"
        lines.append({"line": line, "quantity": quantity, "total": total})
    return lines, None


def gateway_refund_error(order: dict[str, Any]) -> str | None:
    """``wc_refund_payment``'s refusals when ``api_refund`` asks the gateway to pay the money back."""
    method = order.get("payment_method") or ""
    if method in REFUNDING_GATEWAYS:
        return None
    if method in OFFLINE_GATEWAYS:
        return "The payment gateway for this order does not support automatic refunds."
    return "The payment gateway for this order does not exist."


def refund_json(refund: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in refund.items() if not k.startswith("_")}


def build_refund(state: SiteState, order: dict[str, Any], payload: dict[str, Any], cents: int,
                 lines: list[dict[str, Any]], refunded_payment: bool) -> dict[str, Any]:
    """The ``shop_order_refund``: negative line items pointing at the order lines they refund."""
    now = state.now()
    refund_id = state.allocate()
    items = [{"id": state.allocate(), "name": item["line"]["name"], "product_id": item["line"]["product_id"],
              "variation_id": item["line"]["variation_id"], "quantity": -item["quantity"], "tax_class": "",
              "subtotal": to_money(-item["total"]), "subtotal_tax": "0.00", "total": to_money(-item["total"]),
              "total_tax": "0.00", "taxes": [], "sku": item["line"]["sku"],
              "price": -(item["total"] / 100 / item["quantity"]) if item["quantity"] else 0,
              "meta_data": [{"id": state.allocate(), "key": "_refunded_item_id",
                             "value": str(item["line"]["id"])}]} for item in lines]
    return {"id": refund_id, "date_created": local(now), "date_created_gmt": gmt(now), "amount": to_money(cents),
            "reason": str(payload.get("reason") or ""), "refunded_by": 1, "refunded_payment": refunded_payment,
            "meta_data": [], "line_items": items, "tax_lines": [], "shipping_lines": [], "fee_lines": [],
            "_order_id": order["id"]}


def apply_refund(state: SiteState, order: dict[str, Any], refund: dict[str, Any],
                 lines: list[dict[str, Any]], restock: bool) -> list[dict[str, Any]]:
    """Attach the refund to its order (``refunds`` summary, status) and restock its items."""
    now = state.now()
    state.refunds.setdefault(order["id"], []).insert(0, refund)
    order["refunds"].insert(0, {"id": refund["id"], "reason": refund["reason"], "total": f"-{refund['amount']}"})
    if refunded_cents(state, order["id"]) >= to_cents(order["total"]):
        order["status"] = "refunded"
    order["date_modified"], order["date_modified_gmt"], order["_modified"] = local(now), gmt(now), now
    restocked = []
    for item in lines if restock else []:
        pid = item["line"]["variation_id"] or item["line"]["product_id"]
        product = state.get(pid)
        if product is None or not product["manage_stock"] or item["quantity"] <= 0:
            continue
        product = with_stock(product, now, stock_quantity=(product["stock_quantity"] or 0) + item["quantity"])
        state.store(product)
        restocked.append(product)
    return restocked


COUPON_TYPES = ("percent", "fixed_cart", "fixed_product")


def coupon_json(coupon: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in coupon.items() if not k.startswith("_")}


def build_coupon(state: SiteState, payload: dict[str, Any]) -> dict[str, Any]:
    now = state.now()
    return {"id": state.allocate(), "code": str(payload["code"]).strip().lower(),
            "amount": to_money(to_cents(payload.get("amount") or 0)), "status": "publish",
            "date_created": local(now), "date_created_gmt": gmt(now),
            "date_modified": local(now), "date_modified_gmt": gmt(now),
            "discount_type": payload.get("discount_type", "fixed_cart"), "description": payload.get("description", ""),
            "date_expires": payload.get("date_expires"), "date_expires_gmt": payload.get("date_expires"),
            "usage_count": 0, "individual_use": bool(payload.get("individual_use", False)),
            "product_ids": [], "excluded_product_ids": [], "usage_limit": payload.get("usage_limit"),
            "usage_limit_per_user": payload.get("usage_limit_per_user"), "limit_usage_to_x_items": None,
            "free_shipping": bool(payload.get("free_shipping", False)), "product_categories": [],
            "excluded_product_categories": [], "exclude_sale_items": bool(payload.get("exclude_sale_items", False)),
            "minimum_amount": "0.00", "maximum_amount": "0.00",
            "email_restrictions": [str(e).lower() for e in payload.get("email_restrictions") or []],
            "used_by": [], "meta_data": []}


def coupon_errors(state: SiteState, payload: Any) -> JSONResponse | None:
    """The coupons controller's refusals: missing code, bad type or amount, a code already in use."""
    if not isinstance(payload, dict):
        return wp_error("rest_invalid_json", "Invalid JSON body passed.", 400)
    if not str(payload.get("code") or "").strip():
        return wp_error("rest_missing_callback_param", "Missing parameter(s): code", 400, params=["code"])
    if payload.get("discount_type", "fixed_cart") not in COUPON_TYPES:
        return wp_error("rest_invalid_param", "Invalid parameter(s): discount_type", 400)
    try:
        to_cents(payload.get("amount") or 0)
    except ValueError:
        return wp_error("rest_invalid_param", "Invalid parameter(s): amount", 400)
    code = str(payload["code"]).strip().lower()
    if any(c["code"] == code for c in state.coupons):
        return wp_error("woocommerce_rest_coupon_code_already_exists", "The coupon code already exists", 400)
    return None


def refund_refusal(state: SiteState, order: dict[str, Any] | None, payload: Any,
                   ) -> tuple[JSONResponse | None, int, list[dict[str, Any]]]:
    """The v3 controller's and ``wc_create_refund``'s checks, in their order; (refusal, cents, lines)."""
    if order is None:
        return wp_error("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404), 0, []
    if not isinstance(payload, dict):
        return wp_error("rest_invalid_json", "Invalid JSON body passed.", 400), 0, []
    lines, bad = refund_line_items(order, payload.get("line_items"))
    if bad:
        return wp_error("rest_invalid_param", f"Invalid parameter(s): {bad}", 400), 0, []
    try:
        cents = (to_cents(payload["amount"]) if payload.get("amount") not in (None, "")
                 else sum(item["total"] for item in lines))
    except ValueError:
        return wp_error("rest_invalid_param", "Invalid parameter(s): amount", 400), 0, []
    if cents < 0:
        return wp_error("woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.",
                        400), 0, []
    if cents > to_cents(order["total"]) - refunded_cents(state, order["id"]):
        return wp_error(CANNOT_REFUND, "Invalid refund amount.", 500), 0, []
    gateway_error = gateway_refund_error(order) if payload.get("api_refund", True) is not False else None
    if gateway_error:
        return wp_error(CANNOT_REFUND, gateway_error, 500), 0, []
    return None, cents, lines


@kit.api.get("/orders/{order_id}/refunds")
def list_refunds(order_id: int, call: Call[SiteState] = kit.call) -> Response:
    with call.state.lock:
        if call.state.find_order(order_id) is None:
            raise refused(call, wp_error("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404))
        by_id = {r["id"]: r for r in call.state.refunds.get(order_id, [])}
        return pages.answer(call, list(by_id), lambda rid: refund_json(by_id[rid]))


@kit.api.post("/orders/{order_id}/refunds")
def create_refund(order_id: int, call: Call[SiteState] = kit.call) -> Response:
    state, payload = call.state, call.body
    with state.lock:
        order = state.find_order(order_id)
        refusal, cents, lines = refund_refusal(state, order, payload)
        if refusal is not None:
            raise refused(call, refusal)
        refund = build_refund(state, order, payload, cents, lines,
                              refunded_payment=payload.get("api_refund", True) is not False)
        restocked = apply_refund(state, order, refund, lines, payload.get("api_restock", True) is not False)
    for product in restocked:
        deliver(state, "product.updated", product_json(product))
    return call.reply(refund_json(refund), 201)


@kit.api.post("/coupons")
def create_coupon(call: Call[SiteState] = kit.call) -> Response:
    with call.state.lock:
        refusal = coupon_errors(call.state, call.body)
        if refusal is not None:
            raise refused(call, refusal)
        coupon = build_coupon(call.state, call.body)
        call.state.coupons.append(coupon)
    return call.reply(coupon_json(coupon), 201)


@kit.api.get("/coupons")
def list_coupons(call: Call[SiteState] = kit.call) -> Response:
    code = call.query.get("code")
    with call.state.lock:
        by_id = {c["id"]: c for c in call.state.coupons if code is None or c["code"] == code.strip().lower()}
        return pages.answer(call, sorted(by_id, reverse=True), lambda cid: coupon_json(by_id[cid]))


@kit.api.get("/coupons/{coupon_id}")
def get_coupon(coupon_id: int, call: Call[SiteState] = kit.call) -> Response:
    with call.state.lock:
        coupon = next((coupon_json(c) for c in call.state.coupons if c["id"] == coupon_id), None)
    if coupon is None:
        raise refused(call, wp_error("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.", 404))
    return call.reply(coupon)
