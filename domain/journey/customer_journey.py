"""The customer's backorder journey: notice, choice, reminder, deadline, ETA changes, fill.

Policy defaults follow the US FTC Mail, Internet, or Telephone Order Merchandise Rule (16 CFR
435): a first delay notice that gives a definite new date no more than ``consent_free_days``
(30) out may treat the customer's silence as consent to wait; an indefinite date, a date further
out, or any renewed delay notice needs the customer's yes, and without it by the deadline the
line is cancelled and refunded. The deadline is the store's SLA after the notice and never later
than the last promised date.

Every decision locks the backorder row first and checks the state machine
(``domain.journey.backorders``), so a reply and the auto-cancel racing each other give one outcome.
Functions return follow-ups (``domain.core.stages``: a stage and its ids) that ``flows.spine`` sends
after the commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import domain.core.env_settings as runtime_settings
from domain.core import audit, timers
from domain.core.business_config import PolicyConfig, RouteConfig
from domain.core.clock import utcnow
from domain.core.db import any_int, state_is
from domain.core.env_settings import JourneySettings
from domain.core.stages import FollowUp, Stage
from domain.journey import backorders, rationing, segments, substitutes
from domain.journey.links import LinkClaim, sign
from domain.messaging import alerts, contacts, localtime, outbox
from domain.stock.allocation import allocatable
from domain.core.models import (
    OPEN_PO_STATES,
    BackInStockRequest,
    Backorder,
    Order,
    OrderLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Sku,
    Store,
    SubstituteOrder,
    Timer,
    Vendor,
)

DELIVER, REFUND, PUSH_DUE = Stage.DELIVER, Stage.REFUND, Stage.PUSH_DUE
REMINDER, DEADLINE = "backorder.reminder", "backorder.deadline"
LINK_LIFETIME = timedelta(days=45)


@dataclass(frozen=True)
class Eta:
    date: date | None
    source: str

    @property
    def definite(self) -> bool:
        return self.date is not None


#: What the journey needs from the outside (``domain.core.env_settings.current()`` gives the one in force).
Settings = JourneySettings


def eta_for(session: Session, sku: Sku, today: date) -> Eta:
    """Open purchase order first, then a date set by staff, then the vendor's lead time."""
    po_eta = session.scalar(
        select(func.min(func.coalesce(PurchaseOrderLine.eta, PurchaseOrderLine.promised_date)))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrderLine.sku_id == sku.id, PurchaseOrder.state.in_(OPEN_PO_STATES),
               PurchaseOrderLine.quantity > PurchaseOrderLine.received_qty)
    )
    if po_eta:
        return Eta(po_eta, "purchase_order")
    if sku.eta:
        return Eta(sku.eta, "staff")
    vendor = session.get(Vendor, sku.vendor_id) if sku.vendor_id else None
    if vendor is not None:
        return Eta(today + timedelta(days=vendor.lead_time_days), "vendor_lead_time")
    return Eta(None, "unknown")


def needs_consent(eta: Eta, today: date, policy: PolicyConfig, renewed: bool) -> bool:
    if renewed or eta.date is None:
        return True
    return eta.date > today + timedelta(days=policy.consent_free_days)


def deadline_for(now: datetime, policy: PolicyConfig, promised: date | None, extra_s: int = 0) -> datetime:
    """The SLA (lengthened by the customer's tier) after the notice, never past the end of the last
    promised date."""
    deadline = now + timedelta(seconds=policy.sla_s + extra_s)
    if promised is not None:
        deadline = min(deadline, datetime.combine(promised, time(23, 59, 59), tzinfo=UTC))
    return max(deadline, now + min(timedelta(seconds=policy.sla_s), timedelta(minutes=1)))


def _facts(session: Session, backorder: Backorder) -> tuple[OrderLine, Order, Sku, Store]:
    line = session.get(OrderLine, backorder.order_line_id)
    assert line is not None
    order = session.get(Order, line.order_id)
    sku = session.get(Sku, backorder.sku_id)
    assert order is not None and sku is not None
    store = session.get(Store, order.store_id)
    assert store is not None
    return line, order, sku, store


