"""The notification outbox: one row per message, written in the same transaction as its cause.

The unique idempotency key turns "send this twice" into "store it once": a transition that is
processed again (a redelivered task, a duplicate webhook) finds its message already there.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.db import state_is
from domain.core.models import OutboxMessage


def enqueue(session: Session, *, idempotency_key: str, channel: str, template: str, recipient: str,
            context: dict[str, Any], not_before: datetime | None = None, suppressed_because: str | None = None
            ) -> int | None:
    """Store a message to send; returns its id, or None when the key was already used.

    ``suppressed_because`` stores the row as never-to-be-sent with the reason (opted out, invalid
    address), so the journey records why the customer was not told on that channel.
    """
    statement = insert(OutboxMessage).values(
        idempotency_key=idempotency_key, channel=channel, template=template, recipient=recipient,
        context=context, not_before=not_before,
        state="suppressed" if suppressed_because else "pending", last_error=suppressed_because,
    ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(OutboxMessage.id)
    return session.execute(statement).scalar_one_or_none()


def stranded(session: Session, older_than: timedelta = timedelta(minutes=2), limit: int = 500,
             now: datetime | None = None) -> list[int]:
    """Pending messages whose delivery task should have run by now (the broker lost it)."""
    now = now or utcnow()
    return list(session.scalars(
        select(OutboxMessage.id).where(
            state_is(OutboxMessage.state, "pending"), OutboxMessage.created_at < now - older_than,
            (OutboxMessage.not_before.is_(None)) | (OutboxMessage.not_before <= now),
        ).order_by(OutboxMessage.id).limit(limit)
    ))
