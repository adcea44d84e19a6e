"""Refunding or crediting a cancelled backorder line through its store, once.

The platform call happens between two transactions, never inside one: the first reads what to
refund, the second records the platform's answer and writes the customer's notice. The request
carries ``backorder-{id}`` as its idempotency key, and each connector refunds or credits at most
once per key (``connectors.base``), so a retry after a lost answer finds the first refund
instead of paying twice. The decision is stored through the refund policy as the built-in rule
"backorder auto-cancel" (``domain.policy.refunds``), once per backorder. A transient platform
error propagates to the task, which retries it (``tasks.base.DbTask``); a permanent one fails
the task.
"""
from __future__ import annotations

import domain.core.env_settings as runtime_settings
from connectors.base import Connector
from connectors.types import RefundRequest
from domain.core import audit, blocked_writes
from domain.core.clock import utcnow
from domain.core.models import Backorder, Order, OrderLine, Store
from domain.journey import customer_journey
from domain.policy import refunds as refund_policy
from flows.connections import connector_for
from flows.spine import dispatch
from flows.work import Transactional

ACTOR = "followups"
REFUNDABLE = ("cancelled_by_customer", "auto_cancelled")


def request_for(backorder: Backorder, line: OrderLine, order: Order) -> RefundRequest:
    """The line's price times the backordered quantity, plus the credit bonus when the customer
    chose store credit."""
    return RefundRequest(
        order_external_id=order.external_id, line_external_id=line.external_id, quantity=backorder.quantity,
        amount_cents=line.price_cents * backorder.quantity
        + (backorder.credit_bonus_cents if backorder.resolution == "store_credit" else 0),
        currency=order.currency,
        reason=f"Backorder cancelled ({backorder.state.replace('_', ' ')})",
        idempotency_key=f"backorder-{backorder.id}", customer_email=order.email)


def refund(task: Transactional, backorder_id: int) -> str:
    """Refund or credit one cancelled backorder; returns ``{kind} {reference}`` or why nothing was done."""
    with task.unit_of_work() as uow:
        backorder = uow.session.get(Backorder, backorder_id)
        if backorder is None or backorder.resolution_ref or backorder.state not in REFUNDABLE:
            return "nothing to do"
        line = uow.session.get(OrderLine, backorder.order_line_id)
        assert line is not None
        order = uow.session.get(Order, line.order_id)
        assert order is not None
        store = uow.session.get(Store, order.store_id)
        assert store is not None
        request = request_for(backorder, line, order)
        resolution = backorder.resolution or "refund"
        if blocked_writes.held_back(uow.session, store, f"backorder.{resolution}", "backorder", backorder_id,
                                    amount_cents=request.amount_cents, order=order.number):
            return f"{resolution} held back: store {store.key} is read-only"
        refund_policy.record_backorder(uow.session, order, request.idempotency_key, request.amount_cents,
                                       resolution, {"backorder_id": backorder_id, "state": backorder.state,
                                                    "quantity": backorder.quantity,
                                                    "line_price_cents": line.price_cents})
        connector: Connector = connector_for(store)
    result = connector.credit_line(request) if resolution == "store_credit" else connector.refund_line(request)
    with task.unit_of_work() as uow:
        backorder = uow.session.get(Backorder, backorder_id, with_for_update={"key_share": True})
        assert backorder is not None
        backorder.resolution_ref = result.external_id
        audit.record(uow.session, ACTOR, f"backorder.{result.kind}", "backorder", backorder_id,
                     amount_cents=result.amount_cents, external_id=result.external_id, ok=result.ok,
                     status_code=result.status_code)
        dispatch(uow, customer_journey.notify_customer(
            uow.session, backorder, "backorder_cancelled", "1", runtime_settings.current(), utcnow(),
            resolution=result.kind, amount_cents=result.amount_cents, reference=result.external_id))
    return f"{result.kind} {result.external_id}"