def substitutes_for(session: Session, sku: Sku, quantity: int) -> list[Sku]:
    """In-stock alternatives: the configured substitutes, else same category within ±20 % of the price."""
    if sku.substitutes:
        candidates = list(session.scalars(select(Sku).where(Sku.code.in_(sku.substitutes)).order_by(Sku.code)))
    else:
        low, high = int(sku.price_cents * 0.8), int(sku.price_cents * 1.2)
        candidates = list(session.scalars(select(Sku).where(
            Sku.category == sku.category, Sku.id != sku.id, Sku.price_cents.between(low, high)).order_by(Sku.code)))
    return [c for c in candidates if allocatable(session, c.id) >= quantity][:3]


def _link(settings: Settings, backorder: Backorder, choice: str, now: datetime, substitute: str | None = None) -> str:
    claim = LinkClaim(backorder.id, choice, int((now + LINK_LIFETIME).timestamp()), substitute)
    return f"{settings.public_base_url}/b/{sign(settings.secret_key, claim)}"


def message_context(session: Session, backorder: Backorder, settings: Settings, now: datetime,
                    **extra: Any) -> dict[str, Any]:

    line, order, sku, store = _facts(session, backorder)
    subs = substitutes_for(session, sku, backorder.quantity) if backorder.state in ("open", "notified") else []
    zone = localtime.customer_zone(order.customer_timezone, settings.config.timezone)  # theirs, else the business's
    return {
        "store_name": settings.config.name or store.name, "order_number": order.number,
        "customer_name": order.customer_name, "item_title": line.title or sku.title, "sku": sku.code,
        "quantity": backorder.quantity, "eta": backorder.eta.isoformat() if backorder.eta else None,
        "consent_required": backorder.consent_required,
        "deadline": localtime.local_iso(backorder.deadline_at, zone), "timezone": zone.key,
        "links": {choice: _link(settings, backorder, choice, now) for choice in ("wait", "cancel", "credit")},
        "substitutes": [{"sku": s.code, "title": s.title, "price_cents": s.price_cents,
                         "link": _link(settings, backorder, "substitute", now, s.code)} for s in subs],
        "sms_keywords": ["WAIT", "REFUND", "CREDIT"],
        "auto_cancel_action": settings.config.policy_for(store.key).auto_cancel_action,
        "segment": backorder.segment, "credit_bonus_cents": backorder.credit_bonus_cents,
        "credit_total_cents": line.price_cents * backorder.quantity + backorder.credit_bonus_cents, **extra,
    }


def notify_customer(session: Session, backorder: Backorder, template: str, key: str, settings: Settings,
                    now: datetime, *, skip_sms: bool = False, **extra: Any) -> list[FollowUp]:
    """Email and SMS to the customer, each once per ``key``; invalid or opted-out addresses are
    stored as suppressed with the reason, and staff hear about a customer we cannot reach."""
    _, order, _, store = _facts(session, backorder)
    policy = settings.config.policy_for(store.key)
    context = message_context(session, backorder, settings, now, **extra)
    follow_ups: list[FollowUp] = []
    reasons: list[str] = []
    email = contacts.valid_email(order.email)
    phone = contacts.normalize_phone(order.phone)
    targets: list[tuple[str, str | None, str | None]] = [
        ("email", email, None if email else f"no valid email address ({order.email!r})"),
        ("sms", phone, None if phone or not order.phone else f"not a valid phone number ({order.phone!r})"),
    ]
    for channel, address, invalid in targets:
        if channel == "sms" and (not order.phone or skip_sms):
            continue
        reason = invalid or (f"{channel} opted out" if address and contacts.opted_out(session, channel, address)
                             else None)
        not_before = None
        if channel == "sms" and address and not reason:
            tz = localtime.customer_zone(order.customer_timezone, settings.config.timezone)
            not_before = contacts.next_send_time(now, tz, policy.quiet_hours)
        outbox_id = outbox.enqueue(session, idempotency_key=f"backorder:{backorder.id}:{template}:{key}:{channel}",
                                   channel=channel, template=template, recipient=address or (order.phone or ""),
                                   context=context, not_before=not_before, suppressed_because=reason)
        if reason:
            reasons.append(reason)
        elif outbox_id is not None and not_before is None:
            follow_ups.append(FollowUp(DELIVER, (outbox_id,)))
    if reasons and not any(f[0] == DELIVER for f in follow_ups):
        follow_ups += _staff_alert(session, backorder, settings, f"customer not reachable: {'; '.join(reasons)}")
    return follow_ups


