"""The backorder state machine: which moves are allowed, and every move audited with its cause.

    open → notified → accepted_wait | substituted | cancelled_by_customer | auto_cancelled
    open | notified | accepted_wait → filled → shipped
    accepted_wait → notified           (a renewed delay notice asks again)

A move that is not in the table raises ``InvalidTransition``: a late reminder, a duplicate click
or a reply that lost the race with the auto-cancel finds the backorder elsewhere and changes
nothing. Callers lock the row (``lock``) before deciding, so two deciders see each other's result.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.clock import utcnow
from domain.core.models import Backorder

TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"notified", "filled", "cancelled_by_customer", "auto_cancelled"}),
    "notified": frozenset({"accepted_wait", "substituted", "cancelled_by_customer", "auto_cancelled", "filled"}),
    "accepted_wait": frozenset({"filled", "cancelled_by_customer", "notified"}),
    "filled": frozenset({"shipped"}),
    "substituted": frozenset(),
    "cancelled_by_customer": frozenset(),
    "auto_cancelled": frozenset(),
    "shipped": frozenset(),
}
WAITING_STATES = ("open", "notified", "accepted_wait")
#: Called after every move, in the mover's transaction, with (session, backorder, from_state, now).
#: Parts that keep records of their own about a backorder (its case, ``domain.cases``) register
#: here, so the journey never imports them.
TransitionListener = Callable[[Session, Backorder, str, datetime], None]
TRANSITION_LISTENERS: list[TransitionListener] = []
FINAL_STATES = frozenset(state for state, moves in TRANSITIONS.items() if not moves)


class InvalidTransition(ValueError):
    """The backorder is not in a state that allows this move."""

    def __init__(self, backorder_id: int, from_state: str, to_state: str) -> None:
        super().__init__(f"backorder {backorder_id}: cannot move from {from_state} to {to_state}")
        self.backorder_id = backorder_id
        self.from_state = from_state
        self.to_state = to_state


def on_transition(listener: TransitionListener) -> TransitionListener:
    """Register ``listener`` (a decorator); registering the same one twice keeps one."""
    if listener not in TRANSITION_LISTENERS:
        TRANSITION_LISTENERS.append(listener)
    return listener


def can_move(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, frozenset())


def lock(session: Session, backorder_id: int) -> Backorder | None:
    """The backorder row, locked for this transaction (deciders serialise on it)."""
    return session.scalar(select(Backorder).where(Backorder.id == backorder_id).with_for_update(key_share=True))


def move(session: Session, backorder: Backorder, to_state: str, *, cause: str, actor: str = "system",
         now: datetime | None = None, **details: object) -> None:
    """Apply one allowed move and audit it; raise ``InvalidTransition`` otherwise."""
    if not can_move(backorder.state, to_state):
        raise InvalidTransition(backorder.id, backorder.state, to_state)
    from_state = backorder.state
    backorder.state = to_state
    backorder.updated_at = now = now or utcnow()
    audit.record(session, actor, "backorder.transition", "backorder", backorder.id, from_state=from_state,
                 to_state=to_state, cause=cause, **details)
    for listener in TRANSITION_LISTENERS:
        listener(session, backorder, from_state, now)
