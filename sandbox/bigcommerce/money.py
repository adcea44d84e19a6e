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
from sandbox.kit.errors import problem
from sandbox.kit.money import cents_or, to_cents, to_money, whole_or
from sandbox.bigcommerce.api import find_order
from sandbox.bigcommerce.store import Record, StoreState, fixtures, kit

ROOT = "/v3/orders/{order_id}/payment_actions"


def refused(call: Call[StoreState], title: str) -> Exception:
    return call.refuse({"data": [{k: v for k, v in problem(422, title).items() if k != "errors"}]}, 422)


def left(state: StoreState, order: Record) -> int:
    return to_cents(order["total"]) - sum(to_cents(r["total_amount"]) for r in state.refunds.get(order["id"], []))


def quote(call: Call[StoreState], order_id: int) -> tuple[Record, list[Record], Record]:
    """The order, the asked items and the quote: refund methods for their total."""
    order, asked = find_order(call, order_id), (call.body or {}).get("items") if isinstance(call.body, dict) else None
    total = 0
    for item in asked if isinstance(asked, list) and asked else [{}]:
        line = next((ln for ln in order["lines"] if ln["id"] == item.get("item_id")), None)
        if item.get("item_type") != "PRODUCT" or line is None:
            raise refused(call, f"Order product {item.get('item_id')} does not exist on order {order_id}")
        if not 1 <= whole_or(item.get("quantity"), 0) <= line["quantity"] - line["quantity_refunded"]:
            raise refused(call, f"The quantity to refund for order product {line['id']} is more than is refundable")
        total += to_cents(line["price_inc_tax"]) * int(item["quantity"])
    room = min(total, left(call.state, order))
    methods = [[option(order["provider"], "Credit Card", room, False)], [option("storecredit", "Store Credit", room)],
               [option("custom", "Custom", room, True)]]
    return order, asked or [], {"order_id": order_id, "total_refund_amount": float(to_money(total)),
                                "total_refund_tax_amount": 0, "order_level_refund_amount": 0, "rounding": 0,
                                "adjustment": 0, "tax_inclusive": True, "refund_methods": methods}


def option(provider: str, description: str, cents: int, offline: bool = False) -> Record:
    return fixtures.fill("refund_option", provider_id=provider, description=description, amount=float(to_money(cents)),
                         offline=offline, reason="This is an offline payment provider." if offline else "")


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
        refund = {"id": state.allocate(), "order_id": order_id, "user_id": 0, "created": state.now().isoformat(),
                  "reason": "; ".join(str(item.get("reason") or "") for item in asked).strip("; "),
                  "total_amount": float(to_money(paid)), "total_tax": 0,
                  "uses_merchant_override_values": isinstance(override, dict),
                  "items": [{"item_type": "PRODUCT", "item_id": item["item_id"], "quantity": int(item["quantity"]),
                             "requested_amount": None, "reason": item.get("reason", "")} for item in asked],
                  "payments": [{"id": state.allocate(), "provider_id": p["provider_id"], "amount": p["amount"],
                                "offline": bool(p.get("offline")), "is_declined": False, "declined_message": ""}
                               for p in payments]}
        state.refunds.setdefault(order_id, []).append(refund)
        for item in asked:
            next(ln for ln in order["lines"] if ln["id"] == item["item_id"])["quantity_refunded"] += int(item["quantity"])
        order.update(refunded=to_money(to_cents(order["total"]) - left(state, order)), modified=state.now(),
                     status_id=4 if left(state, order) <= 0 else 14,
                     status="Refunded" if left(state, order) <= 0 else "Partially Refunded")
        return call.reply({"data": refund, "meta": {}}, 201)


@kit.api.get(ROOT + "/refunds")
def list_refunds(order_id: int, call: Call[StoreState] = kit.call) -> Response:
    with call.state.lock:
        return call.reply({"data": list(call.state.refunds.get(find_order(call, order_id)["id"], [])), "meta": {}})