def _staff_alert(session: Session, backorder: Backorder, settings: Settings, detail: str) -> list[FollowUp]:
    _, order, sku, _ = _facts(session, backorder)
    ids = alerts.raise_ops_alert(session, "message.failed", f"unreachable:{backorder.id}",
                                 settings.config.notifications.routes, detail=f"Order {order.number}: {detail}",
                                 sku_id=sku.id, sku=sku.code, title=sku.title, from_state=backorder.state,
                                 to_state=backorder.state, threshold=sku.threshold)
    return [FollowUp(DELIVER, (i,)) for i in ids]


def _schedule(session: Session, backorder: Backorder, policy: PolicyConfig, now: datetime) -> None:
    assert backorder.deadline_at is not None
    reminder_at = now + timedelta(seconds=policy.reminder_after_s)
    if reminder_at < backorder.deadline_at:
        timers.schedule(session, REMINDER, "backorder", backorder.id, reminder_at)
    timers.schedule(session, DEADLINE, "backorder", backorder.id, backorder.deadline_at)


def offer(session: Session, backorder_id: int, settings: Settings, now: datetime | None = None) -> list[FollowUp]:
    """First delay notice with the ETA and the choices; starts the reminder and deadline timers."""
    now = now or utcnow()
    backorder = backorders.lock(session, backorder_id)
    if backorder is None or backorder.state != "open":
        return []
    _, _, sku, store = _facts(session, backorder)
    policy = settings.config.policy_for(store.key)
    tier = segments.check(session, backorder, settings.config.segments)
    eta = eta_for(session, sku, now.date())
    backorder.eta = backorder.promised_date = eta.date
    backorder.consent_required = needs_consent(eta, now.date(), policy, renewed=False)
    backorder.notice_count += 1
    backorder.notified_at = now
    backorder.deadline_at = deadline_for(now, policy, eta.date, tier.sla_extra_s)
    backorders.move(session, backorder, "notified", cause="first delay notice", eta=str(eta.date),
                    eta_source=eta.source, consent_required=backorder.consent_required, now=now,
                    segment=tier.key, sla_s=policy.sla_s + tier.sla_extra_s)
    _schedule(session, backorder, policy, now)
    return notify_customer(session, backorder, "backorder_notice", "1", settings, now)


UNOFFERED_SQL = text("""
SELECT b.id FROM backorders b
 WHERE b.state = 'open' AND b.created_at <= :before
   AND NOT EXISTS (SELECT 1 FROM dead_letters d
                    WHERE d.task_name = :offer_task AND d.redriven_at IS NULL
                      AND d.args = jsonb_build_array(b.id))
 ORDER BY b.id LIMIT :limit
""")


def unoffered(session: Session, now: datetime, older_than: timedelta, limit: int = 500, *,
              offer_task: str) -> list[int]:
    """Backorders still ``open`` (no first notice) ``older_than`` after they were recorded: their
    ``offer`` message was lost with the broker or a worker. ``offer`` is idempotent (it acts only
    on ``open``), so the sweeper re-sends it; one that dead-lettered (as ``offer_task``, the
    task ``flows.spine`` names for the offer stage) waits for ``redrive``."""
    return [int(row[0]) for row in session.execute(
        UNOFFERED_SQL, {"before": now - older_than, "limit": limit, "offer_task": offer_task})]


