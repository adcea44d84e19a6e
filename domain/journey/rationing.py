"""Restock rationing: after a restock has filled the waiting backorders, the shoppers who asked a
storefront to be told when the SKU is back hear of it — oldest request first, never more notices
than units left.

A notice holds a unit for ``HOLD`` (48 h): while it is outstanding the next restock's budget is
``units left − outstanding notices``, so a re-run of the sweep (or a second restock event for the
same stock) sends nothing twice and never promises a unit twice. A notice stops holding when the
shopper orders the SKU (an order with their email or phone placed after the notice) or when the
hold ends. Requests not reached stay ``waiting`` in their place and are told at the next restock.
Nothing is sent while a backorder still waits for the SKU: its customer paid first.

Each notice is an outbox row (template ``back_in_stock``) with the figures — units left,
outstanding notices, the budget, the shopper's position in the queue — and the rule, also kept on
the request (``notice``), so ``backorders why sku CODE`` shows who was told and why.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.clock import utcnow
from domain.core.models import BackInStockRequest, Backorder, Order, OrderLine, Sku, Store
from domain.core.stages import FollowUp, Stage
from domain.journey import backorders
from domain.messaging import contacts, outbox
from domain.stock.allocation import allocatable

HOLD = timedelta(hours=48)
TEMPLATE = "back_in_stock"
RULE = ("oldest request first; never more notices than units left after waiting backorders are filled, "
        "less the notices still holding a unit (sent within 48h and not yet ordered)")


class RequestError(ValueError):
    """An unknown SKU or store, or no usable email or phone."""


@dataclass(frozen=True)
class Added:
    request_id: int
    created: bool
    position: int


def add(session: Session, sku_code: str, *, email: str | None = None, phone: str | None = None,
        channel: str | None = None, store_key: str | None = None, source: str = "cli", external_id: str | None = None,
        now: datetime | None = None) -> Added:
    """Record a request (once per SKU and contact while it waits: asking again keeps the first place)."""
    now = now or utcnow()
    sku_id = session.scalar(select(Sku.id).where(Sku.code == sku_code))
    if sku_id is None:
        raise RequestError(f"unknown SKU {sku_code!r}")
    store_id = None
    if store_key is not None:
        store_id = session.scalar(select(Store.id).where(Store.key == store_key))
        if store_id is None:
            raise RequestError(f"unknown store {store_key!r}")
    email = contacts.valid_email(email) if email else None
    phone = contacts.normalize_phone(phone) if phone else None
    channel = channel or ("email" if email else "sms")
    if channel not in ("email", "sms") or (channel == "email" and not email) or (channel == "sms" and not phone):
        raise RequestError("a request needs a valid email (channel email) or phone number (channel sms)")
    request_id = session.execute(insert(BackInStockRequest).values(
        sku_id=sku_id, store_id=store_id, channel=channel, email=email, phone=phone, source=source,
        external_id=external_id, requested_at=now,
    ).on_conflict_do_nothing(index_elements=["sku_id", "channel", func.coalesce(BackInStockRequest.email,
                                                                               BackInStockRequest.phone)],
                             index_where=BackInStockRequest.state == "waiting")
        .returning(BackInStockRequest.id)).scalar()
    created = request_id is not None
    if request_id is None:
        request_id = session.scalar(select(BackInStockRequest.id).where(
            BackInStockRequest.sku_id == sku_id, BackInStockRequest.channel == channel,
            BackInStockRequest.state == "waiting",
            func.coalesce(BackInStockRequest.email, BackInStockRequest.phone) == (email or phone)))
        assert request_id is not None
    return Added(request_id, created, position(session, request_id))


def position(session: Session, request_id: int) -> int:
    """1 for the oldest waiting request of its SKU."""
    request = session.get(BackInStockRequest, request_id)
    assert request is not None
    return int(session.scalar(select(func.count()).select_from(BackInStockRequest).where(
        BackInStockRequest.sku_id == request.sku_id, BackInStockRequest.state == "waiting",
        or_(BackInStockRequest.requested_at < request.requested_at,
            and_(BackInStockRequest.requested_at == request.requested_at, BackInStockRequest.id <= request.id)))) or 0)


def outstanding(session: Session, sku_id: int, now: datetime) -> int:
    """Notices still holding a unit: sent within ``HOLD`` and not followed by the shopper's order."""
    ordered = select(OrderLine.id).join(Order, Order.id == OrderLine.order_id).where(
        OrderLine.sku_id == sku_id, Order.placed_at >= BackInStockRequest.notified_at,
        or_(and_(BackInStockRequest.email.is_not(None), func.lower(Order.email) == func.lower(BackInStockRequest.email)),
            and_(BackInStockRequest.phone.is_not(None), Order.phone == BackInStockRequest.phone))).exists()
    return int(session.scalar(select(func.count()).select_from(BackInStockRequest).where(
        BackInStockRequest.sku_id == sku_id, BackInStockRequest.state == "notified",
        BackInStockRequest.notified_at > now - HOLD, ~ordered)) or 0)


