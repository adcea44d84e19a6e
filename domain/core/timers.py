"""Durable timers: rows with ``due_at``, claimed by sweepers with ``FOR UPDATE SKIP LOCKED``.

Broker countdowns are held in worker memory and, on Redis, re-run past the visibility timeout;
a row survives every restart. A timer is claimed and its effect written in one transaction, so a
sweeper that dies mid-way leaves the timer pending for the next sweep, and two sweepers never
fire the same timer.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core import stages
from domain.core.clock import utcnow
from domain.core.db import state_is
from domain.core.models import Timer

#: What a fired timer asks for after commit: a stage and its ids (``domain.core.stages``), e.g. deliver
#: a message or run a refund. Domain code names stages, never tasks, and never imports Celery.
FollowUp = stages.FollowUp
TimerHandler = Callable[[Session, Timer], list[FollowUp]]
HANDLERS: dict[str, TimerHandler] = {}


def handler(kind: str) -> Callable[[TimerHandler], TimerHandler]:
    """Register what firing a timer of ``kind`` does; it runs inside the claiming transaction."""

    def register(func: TimerHandler) -> TimerHandler:
        HANDLERS[kind] = func
        return func

    return register


def schedule(session: Session, kind: str, subject_type: str, subject_id: int, due_at: datetime,
             payload: dict[str, Any] | None = None) -> int:
    """Create the pending timer for this subject, or move the existing one to ``due_at``."""
    statement = insert(Timer).values(kind=kind, subject_type=subject_type, subject_id=subject_id, due_at=due_at,
                                     payload=payload or {})
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "subject_type", "subject_id"], index_where=text("state = 'pending'"),
        set_={"due_at": statement.excluded.due_at, "payload": statement.excluded.payload},
    ).returning(Timer.id)
    return int(session.execute(statement).scalar_one())


def cancel(session: Session, subject_type: str, subject_id: int, kinds: tuple[str, ...] | None = None) -> int:
    """Cancel pending timers of a subject; returns how many were cancelled.

    Timers a sweeper holds right now are skipped, not waited for: the sweeper locked the timer
    first and now waits for the subject's row, which our caller holds — waiting here would
    deadlock. The skipped timer fires after our commit, finds the subject moved on, and does
    nothing (every handler re-checks the subject's state).
    """
    claimable = select(Timer.id).where(Timer.subject_type == subject_type, Timer.subject_id == subject_id,
                                       state_is(Timer.state, "pending"))
    if kinds:
        claimable = claimable.where(Timer.kind.in_(kinds))
    ids = list(session.scalars(claimable.with_for_update(skip_locked=True)))
    if not ids:
        return 0
    return session.execute(update(Timer).where(Timer.id.in_(ids)).values(state="cancelled")).rowcount  # type: ignore[attr-defined]


def claim_due(session: Session, limit: int = 100, now: datetime | None = None) -> list[Timer]:
    """Lock up to ``limit`` due timers that no other sweeper holds, oldest first."""
    now = now or utcnow()
    rows = session.scalars(
        select(Timer).where(state_is(Timer.state, "pending"), Timer.due_at <= now).order_by(Timer.due_at)
        .limit(limit).with_for_update(skip_locked=True)
    ).all()
    return list(rows)


def fire(session: Session, timer: Timer, now: datetime | None = None) -> list[FollowUp]:
    """Run the timer's handler and mark it fired, in the caller's transaction.

    Marked first (flushed), so a handler that schedules the same kind again for its subject
    (a deadline moving itself) creates a new pending timer instead of moving this one."""
    run = HANDLERS.get(timer.kind)
    if run is None:
        raise LookupError(f"no handler registered for timer kind {timer.kind!r}")
    timer.state = "fired"
    # The transaction's start, the very time every row the handler writes carries (``now()``), so
    # ``why`` can put the timer before what it caused without guessing at clocks.
    timer.fired_at = now or session.scalar(select(func.now()))
    session.flush()
    return run(session, timer)
