"""The numbers ``backorders status`` prints: where stock, backorders, timers and messages stand."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.models import Backorder, DeadLetter, InboxEvent, OutboxMessage, Sku, Store, SubstituteOrder, Timer


def _counts(session: Session, column: Any) -> dict[str, int]:
    return {str(key): int(count) for key, count in session.execute(select(column, func.count()).group_by(column))}


def snapshot(session: Session, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    open_states = ("open", "notified", "accepted_wait")
    return {
        "at": now.isoformat(),
        "skus_by_state": _counts(session, Sku.state),
        "backorders_by_state": _counts(session, Backorder.state),
        "open_backorders": session.scalar(select(func.count()).where(Backorder.state.in_(open_states))) or 0,
        "substitute_orders_by_state": _counts(session, SubstituteOrder.state),
        "timers": {
            "pending": session.scalar(select(func.count()).where(Timer.state == "pending")) or 0,
            "due_now": session.scalar(select(func.count()).where(Timer.state == "pending", Timer.due_at <= now)) or 0,
        },
        "outbox_by_state": _counts(session, OutboxMessage.state),
        "inbox_by_state": _counts(session, InboxEvent.state),
        "dead_letters": [
            {"id": d.id, "task": d.task_name, "failed_at": d.failed_at.isoformat(), "error": d.error[:200]}
            for d in session.scalars(select(DeadLetter).where(DeadLetter.redriven_at.is_(None))
                                     .order_by(DeadLetter.id.desc()).limit(20))
        ],
        "stores": [
            {"key": s.key, "platform": s.platform, "enabled": s.enabled,
             "last_polled_at": s.last_polled_at.isoformat() if s.last_polled_at else None,
             "cursor": s.stock_cursor}
            for s in session.scalars(select(Store).order_by(Store.key))
        ],
    }
