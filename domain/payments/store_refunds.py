"""Refunds made at the store, recorded against their orders, and our own pending ones reconciled.

Shopify sends ``refunds/create`` for every refund of an order
(https://shopify.dev/docs/api/admin-rest/latest/resources/webhook , topic list; the payload is the
Refund resource: https://shopify.dev/docs/api/admin-rest/latest/resources/refund ), whether
staff made it in the Shopify admin or this product made it through the API. Each is stored once,
against its order, as an audit entry (``order.store_refund``: the refund id, what it paid back,
its note and lines) that ``backorders why order N`` shows.

A refund that carries our idempotency marker in its note (``connectors.idempotency``) is ours: it
is noted as such and changes nothing. One made by hand is reconciled with what we were about to
pay: a refund payment of ours for the same order and the same amount that has not been sent yet
(``pending``, ``held`` or ``failed``) is settled as paid by the store's refund, so the customer
is not paid twice. A payment already being sent (``sending``) is left alone: the provider call is
in flight and its own answer settles it. One store refund settles at most one payment.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import StoreRefundRecord
from domain.core import audit
from domain.core.models import AuditLog, Order, RefundExecution, Store
from domain.payments import executions

log = logging.getLogger(__name__)
ACTION = "order.store_refund"
#: Payments not sent yet, which a refund made at the store replaces.
UNSENT = ("pending", "held", "failed")
MARKER = re.compile(r"\[idempotency:([^\]]+)\]")


def _known(session: Session, order_id: int, refund_id: str) -> bool:
    return session.scalar(select(AuditLog.id).where(
        AuditLog.action == ACTION, AuditLog.subject_type == "order", AuditLog.subject_id == str(order_id),
        AuditLog.data["refund_id"].astext == refund_id).limit(1)) is not None


def record(session: Session, store: Store, refunds: Sequence[StoreRefundRecord], now: datetime) -> list[int]:
    """Store each refund once against its order; the ids of the payments it reconciled."""
    reconciled: list[int] = []
    for refund in refunds:
        order = session.scalar(select(Order).where(Order.store_id == store.id,
                                                   Order.external_id == refund.order_external_id))
        if order is None:  # an order from before this product read the store: nothing to hold it
            log.warning("%s refund %s: order %s not known here", store.key, refund.external_id,
                        refund.order_external_id)
            continue
        if _known(session, order.id, refund.external_id):
            continue
        marker = MARKER.search(refund.note)
        settled = None if marker else _reconcile(session, store, order, refund, now)
        if settled is not None:
            reconciled.append(settled.id)
        audit.record(session, "inbound", ACTION, "order", order.id, store=store.key, refund_id=refund.external_id,
                     amount_cents=refund.amount_cents, currency=refund.currency, note=refund.note[:500],
                     made_at=refund.created_at.isoformat() if refund.created_at else None,
                     lines=[{"sku": line.sku, "line": line.external_id, "quantity": line.quantity} for line in refund.lines],
                     by_us=marker.group(1) if marker else None,
                     reconciled_payment=settled.id if settled is not None else None,
                     reconciled_decision=settled.decision_id if settled is not None else None)
    return reconciled


def _reconcile(session: Session, store: Store, order: Order, refund: StoreRefundRecord,
               now: datetime) -> RefundExecution | None:
    """Our oldest unsent payment of this order for exactly this amount, settled by the store's refund."""
    row = session.scalar(select(RefundExecution).where(
        RefundExecution.order_id == order.id, RefundExecution.amount_cents == refund.amount_cents,
        RefundExecution.state.in_(UNSENT)).order_by(RefundExecution.id).limit(1).with_for_update(skip_locked=True))
    if row is None:
        return None
    row.provider_ref = f"{store.key}:{refund.external_id}"[:128]
    return executions.settle(session, row, True, f"refunded at {store.key} by hand (refund {refund.external_id}); "
                             "not paid again", now)
