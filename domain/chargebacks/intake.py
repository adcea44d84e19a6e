"""A verified dispute notice in: stored once by the provider's event id, then the dispute it is
about opened, updated or closed.

The first notice of a dispute finds its order by the payment reference (``orders.payment_ref``, or
the gateway reference the store reported in ``order_payments``), opens ONE case of kind
``chargeback`` (routed like every case: kind × SKU/category × channel × tier) whose SLA is the
processor's deadline, schedules the deadline and reminder timers (``domain.chargebacks.deadlines``)
and asks for its evidence packet. Later notices move the deadline, record the provider's status,
or close the dispute with its outcome (``domain.chargebacks.outcomes``). A redelivered notice (same
provider, same event id) changes nothing: no second case, timer, alert or packet.

Called for each stored dispute event by the payment events drain (the handler registered in
``domain.chargebacks.payment_events``) in its savepoint, or by ``flows.dispute_desk.accept_notices``
in its own transaction; the returned follow-ups are sent after the commit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connectors.payments.contract import DisputeNotice
from domain.chargebacks import deadlines, outcomes
from domain.chargebacks.order_sources import money
from domain.cases import lifecycle
from domain.cases.lifecycle import SLA_TIMER
from domain.core import timers
from domain.core.business_config import BusinessConfig
from domain.core.clock import utcnow
from domain.core.models import Case, Dispute, DisputeNoticeRow, Order, OrderLine, OrderPayment
from domain.core.stages import FollowUp, Stage
from domain.journey import segments
from domain.messaging.alerts import raise_ops_alert

ACTOR = "chargebacks"
KIND = "chargeback"


@dataclass(frozen=True)
class Received:
    """What one notice did: the dispute it is about (None for a redelivery) and what to send next."""

    dispute_id: int | None
    new_dispute: bool = False
    follow_ups: list[FollowUp] = field(default_factory=list)


def _notice_data(notice: DisputeNotice) -> dict[str, object]:
    return {"dispute_ref": notice.dispute_ref, "payment_ref": notice.payment_ref,
            "other_refs": list(notice.other_refs), "status": notice.status,
            "outcome": notice.outcome, "reason_code": notice.reason_code, "network_code": notice.network_code,
            "category": notice.category, "amount_cents": notice.amount_cents, "currency": notice.currency,
            "due_by": notice.due_by.isoformat() if notice.due_by else None, "raw": notice.raw}


def _store_notice(session: Session, notice: DisputeNotice, now: datetime) -> int | None:
    return session.execute(insert(DisputeNoticeRow).values(
        provider=notice.provider, event_id=notice.event_id[:200], status=notice.status[:64],
        outcome=notice.outcome, data=_notice_data(notice), received_at=now,
    ).on_conflict_do_nothing(index_elements=["provider", "event_id"]).returning(DisputeNoticeRow.id)).scalar()


def order_paid_by(session: Session, *payment_refs: str) -> int | None:
    """The order whose payment this is, by any of the payment's references (Stripe names a
    PaymentIntent and its charge; the order may carry either): ``orders.payment_ref`` where the
    payment was recorded on the order, else the gateway's reference the store reported
    (``order_payments.reference``, e.g. WooCommerce's ``transaction_id``: the same one a refund of
    the order is paid back against). Two indexed lookups; the first order when several match."""
    refs = [ref for ref in dict.fromkeys(payment_refs) if ref]
    if not refs:
        return None
    found = [session.scalar(select(func.min(Order.id)).where(Order.payment_ref.in_(refs))),
             session.scalar(select(func.min(OrderPayment.order_id)).where(OrderPayment.reference.in_(refs)))]
    return min((order_id for order_id in found if order_id is not None), default=None)


def _dispute(session: Session, account: str, notice: DisputeNotice, now: datetime) -> tuple[Dispute, bool]:
    """The dispute row, locked; created (True) on its first notice."""
    order_id = order_paid_by(session, *notice.payment_refs)
    created = session.execute(insert(Dispute).values(
        provider=notice.provider, account=account, dispute_ref=notice.dispute_ref, payment_ref=notice.payment_ref,
        order_id=order_id, reason_code=notice.reason_code[:64], network_code=notice.network_code[:16],
        category=notice.category, amount_cents=notice.amount_cents, currency=notice.currency[:3],
        due_by=notice.due_by, state="opened", provider_status=notice.status[:64], created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["provider", "dispute_ref"]).returning(Dispute.id)).scalar()
    dispute = session.scalar(select(Dispute).where(Dispute.provider == notice.provider,
                                                   Dispute.dispute_ref == notice.dispute_ref).with_for_update())
    assert dispute is not None
    return dispute, created is not None


def _summary(dispute: Dispute, order: Order | None) -> str:
    about = f"order {order.number}" if order else f"payment {dispute.payment_ref or '?'} (no order found)"
    reason = ", ".join(r for r in (dispute.reason_code, dispute.network_code and f"network {dispute.network_code}") if r)
    due = f", evidence due {dispute.due_by:%Y-%m-%d %H:%M} UTC" if dispute.due_by else ", no response allowed"
    return (f"chargeback of {money(dispute.amount_cents, dispute.currency)} on {about}: {dispute.provider} "
            f"{dispute.dispute_ref}, {dispute.category.replace('_', ' ')}" + (f" ({reason})" if reason else "") + due)


def _follow_deadline(session: Session, case: Case, dispute: Dispute, now: datetime) -> None:
    """The case's SLA is the processor's deadline; the dispute's own deadline timer watches it
    (it does not pause while the case waits), so the case's generic SLA timer is not kept."""
    if dispute.due_by is None or case.state == "resolved":
        return
    case.sla_due_at = dispute.due_by
    case.sla_s = max(60, int((dispute.due_by - now).total_seconds()))
    timers.cancel(session, lifecycle.SUBJECT, case.id, kinds=(SLA_TIMER,))


