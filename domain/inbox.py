"""The inbound-event inbox: a webhook is stored once under its dedupe key, then processed in batches.

``accept`` is what the web receiver calls: one insert that ignores a duplicate, so a platform
retrying a delivery three times leaves one row and one effect.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.models import InboxEvent


def accept(session: Session, *, source: str, dedupe_key: str, kind: str, topic: str,
           payload: dict[str, Any], occurred_at: datetime | None) -> int | None:
    """Store the event; returns its id, or None when it was already stored (a duplicate delivery)."""
    statement = insert(InboxEvent).values(
        source=source, dedupe_key=dedupe_key[:300], kind=kind, topic=topic[:100], payload=payload,
        occurred_at=occurred_at,
    ).on_conflict_do_nothing(index_elements=["source", "dedupe_key"]).returning(InboxEvent.id)
    return session.execute(statement).scalar_one_or_none()


def claim_pending(session: Session, source: str, limit: int = 500) -> list[InboxEvent]:
    """Lock a batch of this source's pending events, in arrival order, skipping ones others hold."""
    return list(session.scalars(
        select(InboxEvent).where(InboxEvent.source == source, InboxEvent.state == "pending")
        .order_by(InboxEvent.id).limit(limit).with_for_update(skip_locked=True)
    ))


def sources_with_stranded(session: Session, older_than: timedelta = timedelta(minutes=1),
                          now: datetime | None = None) -> list[str]:
    """Sources with pending events older than ``older_than``: their drain message was lost."""
    now = now or utcnow()
    return list(session.scalars(
        select(InboxEvent.source).where(InboxEvent.state == "pending",
                                        InboxEvent.received_at < now - older_than).distinct()
    ))
