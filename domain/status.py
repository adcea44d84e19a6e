"""The numbers ``backorders status`` prints: where stock, backorders, timers and messages stand."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from domain.core import spool
from domain.core.clock import utcnow
from domain.helpdesks import views as helpdesk_views
from domain.messaging import localtime, outbox_reasons
from domain.shipping import views as shipping_views
from domain.stock import sync_results
from domain.core.models import (
    Backorder,
    ChannelPush,
    Order,
    OrderLine,
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


def snapshot(session: Session, now: datetime | None = None, business_timezone: str | None = None) -> dict[str, Any]:
    """Everything ``backorders status`` shows; ``business_timezone`` is the quiet-hours zone of
    customers whose own zone is unknown (the configuration's ``timezone``)."""
    now = now or utcnow()
    last_polls = sync_results.latest(session)
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
             "cursor": s.stock_cursor, "last_poll": last_polls.get(s.id),
             "poll_line": sync_results.one_line(s.key, last_polls.get(s.id))}
            for s in session.scalars(select(Store).order_by(Store.key))
        ],
        "shipping_accounts": shipping_views.accounts(session),
        "helpdesks": helpdesk_views.states(session),
        "outbox_waiting": outbox_waiting(session, now, business_timezone),
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


#: Rows still to go out (or whose fate is being settled): each is explained, grouped by reason.
WAITING_STATES = ("pending", "sending", "unknown")
#: Rows listed one by one under the groups.
WAITING_ROWS = 20


def outbox_waiting(session: Session, now: datetime, business_timezone: str | None = None,
                   limit: int = 5000) -> dict[str, Any]:
    """Outbox rows not sent yet, each with the reason it waits (``domain.messaging.outbox_reasons``):
    held for the customer's quiet hours (until when, in their zone), waiting for a provider's
    circuit, retrying after an error, queued… Grouped by reason with counts, oldest rows listed."""
    rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.state.in_(WAITING_STATES))
                                .order_by(OutboxMessage.id).limit(limit)))
    backorder_ids = {int(parts[1]) for parts in (r.idempotency_key.split(":") for r in rows)
                     if parts[0] == "backorder" and len(parts) > 1 and parts[1].isdigit()}
    zones: dict[int, str | None] = dict(session.execute(
        select(Backorder.id, Order.customer_timezone).join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id).where(Backorder.id.in_(backorder_ids))).tuples().all()
    ) if backorder_ids else {}
    groups: dict[str, dict[str, Any]] = {}
    listed: list[dict[str, Any]] = []
    for row in rows:
        parts = row.idempotency_key.split(":")
        customer_tz = zones.get(int(parts[1])) if parts[0] == "backorder" and parts[1:2] and parts[1].isdigit() \
            else None
        zone = localtime.customer_zone(customer_tz, business_timezone) if (customer_tz or business_timezone) \
            else None
        reason = outbox_reasons.explain(row, now, zone)
        group = groups.setdefault(reason.text, {"reason": reason.code, "text": reason.text, "count": 0,
                                                "channels": []})
        group["count"] += 1
        if row.channel not in group["channels"]:
            group["channels"].append(row.channel)
        if len(listed) < WAITING_ROWS:
            listed.append({"id": row.id, "state": row.state, "channel": row.channel, "template": row.template,
                           "reason": reason.code, "text": reason.text,
                           "until": reason.until.isoformat() if reason.until else None})
    return {"total": len(rows), "groups": sorted(groups.values(), key=lambda g: -g["count"]), "rows": listed}
