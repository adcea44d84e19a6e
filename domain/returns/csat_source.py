"""Settled returns as a satisfaction subject: the ``return`` source of ``domain.csat``.

Returns sit above csat (``pyproject.toml``'s domain layers), so the return registers itself in
csat's registry (``@source("return")``) and csat never imports returns. A return is surveyed once,
when it is settled: ``domain.returns.flow.settle`` opens its survey in the settling transaction and
the ``return_settled`` email carries the survey's five score links (``/csat/{token}?score=N``); the
source lists settled returns that have no survey yet (settled before ``return`` was a surveyed
kind), which ``tasks.csat.sweep`` then asks by the usual ``csat_request`` email.

Queue ``returns``; intent ``<reason>/<qc>`` (``defective/restock``: why it came back and what QC
found); resolved by the person who received it or approved it last (the settle itself is the flow's).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import CsatRequest, Order, ReturnEvent, ReturnRequest
from domain.csat.sources import Resolved, source, who

KIND = "return"
QUEUE = "returns"


def resolved(session: Session, row: ReturnRequest, order: Order | None, settled_at: datetime) -> Resolved:
    """The survey's facts about one settled return."""
    actor = session.scalar(select(ReturnEvent.actor).where(
        ReturnEvent.return_id == row.id, ReturnEvent.to_state == "received",
        ReturnEvent.step.in_(("receive_scan", "staff_approval"))).order_by(ReturnEvent.id.desc()).limit(1))
    return Resolved(KIND, row.id, QUEUE, f"{row.reason}/{row.qc or 'none'}"[:64], who(actor or "returns"),
                    f"{row.rma} settled, QC {row.qc or '-'}"[:200], settled_at, row.order_id,
                    order.store_id if order else None, order.email if order else None,
                    order.customer_name if order else None, order.number if order else None)


@source(KIND)
def settled_returns(session: Session, since: datetime, now: datetime) -> list[Resolved]:
    rows = session.execute(
        select(ReturnRequest, Order, ReturnEvent.at)
        .join(ReturnEvent, (ReturnEvent.return_id == ReturnRequest.id) & (ReturnEvent.step == "settle"))
        .outerjoin(Order, Order.id == ReturnRequest.order_id)
        .where(ReturnRequest.state == "settled", ReturnEvent.at >= since, ReturnEvent.at <= now,
               ~select(CsatRequest.id).where(CsatRequest.subject_kind == KIND,
                                             CsatRequest.subject_id == ReturnRequest.id).exists())
        .order_by(ReturnRequest.id)).all()
    return [resolved(session, row, order, at) for row, order, at in rows]
