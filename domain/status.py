"""The numbers ``backorders status`` prints: where stock, backorders, timers and messages stand."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from domain.core import spool
from domain.core.clock import utcnow
from domain.core.models import (
    Backorder,
    ChannelPush,
    DeadLetter,
    InboxEvent,
    OutboxMessage,
    Sku,
    Store,
    StoreSyncLag,
    SubstituteOrder,
    Timer,
)


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
        "spooled_dead_letters": spool.pending_count(),
        "stores": [
            {"key": s.key, "platform": s.platform, "enabled": s.enabled,
             "last_polled_at": s.last_polled_at.isoformat() if s.last_polled_at else None,
             "cursor": s.stock_cursor}
            for s in session.scalars(select(Store).order_by(Store.key))
        ],
        "channel_pushes": channel_pushes(session, now),
        "pending_effects": pending_effects(session, now),
    }


def pending_effects(session: Session, now: datetime) -> dict[str, dict[str, int]]:
    """Kind → rows waiting for their run, in flight, and failed at least once (``domain.core.effects``)."""
    from sqlalchemy import text

    return {kind: {"due": int(due), "in_flight": int(in_flight), "failing": int(failing)}
            for kind, due, in_flight, failing in session.execute(text(
                "SELECT kind, count(*) FILTER (WHERE due_at IS NOT NULL), count(*) FILTER (WHERE claimed_until > :now), "
                "count(*) FILTER (WHERE last_error IS NOT NULL) FROM pending_effects GROUP BY kind ORDER BY kind"),
                {"now": now})}


def channel_pushes(session: Session, now: datetime, recent: int = 20) -> dict[str, Any]:
    """Per selling store: its measured propagation delay, buffer floor and pushes due, in flight
    and failing; then the latest pushes with the buffer each one applied and its inputs (velocity,
    delay, floor), as their audit rows hold them."""
    from domain.core.models import AuditLog
    from domain.stock.propagation import buffer_floor

    lags = {lag.store_id: lag for lag in session.scalars(select(StoreSyncLag))}
    stores = []
    for store in session.scalars(select(Store).where(Store.sells).order_by(Store.key)):
        rows = select(func.count()).select_from(ChannelPush).where(ChannelPush.store_id == store.id)
        lag = lags.get(store.id)
        stores.append({
            "store": store.key, "buffer_floor": buffer_floor(store.options),
            "delay_s": round(lag.delay_s, 3) if lag else None, "last_delay_s": round(lag.last_s, 3) if lag else None,
            "delay_samples": lag.samples if lag else 0,
            "due": session.scalar(rows.where(ChannelPush.due_at.is_not(None))) or 0,
            "in_flight": session.scalar(rows.where(ChannelPush.lease_until > now)) or 0,
            "failing": session.scalar(rows.where(ChannelPush.attempts > 0)) or 0,
            "writes": session.scalar(select(func.coalesce(func.sum(ChannelPush.pushes), 0))
                                     .where(ChannelPush.store_id == store.id)) or 0,
        })
    latest = [
        {"at": a.at.isoformat(), "sku": code, "store": a.data.get("store"), "levels": a.data.get("levels"),
         "before_buffer": a.data.get("before_buffer"), "buffer": a.data.get("buffer")}
        for a, code in session.execute(
            select(AuditLog, Sku.code).join(Sku, cast(Sku.id, String) == AuditLog.subject_id)
            .where(AuditLog.action == "channel.push", AuditLog.subject_type == "sku")
            .order_by(AuditLog.id.desc()).limit(recent))
    ]
    return {"stores": stores, "latest": latest}
