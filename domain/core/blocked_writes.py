"""Writes held back from a read-only store: one row each, with what would have been written.

A store being connected starts read-only (``read_only = true`` in its ``[[stores]]`` table): it is
polled, its webhooks are received and its SKUs alert, but nothing is written to the channel. Every
place that would write (a channel push, a refund or store credit, a substitute order, and the
customer's first delay notice, since a store under observation must not start a customer journey
it could not finish) asks :func:`held_back` first; when the store is read-only the write is recorded here instead of being
made, so ``backorders status`` can show what switching the store on will change.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.models import Backorder, BlockedWrite, Order, OrderLine, Store

READ_ONLY = "read-only"


def held_back(session: Session, store: Store | None, action: str, subject_type: str, subject_id: int,
              **detail: Any) -> bool:
    """True (and the write recorded, with an audit entry) when ``store`` is read-only; False
    otherwise, and the caller makes its write.

    One row per store, action and subject: a write held back again (the next change of the same
    SKU, a sweeper sending the same offer) updates its row with what it would write now."""
    if store is None or not store.read_only:
        return False
    row = session.scalar(select(BlockedWrite).where(
        BlockedWrite.store_id == store.id, BlockedWrite.action == action, BlockedWrite.subject_type == subject_type,
        BlockedWrite.subject_id == subject_id).with_for_update())
    if row is None:
        session.add(BlockedWrite(store_id=store.id, action=action, subject_type=subject_type, subject_id=subject_id,
                                 reason=READ_ONLY, detail=detail))
    else:
        row.detail, row.created_at = detail, func.now()
    audit.record(session, "sync", f"{action}.blocked", subject_type, subject_id, store=store.key, reason=READ_ONLY,
                 **detail)
    return True


def store_of_backorder(session: Session, backorder_id: int) -> Store | None:
    """The store whose order the backorder belongs to."""
    return session.scalar(select(Store).join(Order, Order.store_id == Store.id)
                          .join(OrderLine, OrderLine.order_id == Order.id)
                          .join(Backorder, Backorder.order_line_id == OrderLine.id)
                          .where(Backorder.id == backorder_id))


def by_store(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per store: how many writes were held back, of which actions, and the latest one's time."""
    query = (select(Store.key, BlockedWrite.action, BlockedWrite.reason, func.count(), func.max(BlockedWrite.created_at))
             .join(Store, Store.id == BlockedWrite.store_id)
             .group_by(Store.key, BlockedWrite.action, BlockedWrite.reason).order_by(Store.key, BlockedWrite.action))
    if since is not None:
        query = query.where(BlockedWrite.created_at >= since)
    return [{"store": key, "action": action, "reason": reason, "count": count, "latest": latest.isoformat()}
            for key, action, reason, count, latest in session.execute(query)]