def _open_case(session: Session, dispute: Dispute, config: BusinessConfig, now: datetime) -> tuple[Case, list[int]]:
    """The dispute's case, and the outbox ids of its ``case.opened`` alert (sent at once)."""
    order = session.get(Order, dispute.order_id) if dispute.order_id is not None else None
    lines = list(session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id))) \
        if order else []
    tier = None
    if order is not None and config.segments:
        prior, lifetime = segments.history(session, order)
        tier = segments.classify(config.segments, prior, lifetime, 0).key
    new = lifecycle.NewCase(
        kind=KIND, subject_type="dispute", subject_id=dispute.id, summary=_summary(dispute, order),
        order_id=order.id if order else None, order_line_ids=tuple(ln.id for ln in lines),
        store_id=order.store_id if order else None,
        sku_ids=tuple(dict.fromkeys(ln.sku_id for ln in lines if ln.sku_id is not None)), tier=tier,
        detail={"dispute_id": dispute.id, "provider": dispute.provider, "dispute_ref": dispute.dispute_ref,
                "reason_code": dispute.reason_code, "network_code": dispute.network_code,
                "due_by": dispute.due_by.isoformat() if dispute.due_by else None})
    case = lifecycle.open_case(session, new, config, actor=ACTOR, now=now, alert=False)
    _follow_deadline(session, case, dispute, now)
    owner = f", owner {case.owner}" if case.owner else ""
    outbox_ids = raise_ops_alert(
        session, "case.opened", f"case:{case.id}:opened", lifecycle.queue_routes(config.notifications.routes, case.queue),
        detail=f"case {case.id} (chargeback) opened in queue {case.queue}{owner}, priority {case.priority}, "
               f"due {case.sla_due_at:%Y-%m-%d %H:%M} UTC: {case.summary}",
        title=f"case {case.id}", sku=", ".join(case.sku_codes) or "-", store_id=case.store_id)
    return case, outbox_ids


def _update(session: Session, dispute: Dispute, notice: DisputeNotice, config: BusinessConfig, now: datetime) -> None:
    """A later notice: the provider's status, a changed amount, a moved deadline."""
    dispute.provider_status, dispute.updated_at = notice.status[:64] or dispute.provider_status, now
    if notice.amount_cents and notice.amount_cents != dispute.amount_cents:
        dispute.amount_cents = notice.amount_cents
    if notice.due_by is None or notice.due_by == dispute.due_by or dispute.state in deadlines.DONE:
        return
    before, dispute.due_by = dispute.due_by, notice.due_by
    deadlines.schedule(session, dispute, config.chargebacks.remind_before_s, now)
    case = session.scalar(select(Case).where(Case.id == dispute.case_id).with_for_update()) if dispute.case_id else None
    if case is None:
        return
    _follow_deadline(session, case, dispute, now)
    was = f"{before:%Y-%m-%d %H:%M} UTC" if before else "none"
    lifecycle.record(session, case, ACTOR, "note", now=now, dispute_id=dispute.id, due_by=notice.due_by.isoformat(),
                     note=f"{dispute.provider} moved the evidence deadline from {was} to {notice.due_by:%Y-%m-%d %H:%M} UTC")


def receive(session: Session, account: str, notice: DisputeNotice, config: BusinessConfig,
            now: datetime | None = None) -> Received:
    """Take one verified notice from ``account``'s webhook (once per provider event id)."""
    now = now or utcnow()
    notice_id = _store_notice(session, notice, now)
    if notice_id is None:
        return Received(None)
    dispute, created = _dispute(session, account, notice, now)
    row = session.get(DisputeNoticeRow, notice_id)
    assert row is not None
    row.dispute_id = dispute.id
    follow_ups: list[FollowUp] = []
    if created:
        case, outbox_ids = _open_case(session, dispute, config, now)
        dispute.case_id = case.id
        follow_ups += [FollowUp(Stage.DELIVER, (outbox_id,)) for outbox_id in outbox_ids]
        deadlines.schedule(session, dispute, config.chargebacks.remind_before_s, now)
        if notice.outcome == "open":
            follow_ups.append(FollowUp(Stage.DISPUTE_PACKET, (dispute.id,)))
    else:
        _update(session, dispute, notice, config, now)
    if notice.outcome != "open":
        outcomes.record(session, dispute, notice.outcome, now)
    return Received(dispute.id, created, follow_ups)
