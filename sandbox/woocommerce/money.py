"""WooCommerce's money: an order's refunds (``api_refund`` through the gateway, ``api_restock``)
and coupons.

Refunds follow https://woocommerce.github.io/woocommerce-rest-api-docs/#order-refunds and
``wc_create_refund`` / ``wc_refund_payment``: the amount may not exceed what is left, and asking
the gateway to pay back needs a gateway that ``supports('refunds')``. Coupons follow
https://woocommerce.github.io/woocommerce-rest-api-docs/#coupons (codes are unique, lower case).

The rules (caps, field reading, unique codes) are ``sandbox.kit.ledger``'s and the reads are
declared on ``sandbox.kit.endpoints``; this module declares WooCommerce's fields and its JSON, and
serves the endpoints (``site.REFUSALS`` holds the error body of each refusal).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.kit import (Call, Codes, Collection, Context, FALSY, Field, Filter, Issued, Json, Ledger, Refusal,
                         an_object, asked_lines, read, to_cents, to_money)
from sandbox.woocommerce.site import (DATES, STOCK, SiteState, api, error, fixture, kit, pages, product_json,
                                      public)

#: Gateways that implement ``process_refund`` (``supports('refunds')``) vs. core offline ones that do not.
REFUNDING_GATEWAYS = frozenset({"stripe", "woocommerce_payments", "ppcp-gateway", "square_credit_card"})
OFFLINE_GATEWAYS = frozenset({"bacs", "cheque", "cod"})

#: A refund's ``line_items``: lines of the order; like PHP, a falsy quantity or total is 0.
REFUND_LINE = {"id": Field(int, within="lines"), "quantity": Field(int, 0, FALSY),
               "refund_total": Field(to_cents, 0, FALSY)}
#: ``amount`` wins over the lines' totals when given.
REFUND = {"amount": Field(to_cents, None, (None, ""))}
#: Coupon codes are trimmed, lower case and unique in the store (``wc_get_coupon_id_by_code``).
COUPON_CODES = Codes(normalize=lambda code: code.strip().lower())


def new_coupon(state: SiteState, asked: Json, now: datetime) -> Json:
    return {"id": state.allocate(), "code": asked["code"], **fixture("coupon"), **asked,
            "amount": to_money(asked["amount"]), **DATES.pairs(date_created=now, date_modified=now),
            "date_expires_gmt": asked["date_expires"]}


#: The coupons controller: a code first, a known type and amount, then a code not in use yet.
COUPONS = Issued("coupons", {
    "code": Field(COUPON_CODES.read),
    "discount_type": Field(default="fixed_cart", choices=("percent", "fixed_cart", "fixed_product")),
    "amount": Field(to_cents, 0, FALSY), "description": Field(default=""),
    **dict.fromkeys(("date_expires", "usage_limit", "usage_limit_per_user"), Field(default=None)),
    **dict.fromkeys(("individual_use", "free_shipping", "exclude_sale_items"), Field(bool, False)),
    "email_restrictions": Field(lambda emails: [str(e).lower() for e in emails or []], [])}, COUPON_CODES, new_coupon)


def refund_request(state: SiteState, order_id: int, body: Any) -> tuple[Json, Json, list[Json], int, Ledger[int]]:
    """The v3 controller's and ``wc_create_refund``'s checks, in their order: the order, the request,
    its lines, its amount, and the order's ledger with that amount taken."""
    order, payload = state.order(order_id), an_object(body, "body")
    known = {"lines": {line["id"]: line for line in order["line_items"]}}
    lines = asked_lines(payload, "line_items", REFUND_LINE, Context(known), "id",
                        lambda ask, line: {**ask, "line": line})
    amount = read(payload, REFUND)["amount"]
    cents = sum(line["refund_total"] for line in lines) if amount is None else amount
    if cents < 0:
        raise Refusal("amount", "least")
    paid = Ledger([(order_id, to_cents(order["total"]))], [(order_id, to_cents(r["amount"]))
                                                           for r in state.refunds.get(order_id, [])])
    paid.take(order_id, cents, "amount")
    method = order.get("payment_method") or ""
    if payload.get("api_refund", True) is not False and method not in REFUNDING_GATEWAYS:
        raise Refusal("gateway", "offline" if method in OFFLINE_GATEWAYS else "unknown")
    return order, payload, lines, cents, paid


def record_refund(call: Call[SiteState], order_id: int) -> Json:
    """Store the ``shop_order_refund`` (negative lines pointing at the ones they refund) on its order and
    restock its items unless ``api_restock`` is false, each restocked product announced."""
    state = call.state
    order, payload, lines, cents, paid = refund_request(state, order_id, call.body)
    now, refund_id = state.now(), state.allocate()
    items = [fixture.fill("refund_item", ask["line"], id=state.allocate(), quantity=-ask["quantity"],
                          total=to_money(-ask["refund_total"]), meta_id=state.allocate(), refunded=ask["id"],
                          price=-(ask["refund_total"] / 100 / ask["quantity"]) if ask["quantity"] else 0)
             for ask in lines]
    refund = fixture.fill("refund", id=refund_id, now=now, amount=to_money(cents), line_items=items,
                          reason=str(payload.get("reason") or ""), order_id=order_id,
                          refunded_payment=payload.get("api_refund", True) is not False)
    state.refunds.setdefault(order_id, []).insert(0, refund)
    order["refunds"].insert(0, {"id": refund_id, "reason": refund["reason"], "total": f"-{refund['amount']}"})
    if paid.room(order_id) <= 0:
        order["status"] = "refunded"
    order.update(DATES.pairs(date_modified=now), _modified=now)
    for ask in lines if payload.get("api_restock", True) is not False else []:
        product = state.get(ask["line"]["variation_id"] or ask["line"]["product_id"])
        if product is not None and product["manage_stock"] and ask["quantity"] > 0:
            call.emit("product.updated", product_json(state.move_stock(STOCK, product, ask["quantity"], now)))
    return refund


api.many("/orders/{order_id}/refunds", None, lambda state, order_id: [
    public(r) for r in state.refunds.get(state.order(order_id)["id"], [])], pages=pages)
api.write("POST", "/orders/{order_id}/refunds", None, lambda call, order_id: public(record_refund(call, order_id)), 201)
api.write("POST", "/coupons", None, lambda call: public(COUPONS.issue(call.state, call.body)), 201)


#: ``GET coupons`` (newest first; ``code`` as ``wc_get_coupon_id_by_code`` reads it, empty: every
#: coupon) and ``GET coupons/{id}``.
coupons = Collection("coupons", pages, lambda call: sorted((c["id"] for c in call.state.coupons), reverse=True),
                     lambda state, cid: next((c for c in state.coupons if c["id"] == cid), None), public,
                     filters=(Filter("code", test=lambda coupon, code: coupon["code"] == code.strip().lower()),),
                     missing=lambda: error("coupon:unknown")[0])
coupons.listing(kit, "/coupons")
coupons.reading(kit, "/coupons/{coupon_id}", "coupon_id")