@dataclass(frozen=True)
class Outcome:
    """What a reply did, for the page or SMS answer: ``applied``, ``already`` or ``too_late``."""

    result: str
    state: str


def choose(session: Session, backorder_id: int, choice: str, settings: Settings, *, source: str,
           substitute: str | None = None, now: datetime | None = None) -> tuple[Outcome, list[FollowUp]]:
    now = now or utcnow()
    backorder = backorders.lock(session, backorder_id)
    if backorder is None:
        return Outcome("unknown", "missing"), []
    target = {"wait": "accepted_wait", "cancel": "cancelled_by_customer", "credit": "cancelled_by_customer",
              "substitute": "substituted"}[choice]
    if backorder.state == target:
        return Outcome("already", backorder.state), []
    if not backorders.can_move(backorder.state, target):
        return Outcome("too_late", backorder.state), []
    follow_ups: list[FollowUp] = []
    price: dict[str, Any] = {}
    if choice == "substitute":
        _, _, sku, store = _facts(session, backorder)
        offered = {s.code: s for s in substitutes_for(session, sku, backorder.quantity)}
        if substitute not in offered:
            return Outcome("unavailable", backorder.state), []
        backorder.substitute_sku_id = offered[substitute].id
        row, placing = substitutes.request(session, backorder, offered[substitute],
                                           settings.config.policy_for(store.key),
                                           settings.config.notifications.routes, now)
        follow_ups += placing
        price = substitute_price_facts(row)
    if choice in ("cancel", "credit"):
        backorder.resolution = "refund" if choice == "cancel" else "store_credit"
        follow_ups.append(FollowUp(REFUND, (backorder.id,)))
    backorders.move(session, backorder, target, cause=f"customer chose {choice}", actor=source,
                    substitute=substitute, now=now)
    timers.cancel(session, "backorder", backorder.id)
    substitute_title = session.scalar(select(Sku.title).where(Sku.code == substitute)) if substitute else None
    follow_ups += notify_customer(session, backorder, "backorder_confirmed", choice, settings, now, choice=choice,
                                  substitute=substitute, substitute_title=substitute_title,
                                  skip_sms=source == "sms",  # a texted answer is confirmed in the SMS reply
                                  **price)
    return Outcome("applied", backorder.state), follow_ups


def substitute_price_facts(row: SubstituteOrder) -> dict[str, Any]:
    """What the customer reads about the price difference (page and email), from the decided row."""
    return {"substitute_price": {
        "paid_cents": row.paid_cents, "substitute_total_cents": row.substitute_total_cents,
        "difference_cents": row.difference_cents, "settlement": row.settlement, "due_cents": row.due_cents,
        "refund_cents": max(0, -row.difference_cents), "awaiting_staff": row.state == "awaiting_staff"}}


def change_eta(session: Session, sku_id: int, new_eta: date, settings: Settings,
               now: datetime | None = None) -> list[FollowUp]:
    """Re-date waiting backorders; a slip beyond the threshold tells each customer once, and a
    slip past the promised date is a renewed delay notice that needs their yes."""
    now = now or utcnow()
    follow_ups: list[FollowUp] = []
    waiting = session.scalars(select(Backorder).where(Backorder.sku_id == sku_id,
                                                      Backorder.state.in_(backorders.WAITING_STATES))
                              .order_by(Backorder.id).with_for_update(key_share=True)).all()
    for backorder in waiting:
        _, _, _, store = _facts(session, backorder)
        policy = settings.config.policy_for(store.key)
        old = backorder.eta
        backorder.eta = new_eta
        if backorder.state == "open" or old is None or (new_eta - old).days <= policy.eta_slip_notice_days:
            continue
        if backorder.promised_date is not None and new_eta > backorder.promised_date:
            backorder.consent_required = True
            backorder.notice_count += 1
            backorder.promised_date = new_eta
            extra_s = segments.sla_extra_for(settings.config.segments, backorder.segment)
            backorder.deadline_at = deadline_for(now, policy, new_eta, extra_s)
            if backorder.state == "accepted_wait":
                backorders.move(session, backorder, "notified", cause="renewed delay notice", now=now,
                                old_eta=str(old), new_eta=str(new_eta))
            _schedule(session, backorder, policy, now)
            follow_ups += notify_customer(session, backorder, "backorder_renewed_notice", new_eta.isoformat(),
                                          settings, now, old_eta=old.isoformat())
        else:
            follow_ups += notify_customer(session, backorder, "backorder_eta_change", new_eta.isoformat(), settings,
                                          now, old_eta=old.isoformat())
    return follow_ups


