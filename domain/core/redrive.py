"""Re-driving work that stopped: dead-lettered tasks and quarantined inbound events.

An operator fixes the cause (a missing credential, a SKU added to the configuration), then
re-drives; the work runs again through the same idempotent paths, so a re-drive of something
that in fact succeeded changes nothing.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.clock import utcnow
from domain.core.models import DeadLetter, InboxEvent


def pending_dead_letters(session: Session, ids: Sequence[int] | None = None) -> list[DeadLetter]:
    query = select(DeadLetter).where(DeadLetter.redriven_at.is_(None)).order_by(DeadLetter.id)
    if ids:
        query = query.where(DeadLetter.id.in_(ids))
    return list(session.scalars(query.with_for_update(skip_locked=True)))


def mark_redriven(session: Session, dead: DeadLetter, actor: str, now: datetime | None = None) -> None:
    dead.redriven_at = now or utcnow()
    audit.record(session, actor, "dead_letter.redriven", "dead_letter", dead.id, task=dead.task_name,
                 args=dead.args)


def requeue_inbox(session: Session, event_ids: Sequence[int], actor: str) -> list[str]:
    """Put quarantined or failed events back to pending; returns the sources to wake."""
    rows = session.execute(
        update(InboxEvent).where(InboxEvent.id.in_(event_ids), InboxEvent.state.in_(("quarantined", "failed")))
        .values(state="pending", error=None, processed_at=None).returning(InboxEvent.id, InboxEvent.source)
    ).all()
    for event_id, source in rows:
        audit.record(session, actor, "inbox.redriven", "inbox", event_id, source=source)
    return sorted({source for _, source in rows})


def unknown_references(session: Session, dead_letter_ids: Sequence[int], event_ids: Sequence[int]) -> list[str]:
    """Why any named id cannot be re-driven (no such dead letter or webhook, or already re-driven):
    ``backorders redrive`` refuses the whole request rather than report "0 re-sent" and exit 0."""
    problems = []
    dead = {d.id: d for d in session.scalars(select(DeadLetter).where(DeadLetter.id.in_(list(dead_letter_ids))))}
    for dead_id in dead_letter_ids:
        if dead_id not in dead:
            problems.append(f"no dead letter #{dead_id} (see `backorders status`)")
        elif (redriven_at := dead[dead_id].redriven_at) is not None:
            problems.append(f"dead letter #{dead_id} was already re-driven at {redriven_at.isoformat()}")
    events = dict(session.execute(select(InboxEvent.id, InboxEvent.state).where(
        InboxEvent.id.in_(list(event_ids)))).tuples().all())
    for event_id in event_ids:
        if event_id not in events:
            problems.append(f"no inbound webhook #{event_id}")
        elif events[event_id] not in ("quarantined", "failed"):
            problems.append(f"inbound webhook #{event_id} is {events[event_id]}, not quarantined or failed")
    return problems
