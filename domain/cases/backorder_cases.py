"""Backorders as cases: the journey's first notice opens a ``backorder`` case, its end resolves it.

Registered on ``domain.journey.backorders.on_transition`` (the journey never imports cases).
The journey itself is unchanged: the case only mirrors it, so the backorder's owner sees it in
the queue with the others. Leaving ``open`` opens the case (normally the first delay notice; an
``open → filled`` restock before any notice opens none) and sets it ``waiting``: the journey has
the customer's choice and the stock in hand, so the case's SLA clock waits too (staff move it to
``in_progress`` when they take it up). It opens without a ``case.opened`` alert: the SKU's
``stock.backorder`` alert has told ops already. Every later move is a note in its history; filled,
substituted or cancelled resolves it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import domain.cases.sla  # noqa: F401  (registers the case SLA timer handler)
import domain.core.env_settings as runtime_settings
from domain.cases import lifecycle
from domain.core.models import Backorder, Case, Order, OrderLine, Sku
from domain.journey import backorders

KIND = "backorder"
ACTOR = "journey"
#: Backorder states that end its case (``shipped`` follows ``filled``, already resolved).
ENDING = frozenset({"filled", "substituted", "cancelled_by_customer", "auto_cancelled"})


def _case(session: Session, backorder_id: int) -> Case | None:
    return session.scalar(select(Case).where(Case.kind == KIND, Case.subject_type == "backorder",
                                             Case.subject_id == backorder_id).with_for_update())


def _open(session: Session, backorder: Backorder, now: datetime) -> Case:
    line = session.get(OrderLine, backorder.order_line_id)
    assert line is not None
    order = session.get(Order, line.order_id)
    sku = session.get(Sku, backorder.sku_id)
    assert order is not None and sku is not None
    eta = f", ETA {backorder.eta}" if backorder.eta else ""
    new = lifecycle.NewCase(
        kind=KIND, subject_type="backorder", subject_id=backorder.id, order_id=order.id,
        order_line_ids=(line.id,), store_id=order.store_id, sku_ids=(sku.id,), tier=backorder.segment,
        summary=f"order {order.number}: {backorder.quantity} × {sku.code} backordered{eta}",
        detail={"backorder_id": backorder.id, "order": order.number})
    # Quietly: the SKU's stock.backorder alert told ops already, and the journey has the customer.
    return lifecycle.open_case(session, new, runtime_settings.current().config, actor=ACTOR, now=now, alert=False)


@backorders.on_transition
def mirror(session: Session, backorder: Backorder, from_state: str, now: datetime) -> None:
    """Keep the backorder's case in step with the move just made."""
    to_state = backorder.state
    cause = f"backorder {from_state} → {to_state}"
    case = _case(session, backorder.id)
    if case is None:
        if from_state != "open" or to_state in ENDING:
            return  # never offered (restocked first), or a backorder from before cases: nothing to mirror
        case = _open(session, backorder, now)
        if case.state == "open":  # the journey has the customer's choice in hand: the SLA waits with it
            lifecycle.move(session, case, "waiting", actor=ACTOR, note=cause, now=now, backorder_state=to_state)
        return
    if case.state == "resolved":
        return
    if to_state in ENDING:
        lifecycle.move(session, case, "resolved", actor=ACTOR, note=cause, now=now, backorder_state=to_state)
    else:
        lifecycle.record(session, case, ACTOR, "note", note=cause, now=now, backorder_state=to_state)