def fill(session: Session, sku_id: int, settings: Settings, now: datetime | None = None) -> list[FollowUp]:
    """Arriving stock fills waiting backorders first, oldest order first (then priority); what is
    left then goes to the back-in-stock requests (``domain.journey.rationing``)."""
    now = now or utcnow()
    session.scalar(select(Sku.id).where(Sku.id == sku_id).with_for_update(key_share=True))
    free = allocatable(session, sku_id)
    follow_ups: list[FollowUp] = []
    waiting = session.scalars(select(Backorder).where(Backorder.sku_id == sku_id,
                                                      Backorder.state.in_(backorders.WAITING_STATES))
                              .order_by(Backorder.ordered_at, Backorder.priority.desc(), Backorder.id)
                              .with_for_update(key_share=True)).all()
    for backorder in waiting:
        if backorder.quantity > free:
            break
        line = session.get(OrderLine, backorder.order_line_id, with_for_update={"key_share": True})
        assert line is not None
        line.allocated_qty += backorder.quantity
        line.backordered_qty -= backorder.quantity
        free -= backorder.quantity
        backorder.filled_at = now
        backorders.move(session, backorder, "filled", cause="restock", now=now, free_after=free)
        timers.cancel(session, "backorder", backorder.id)
        follow_ups += notify_customer(session, backorder, "backorder_ships", "1", settings, now)
    if any(b.state == "filled" and b.filled_at == now for b in waiting):
        # filled units leave the sellable figure: every selling store's push is a row due now, in
        # this transaction (the sweeper ``tasks.channels.sweep`` finds it if the message is lost)
        from domain.stock import pushes

        for store_id in pushes.selling_stores(session, sku_id):
            pushes.request(session, sku_id, store_id, now)
            follow_ups.append(FollowUp(PUSH_DUE, (sku_id, store_id)))
    # what is left goes to the shoppers who asked to be told, oldest first, one notice per unit
    follow_ups += rationing.notify(session, sku_id, now, timezone=settings.config.timezone,
                                   quiet_hours=settings.config.policy.quiet_hours)
    return follow_ups


def has_waiting(session: Session, sku_ids: list[int]) -> list[int]:
    """The SKUs among these someone waits for: a waiting backorder, or a shopper's back-in-stock
    request (``domain.journey.rationing``), so a restock runs ``fill`` for them. One array
    parameter, so detection's batches of 500 ids reuse one compiled statement."""
    backordered = select(Backorder.sku_id).where(
        Backorder.sku_id == any_int("sku_ids", sku_ids), Backorder.state.in_(backorders.WAITING_STATES))
    requested = select(BackInStockRequest.sku_id).where(
        BackInStockRequest.sku_id == any_int("requested_sku_ids", sku_ids), BackInStockRequest.state == "waiting")
    return sorted(set(session.scalars(backordered.union(requested))))


@timers.handler(REMINDER)
def _remind(session: Session, timer: Timer) -> list[FollowUp]:
    backorder = backorders.lock(session, timer.subject_id)
    if backorder is None or backorder.state != "notified" or backorder.reminded_at is not None:
        return []  # a late deadline may already have sent it (see ``_deadline``)
    now = utcnow()
    backorder.reminded_at = now
    return notify_customer(session, backorder, "backorder_reminder", str(backorder.notice_count),
                           runtime_settings.current(), now)


