"""Writes held back from a read-only store: one row each, with what would have been written.

A store being connected starts read-only (``read_only = true`` in its ``[[stores]]`` table): it is
polled, its webhooks are received and its SKUs alert, but nothing is written to the channel. Every
place that would write (a channel push, a refund or store credit, a substitute order) asks
:func:`held_back` first; when the store is read-only the write is recorded here instead of being
made, so ``backorders status`` can show what switching the store on will change.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.models import BlockedWrite, Store

READ_ONLY = "read-only"


def held_back(session: Session, store: Store | None, action: str, subject_type: str, subject_id: int,
              **detail: Any) -> bool:
    """True (and a row recorded, with an audit entry) when ``store`` is read-only; False otherwise,
    and the caller makes its write."""
    if store is None or not store.read_only:
        return False
    session.add(BlockedWrite(store_id=store.id, action=action, subject_type=subject_type, subject_id=subject_id,
                             reason=READ_ONLY, detail=detail))
    audit.record(session, "sync", f"{action}.blocked", subject_type, subject_id, store=store.key, reason=READ_ONLY,
                 **detail)
    return True


def by_store(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per store: how many writes were held back, of which actions, and the latest one's time."""
    query = (select(Store.key, BlockedWrite.action, BlockedWrite.reason, func.count(), func.max(BlockedWrite.created_at))
             .join(Store, Store.id == BlockedWrite.store_id)
             .group_by(Store.key, BlockedWrite.action, BlockedWrite.reason).order_by(Store.key, BlockedWrite.action))
    if since is not None:
        query = query.where(BlockedWrite.created_at >= since)
    return [{"store": key, "action": action, "reason": reason, "count": count, "latest": latest.isoformat()}
            for key, action, reason, count, latest in session.execute(query)]