def notify(session: Session, sku_id: int, now: datetime | None = None, *, timezone: str = "UTC",
           quiet_hours: tuple[time, time] | None = None) -> list[FollowUp]:
    """Tell the oldest waiting requesters of ``sku_id`` for what is left; call with the SKU row
    locked (``customer_journey.fill`` does), after the waiting backorders are filled. A text due
    in the business's quiet hours waits for their end (``not_before``), like the journey's."""
    now = now or utcnow()
    if session.scalar(select(Backorder.id).where(Backorder.sku_id == sku_id,
                                                 Backorder.state.in_(backorders.WAITING_STATES)).limit(1)):
        return []  # a backorder still waits: every unit is theirs first
    left = allocatable(session, sku_id)
    holding = outstanding(session, sku_id, now)
    budget = left - holding
    if budget <= 0:
        return []
    queue = session.scalars(select(BackInStockRequest).where(
        BackInStockRequest.sku_id == sku_id, BackInStockRequest.state == "waiting")
        .order_by(BackInStockRequest.requested_at, BackInStockRequest.id).with_for_update(skip_locked=True)).all()
    sku = session.get(Sku, sku_id)
    assert sku is not None
    follow_ups: list[FollowUp] = []
    for place, request in enumerate(queue[:budget], start=1):
        figures: dict[str, Any] = {"units_left": left, "outstanding_notices": holding, "budget": budget,
                                   "position": place, "waiting": len(queue), "rule": RULE}
        store_name = session.scalar(select(Store.name).where(Store.id == request.store_id)) if request.store_id else None
        recipient = request.email if request.channel == "email" else request.phone
        assert recipient is not None
        suppressed = "opted out" if contacts.opted_out(session, request.channel, recipient) else None
        not_before = (contacts.next_send_time(now, ZoneInfo(timezone), quiet_hours)
                      if request.channel == "sms" and quiet_hours else None)
        outbox_id = outbox.enqueue(
            session, idempotency_key=f"back-in-stock:{request.id}", channel=request.channel, template=TEMPLATE,
            recipient=recipient, suppressed_because=suppressed, not_before=not_before,
            context={"sku": sku.code, "item_title": sku.title, "store_name": store_name or "",
                     "requested_at": request.requested_at.isoformat(), **figures})
        request.state, request.notified_at, request.outbox_id, request.notice = "notified", now, outbox_id, figures
        audit.record(session, "rationing", "back_in_stock.notified", "back_in_stock_request", request.id,
                     sku=sku.code, suppressed=suppressed, **figures)
        if outbox_id is not None and not suppressed and not_before is None:
            follow_ups.append(FollowUp(Stage.DELIVER, (outbox_id,)))
    return follow_ups


def for_sku(session: Session, sku_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The SKU's requests, waiting ones in queue order first, then the latest notified."""
    rows = session.scalars(select(BackInStockRequest).where(BackInStockRequest.sku_id == sku_id)
                           .order_by((BackInStockRequest.state != "waiting"), BackInStockRequest.requested_at,
                                     BackInStockRequest.id).limit(limit)).all()
    out, place = [], 0
    for r in rows:
        if r.state == "waiting":
            place += 1
        out.append({"id": r.id, "state": r.state, "channel": r.channel, "contact": r.email or r.phone,
                    "source": r.source, "requested_at": r.requested_at.isoformat(),
                    "position": place if r.state == "waiting" else r.notice.get("position"),
                    "notified_at": r.notified_at.isoformat() if r.notified_at else None, "notice": r.notice})
    return out