def _reminder_pending(session: Session, backorder_id: int) -> bool:
    return session.scalar(select(func.count()).select_from(Timer).where(
        Timer.kind == REMINDER, Timer.subject_type == "backorder", Timer.subject_id == backorder_id,
        state_is(Timer.state, "pending"))) > 0


def _remind_late(session: Session, backorder: Backorder, settings: Settings, now: datetime) -> list[FollowUp]:
    """The deadline came before the reminder went out (every process was down past both, and a
    sweeper took the deadline first). Where silence would count as agreeing to wait, it only
    counts after the reminder, so the reminder goes now and the deadline moves to give the
    customer the reminder-to-deadline time they were due. Where consent is required the deadline
    is the promised date's limit and the order is cancelled and refunded on time instead."""
    _, _, _, store = _facts(session, backorder)
    policy = settings.config.policy_for(store.key)
    backorder.reminded_at = now
    extra_s = segments.sla_extra_for(settings.config.segments, backorder.segment)
    backorder.deadline_at = now + timedelta(seconds=max(policy.sla_s + extra_s - policy.reminder_after_s, 0))
    timers.cancel(session, "backorder", backorder.id, kinds=(REMINDER,))
    timers.schedule(session, DEADLINE, "backorder", backorder.id, backorder.deadline_at)
    audit.record(session, "journey", "backorder.reminded_late", "backorder", backorder.id,
                 deadline=backorder.deadline_at.isoformat())
    return notify_customer(session, backorder, "backorder_reminder", str(backorder.notice_count), settings, now)


class AutoCancelListener(Protocol):
    """Owes more work when a backorder is auto-cancelled, decided in the same transaction."""

    def __call__(self, session: Session, backorder: Backorder, reason: str, *, routes: tuple[RouteConfig, ...],
                 public_base_url: str, secret_key: str, now: datetime) -> list[FollowUp]: ...


#: Who hears of an auto-cancel (a lost sale) besides the customer. Purchasing registers its
#: escalation here (``domain.purchasing.merchandising``), so the journey never imports purchasing,
#: which imports the journey; ``tasks.timers``, which fires the deadline, imports both.
AUTO_CANCEL_LISTENERS: list[AutoCancelListener] = []


def on_auto_cancel(listener: AutoCancelListener) -> AutoCancelListener:
    """Register ``listener`` (a decorator); registering the same one twice keeps one."""
    if listener not in AUTO_CANCEL_LISTENERS:
        AUTO_CANCEL_LISTENERS.append(listener)
    return listener


@timers.handler(DEADLINE)
def _deadline(session: Session, timer: Timer) -> list[FollowUp]:
    """No answer by the deadline: silence is consent on a first definite notice, else cancel per policy."""
    backorder = backorders.lock(session, timer.subject_id)
    if backorder is None or backorder.state != "notified":
        return []
    now = utcnow()
    settings = runtime_settings.current()
    if not backorder.consent_required and backorder.reminded_at is None and _reminder_pending(session, backorder.id):
        return _remind_late(session, backorder, settings, now)
    if not backorder.consent_required:
        backorders.move(session, backorder, "accepted_wait", cause="silence on a first definite notice", now=now)
        timers.cancel(session, "backorder", backorder.id)
        return []
    _, _, _, store = _facts(session, backorder)
    backorder.resolution = settings.config.policy_for(store.key).auto_cancel_action
    reason = "no answer by the deadline"
    backorders.move(session, backorder, "auto_cancelled", cause=reason, now=now,
                    resolution=backorder.resolution)
    timers.cancel(session, "backorder", backorder.id)
    follow_ups = [FollowUp(REFUND, (backorder.id,))]
    for listener in AUTO_CANCEL_LISTENERS:
        follow_ups += listener(session, backorder, reason, routes=settings.config.notifications.routes,
                               public_base_url=settings.public_base_url, secret_key=settings.secret_key, now=now)
    return follow_ups
