"""The return's state machine: which moves are allowed, and every move a ``return_events`` row.

    requested → approved | review | rejected         (the refund policy's rules, the fraud checks)
    review    → approved | rejected                  (a person)
    approved  → label_created | received             (ShipStation return label; or received without one)
    label_created → delivered | received             (the label's tracking; the receive scan)
    delivered → received                             (the receive scan with its QC outcome)
    received  → settled | review                     (refund + disposition + email; an empty box)
    any open state → cancelled                       (a person)

A move is taken on the row locked ``FOR UPDATE``: a step run twice finds the state already moved
and does nothing the second time.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.clock import utcnow
from domain.core.models import ReturnEvent, ReturnRequest

MOVES: dict[str, tuple[str, ...]] = {
    "requested": ("approved", "review", "rejected", "cancelled"),
    "review": ("approved", "rejected", "cancelled"),
    "approved": ("label_created", "received", "cancelled"),
    "label_created": ("delivered", "received", "cancelled"),
    "delivered": ("received", "cancelled"),
    "received": ("settled", "review"),
    "settled": (),
    "rejected": (),
    "cancelled": (),
}
OPEN = tuple(state for state, moves in MOVES.items() if moves)


class BadMove(ValueError):
    def __init__(self, rma: str, from_state: str, to_state: str) -> None:
        super().__init__(f"{rma} is {from_state}; it cannot become {to_state}")


def lock(session: Session, return_id: int) -> ReturnRequest | None:
    return session.get(ReturnRequest, return_id, with_for_update=True, populate_existing=True)


def by_rma(session: Session, rma: str, *, for_update: bool = False) -> ReturnRequest | None:
    query = select(ReturnRequest).where(ReturnRequest.rma == rma)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def note(session: Session, row: ReturnRequest, step: str, actor: str, now: datetime | None = None,
         **detail: Any) -> None:
    """A step inside the current state (a label bought, a fraud flag)."""
    session.add(ReturnEvent(return_id=row.id, from_state=row.state, to_state=row.state, step=step, actor=actor,
                            detail=detail, at=now or utcnow()))


def move(session: Session, row: ReturnRequest, to_state: str, step: str, actor: str,
         now: datetime | None = None, **detail: Any) -> None:
    """Move a locked return, recorded with who and what; :class:`BadMove` when not allowed."""
    if to_state not in MOVES.get(row.state, ()):
        raise BadMove(row.rma, row.state, to_state)
    now = now or utcnow()
    session.add(ReturnEvent(return_id=row.id, from_state=row.state, to_state=to_state, step=step, actor=actor,
                            detail=detail, at=now))
    audit.record(session, actor, f"return.{to_state}", "return_request", row.id, rma=row.rma, was=row.state,
                 step=step, **detail)
    row.state = to_state
    row.attempts = 0
