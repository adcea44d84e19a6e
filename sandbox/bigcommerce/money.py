"""BigCommerce's order refunds: a quote, then a refund paid as the quote offered.

Follows https://developer.bigcommerce.com/docs/store-operations/orders/refunds and the Payment
Actions reference (https://developer.bigcommerce.com/docs/rest-management/transactions/payment-actions):
``POST /v3/orders/{id}/payment_actions/refund_quotes`` ``{items: [{item_type: "PRODUCT", item_id,
quantity}]}`` answers 201 ``{data: {order_id, total_refund_amount, total_refund_tax_amount,
rounding, adjustment, tax_inclusive, refund_methods: [[{provider_id, provider_description, amount,
offline, offline_provider, offline_reason}]]}, meta: {}}``; ``POST …/refunds`` with the items,
``payments: [{provider_id, amount, offline}]`` and optionally ``merchant_calculated_override:
{total_amount, total_tax}`` answers 201 ``{data: refund}``; ``GET …/refunds`` lists them oldest
first. "The ``amount`` given in the array must match the ``amount`` used in the refund request":
payments must add up to the items' total (or the override's), each within what its provider may
pay back, and never past what the order has left to refund; otherwise 422 in the list form the
reference shows for this endpoint (``{"data": [{"status", "title", "type"}]}``; the titles are
assumed, the docs give none). The refund's ``reason`` is its items' reasons.
"""
from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.errors import STATUS_CODES
from sandbox.kit.money import cents_or, to_cents, to_money, whole_or
from sandbox.bigcommerce.api import orders
from sandbox.bigcommerce.store import Record, StoreState, fixtures, kit

ROOT = "/v3/orders/{order_id}/payment_actions"


def refused(call: Call[StoreState], title: str) -> Exception:
    return call.refuse({"data": [{"status": 422, "title": title, "type": STATUS_CODES}]}, 422)


def left(state: StoreState, order: Record) -> int:
    return to_cents(order["total"]) - sum(to_cents(r["total_amount"]) for r in state.refunds.get(order["id"], []))


def quote(call: Call[StoreState], order_id: int) -> tuple[Record, list[Record], Record]:
    """The order, the asked items and the quote: refund methods for their total."""
    order, asked = orders.find(call, order_id), (call.body or {}).get("items") if isinstance(call.body, dict) else None
    total = 0
    for item in asked if isinstance(asked, list) and asked else [{}]:
        line = next((ln for ln in order["lines"] if ln["id"] == item.get("item_id")), None)
        if item.get("item_type") != "PRODUCT" or line is None:
            raise refused(call, f"Order product {item.get('item_id')} does not exist on order {order_id}")
        if not 1 <= whole_or(item.get("quantity"), 0) <= line["quantity"] - line["quantity_refunded"]:
            raise refused(call, f"The quantity to refund for order product {line['id']} is more than is refundable")
        total += to_cents(line["price_inc_tax"]) * int(item["quantity"])
    methods = fixtures.fill("refund_methods", order, amount=float(to_money(min(total, left(call.state, order)))))
    return order, asked or [], fixtures.fill("refund_quote", order_id=order_id, total=float(to_money(total)),
                                             methods=methods)


@kit.api.post(ROOT + "/refund_quotes")
def refund_quote(order_id: int, call: Call[StoreState] = kit.call) -> Response:
    with call.state.lock:
        return call.reply({"data": quote(call, order_id)[2], "meta": {}}, 201)


@kit.api.post(ROOT + "/refunds")
def create_refund(order_id: int, call: Call[StoreState] = kit.call) -> Response:
    state = call.state
    with state.lock:
        order, asked, quoted = quote(call, order_id)
        body: dict[str, Any] = call.body
        override = body.get("merchant_calculated_override")
        expected = cents_or(override.get("total_amount"), -1) if isinstance(override, dict) else \
            to_cents(quoted["total_refund_amount"])
        offered = {o["provider_id"]: to_cents(o["amount"]) for method in quoted["refund_methods"] for o in method}
        payments = body.get("payments") if isinstance(body.get("payments"), list) else []
        paid = sum(cents_or(p.get("amount"), 0) for p in payments)
        if not payments or any(cents_or(p.get("amount"), -1) > offered.get(p.get("provider_id"), -1) for p in payments):
            raise refused(call, "A payment's provider or amount is not one the refund quote offers")
        if paid != expected or paid > left(state, order):
            raise refused(call, f"The payments ({to_money(paid)}) do not match the refund total ({to_money(expected)})")
        refund = fixtures.fill(
            "refund", id=state.allocate(), order_id=order_id, now=state.now(), amount=float(to_money(paid)),
            reason="; ".join(str(item.get("reason") or "") for item in asked).strip("; "),
            override=isinstance(override, dict), payments=[fixtures.fill("refund_payment", p, id=state.allocate(),
                                                                         offline=bool(p.get("offline"))) for p in payments],
            items=[fixtures.fill("refund_item", item, quantity=int(item["quantity"]), reason=item.get("reason", ""))
                   for item in asked])
        state.refunds.setdefault(order_id, []).append(refund)
        for item in asked:
            next(ln for ln in order["lines"] if ln["id"] == item["item_id"])["quantity_refunded"] += int(item["quantity"])
        rest = left(state, order)
        order.update(refunded=to_money(to_cents(order["total"]) - rest), modified=state.now(),
                     status_id=4 if rest <= 0 else 14, status="Refunded" if rest <= 0 else "Partially Refunded")
        return call.reply({"data": refund, "meta": {}}, 201)


@kit.api.get(ROOT + "/refunds")
def list_refunds(order_id: int, call: Call[StoreState] = kit.call) -> Response:
    with call.state.lock:
        return call.reply({"data": list(call.state.refunds.get(orders.find(call, order_id)["id"], [])), "meta": {}})
