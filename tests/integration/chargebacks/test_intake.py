"""A dispute notice opens exactly one chargeback case, due at the processor's deadline, with the
deadline and reminder timers before it; a redelivered notice changes nothing; a later notice moves
the deadline and everything that follows it."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.chargebacks import intake
from domain.core.clock import utcnow
from domain.core.models import (
    Alert,
    Case,
    CaseEvent,
    Dispute,
    DisputeNoticeRow,
    OutboxMessage,
    Timer,
)
from domain.core.stages import FollowUp, Stage
from flows import dispute_desk
from tests.integration.chargebacks.conftest import Desk, make_order, notice


def _counts(session: Session) -> dict[str, int]:
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Dispute, DisputeNoticeRow, Case, CaseEvent, Timer, Alert, OutboxMessage)}


def _pending(session: Session, subject_type: str, subject_id: int) -> dict[str, Any]:
    return dict(session.execute(select(Timer.kind, Timer.due_at).where(
        Timer.subject_type == subject_type, Timer.subject_id == subject_id, Timer.state == "pending")).tuples().all())


def test_one_case_on_the_deadline_with_reminders_and_redelivery_changes_nothing(db_session: Session,
                                                                                 desk: Desk) -> None:
    now = utcnow()
    order = make_order(db_session, "#1001", "ch_3Q1")
    db_session.commit()
    due = (now + timedelta(days=7)).replace(microsecond=0)
    created = notice("stripe", "evt_1", "dp_1", "ch_3Q1", category="not_received", due_by=due, network_code="13.1",
                     reason_code="product_not_received")

    received = intake.receive(db_session, "stripe-main", created, desk.config, now)
    db_session.commit()
    assert received.new_dispute and received.dispute_id is not None
    dispute = db_session.get(Dispute, received.dispute_id)
    assert dispute is not None
    assert (dispute.order_id, dispute.state, dispute.account, dispute.due_by, dispute.network_code) == (
        order.id, "opened", "stripe-main", due, "13.1")
    [case] = db_session.scalars(select(Case)).all()
    assert (case.kind, case.subject_type, case.subject_id, case.order_id) == ("chargeback", "dispute", dispute.id, order.id)
    assert (case.queue, case.owner, case.priority, case.route_index) == ("disputes", "lee", "high", 4)
    assert dispute.case_id == case.id and case.sla_due_at == due  # the case's SLA is the processor's deadline
    assert case.sku_codes == ["FUT-FRM-OAK-FULL"] and "evidence due" in case.summary
    assert _pending(db_session, "dispute", dispute.id) == {
        "dispute.deadline": due, "dispute.reminder.0": due - timedelta(hours=72),
        "dispute.reminder.1": due - timedelta(hours=24), "dispute.reminder.2": due - timedelta(hours=4)}
    assert _pending(db_session, "case", case.id) == {}  # the dispute's deadline timer watches the case
    [alert] = db_session.scalars(select(Alert).where(Alert.kind == "case.opened"))
    assert f"due {due:%Y-%m-%d %H:%M} UTC" in alert.message and "queue disputes, owner lee" in alert.message
    messages = db_session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"alert:{alert.id}:%")))
    outbox_ids = []
    for message in messages:
        assert message.recipient == "finance@futonloft.example"
        outbox_ids.append(message.id)
    assert received.follow_ups == [FollowUp(Stage.DELIVER, (outbox_ids[0],)),
                                   FollowUp(Stage.DISPUTE_PACKET, (dispute.id,))]

    before = _counts(db_session)
    again = intake.receive(db_session, "stripe-main", created, desk.config, now + timedelta(minutes=3))
    db_session.commit()
    assert again == intake.Received(None)
    assert _counts(db_session) == before

    moved = due + timedelta(days=2)
    updated = notice("stripe", "evt_2", "dp_1", "ch_3Q1", category="not_received", due_by=moved,
                     status="needs_response")
    later = intake.receive(db_session, "stripe-main", updated, desk.config, now + timedelta(minutes=5))
    db_session.commit()
    db_session.expire_all()
    assert later.dispute_id == dispute.id and not later.new_dispute and later.follow_ups == []
    assert db_session.scalar(select(func.count()).select_from(Case)) == 1
    assert _pending(db_session, "dispute", dispute.id)["dispute.deadline"] == moved
    assert _pending(db_session, "dispute", dispute.id)["dispute.reminder.2"] == moved - timedelta(hours=4)
    refreshed = db_session.get(Case, case.id)
    assert refreshed is not None and refreshed.sla_due_at == moved
    last = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())).first()
    assert last is not None and "moved the evidence deadline" in last.note


def test_rungs_already_past_are_not_scheduled_and_no_deadline_keeps_the_routed_sla(db_session: Session,
                                                                                  desk: Desk) -> None:
    now = utcnow()
    make_order(db_session, "#1002", "psp_9")
    db_session.commit()
    soon = (now + timedelta(hours=10)).replace(microsecond=0)
    close = intake.receive(db_session, "adyen-eu", notice("adyen", "n1", "DZ1", "psp_9", category="fraud",
                                                          network_code="10.4", due_by=soon), desk.config, now)
    unanswerable = intake.receive(db_session, "stripe-main", notice("stripe", "evt_9", "dp_9", "ch_none",
                                                                    category="general", due_by=None), desk.config, now)
    db_session.commit()
    assert close.dispute_id is not None and unanswerable.dispute_id is not None
    assert _pending(db_session, "dispute", close.dispute_id) == {"dispute.deadline": soon,
                                                                  "dispute.reminder.2": soon - timedelta(hours=4)}
    assert _pending(db_session, "dispute", unanswerable.dispute_id) == {}
    case = db_session.scalar(select(Case).where(Case.subject_id == unanswerable.dispute_id))
    assert case is not None and case.order_id is None and "no order found" in case.summary
    assert _pending(db_session, "case", case.id) == {"case.sla": case.sla_due_at}  # the route's 24h SLA


def test_the_webhook_handler_stores_each_notice_once(db_session: Session, desk: Desk, celery_app: Any) -> None:
    now = utcnow()
    make_order(db_session, "#1003", "5TY05013RG002845M")
    db_session.commit()
    opened = notice("paypal", "WH-1", "PP-D-1", "5TY05013RG002845M", category="not_as_described",
                    due_by=now + timedelta(days=10))
    assert len(dispute_desk.accept_notices("paypal-main", [opened, opened], celery_app)) == 1
    assert dispute_desk.accept_notices("paypal-main", [opened], celery_app) == []
    assert db_session.scalar(select(func.count()).select_from(DisputeNoticeRow)) == 1
    assert db_session.scalar(select(func.count()).select_from(Case)) == 1
