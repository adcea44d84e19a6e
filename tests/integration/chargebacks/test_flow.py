"""The desk end to end on the real database, with a provider that records what it is sent:
staged → approved → submitted once (a task run twice, a lost answer, a retry) → the outcome posts a
finance note and a note on the case and closes it; a deadline passing unanswered escalates."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import freezegun
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.errors import PermanentError, TransientError
from domain import why
from domain.chargebacks import approval, calls, finance, intake
from domain.chargebacks.shipment_evidence import ShipmentFacts
from domain.core import timers
from domain.core.clock import utcnow
from domain.core.db import get_sessionmaker
from domain.core.models import Alert, Case, CaseEvent, Dispute, DisputeCall, FinanceNote, OutboxMessage, Timer
from domain.core.stages import FollowUp, Stage
from flows import dispute_desk
from tests.integration.chargebacks.conftest import Desk, make_order, notice

CALL = "tasks.disputes.call_provider"


def _opened(db_session: Session, desk: Desk, *, ref: str, number: str, due: datetime, delivered: bool = True) -> int:
    now = utcnow()
    order = make_order(db_session, number, ref, facts={"shipping_address": "12 Pine St, Brooklyn NY 11201"})
    db_session.commit()
    desk.shipments[order.id] = [ShipmentFacts(
        carrier="UPS", tracking_number="1Z999AA10123456784", shipped_at=now - timedelta(days=8),
        delivered_at=now - timedelta(days=5) if delivered else None, signed_by="R. LEE" if delivered else "")]
    received = intake.receive(db_session, "stripe-main", notice(
        "stripe", f"evt_{ref}", f"dp_{ref}", ref, category="not_received", network_code="13.1", due_by=due),
        desk.config, now)
    db_session.commit()
    assert received.dispute_id is not None
    dispute_desk.build_packet(desk.work, received.dispute_id)
    return received.dispute_id


def _dispute(session: Session, dispute_id: int) -> Dispute:
    session.expire_all()
    found = session.get(Dispute, dispute_id)
    assert found is not None
    return found


def _case(session: Session, dispute: Dispute) -> Case:
    found = session.get(Case, dispute.case_id)
    assert found is not None
    return found


def _notes(session: Session, case_id: int) -> list[str]:
    return list(session.scalars(select(CaseEvent.note).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def test_staged_approved_submitted_once_and_the_outcome_closes_the_case(db_session: Session, desk: Desk) -> None:
    dispute_id = _opened(db_session, desk, ref="ch_B", number="#5001", due=utcnow() + timedelta(days=7))
    stripe = desk.providers["stripe-main"]
    [stage_call] = desk.work.take(CALL)
    assert dispute_desk.call_provider(desk.work, stage_call) == "done"
    assert dispute_desk.call_provider(desk.work, stage_call) == "nothing to do"
    assert len(stripe.staged) == 1 and stripe.submitted == []
    [staged] = stripe.staged
    assert staged.dispute_ref == "dp_ch_B" and staged.fields["shipping_tracking_number"] == "1Z999AA10123456784"
    assert set(staged.files) == {"shipping_documentation.pdf", "uncategorized_file.pdf"}
    assert staged.files["uncategorized_file.pdf"].startswith(b"%PDF-1.4")
    assert b"signed for by R. LEE" in staged.files["uncategorized_file.pdf"]
    dispute = _dispute(db_session, dispute_id)
    assert dispute.state == "staged" and dispute.staged_at is not None
    assert "approve it with `backorders disputes approve" in _notes(db_session, _case(db_session, dispute).id)[-1]
    assert desk.work.sent == []  # auto_submit is off: a person approves

    approved = approval.approve(db_session, dispute_id, "dana", utcnow())
    db_session.commit()
    assert approved.call_id is not None and approved.follow_ups == [FollowUp(Stage.DISPUTE_CALL, (approved.call_id,))]
    with pytest.raises(approval.DisputeError, match="is approved"):
        approval.approve(db_session, dispute_id, "dana", utcnow())
    db_session.rollback()
    assert dispute_desk.call_provider(desk.work, approved.call_id) == "done"
    assert dispute_desk.call_provider(desk.work, approved.call_id) == "nothing to do"  # the task ran twice
    assert len(stripe.submitted) == 1 and stripe.submitted[0].fields == staged.fields
    dispute = _dispute(db_session, dispute_id)
    case = _case(db_session, dispute)
    assert (dispute.state, dispute.approved_by, case.state) == ("submitted", "dana", "waiting")
    assert db_session.scalar(select(func.count()).select_from(Timer).where(
        Timer.subject_type == "dispute", Timer.state == "pending")) == 0  # the deadline clock stopped
    with pytest.raises(approval.DisputeError, match="is submitted"):
        approval.submit_again(db_session, dispute_id, "dana", utcnow())
    db_session.rollback()

    lost = notice("stripe", "evt_ch_B_closed", "dp_ch_B", "ch_B", category="not_received", due_by=None,
                  outcome="lost", status="lost")
    assert intake.receive(db_session, "stripe-main", lost, desk.config).follow_ups == []
    db_session.commit()
    assert intake.receive(db_session, "stripe-main", lost, desk.config) == intake.Received(None)  # redelivered
    db_session.commit()
    dispute = _dispute(db_session, dispute_id)
    case = _case(db_session, dispute)
    [note] = db_session.scalars(select(FinanceNote)).all()
    assert (note.kind, note.amount_cents, note.currency, note.reference, note.order_id) == (
        "chargeback_lost", -64900, "USD", "dp_ch_B", dispute.order_id)
    assert note.gl_note.startswith("Chargeback lost on order #5001: 649.00 USD stays with the cardholder")
    assert note.figures["evidence_submitted"] is True and note.rule == finance.RULE
    assert (dispute.state, case.state, case.resolution_note) == ("lost", "resolved", "chargeback lost")
    assert any(n.startswith("chargeback lost after the evidence was submitted") and "finance: Chargeback lost" in n
               for n in _notes(db_session, case.id))
    [row] = finance.rows(db_session)
    assert (row["kind"], row["order"], row["amount_cents"], row["provider_ref"]) == ("chargeback_lost", "#5001", -64900,
                                                                                     "dp_ch_B")

    trail = why.explain(db_session, "dispute", str(dispute_id)).as_dict()
    texts = [e["text"] for e in trail["events"]]
    assert any(t.startswith("finance note chargeback_lost: -649.00 USD") for t in texts)
    assert any(t.startswith("packet v1 by rule \"not received") for t in texts)
    assert any(t == "submit call done after 1 attempt(s): provider status under_review" for t in texts)
    assert trail["facts"]["state"] == "lost"
    order_texts = [e["text"] for e in why.explain(db_session, "order", "#5001").as_dict()["events"]]
    assert any(t.startswith(f"dispute {dispute_id}: stripe dp_ch_B") for t in order_texts)
    assert any(t.startswith("finance note chargeback_lost") for t in order_texts)


def test_a_submit_whose_answer_was_lost_is_not_sent_again_until_a_person_says(db_session: Session, desk: Desk) -> None:
    dispute_id = _opened(db_session, desk, ref="ch_C", number="#5002", due=utcnow() + timedelta(days=7))
    stripe = desk.providers["stripe-main"]
    [stage_call] = desk.work.take(CALL)
    stripe.fail_with = TransientError("503 from the provider")
    with pytest.raises(TransientError):
        dispute_desk.call_provider(desk.work, stage_call)
    call = db_session.get(DisputeCall, stage_call)
    assert call is not None and (call.state, call.last_error) == ("pending", "503 from the provider")
    stripe.fail_with = None
    assert dispute_desk.call_provider(desk.work, stage_call) == "done"
    approved = approval.approve(db_session, dispute_id, "dana", utcnow())
    db_session.commit()
    assert approved.call_id is not None

    with get_sessionmaker()() as other:  # another worker claims the submit and dies mid-call
        assert calls.claim(other, approved.call_id, utcnow()) is not None
        other.commit()
    assert dispute_desk.call_provider(desk.work, approved.call_id) == "nothing to do"  # its lease holds
    later = utcnow() + calls.LEASE + timedelta(minutes=1)
    assert calls.stranded(db_session, later, dispute_desk.STRANDED_AFTER) == [approved.call_id]
    with freezegun.freeze_time(later, tick=True):
        assert dispute_desk.call_provider(desk.work, approved.call_id) == "nothing to do"
    db_session.expire_all()
    call = db_session.get(DisputeCall, approved.call_id)
    assert call is not None and call.state == "unknown" and stripe.submitted == []
    assert "outcome unknown" in _notes(db_session, _case(db_session, _dispute(db_session, dispute_id)).id)[-1]
    assert dispute_desk.call_provider(desk.work, approved.call_id) == "nothing to do"

    assert approval.submit_again(db_session, dispute_id, "dana", utcnow()) == approved.call_id  # a person checked
    db_session.commit()
    stripe.fail_with = PermanentError("evidence too large")
    assert dispute_desk.call_provider(desk.work, approved.call_id) == "failed"
    assert "submitting the evidence at stripe failed: evidence too large" in _notes(
        db_session, _case(db_session, _dispute(db_session, dispute_id)).id)[-1]
    stripe.fail_with = None
    approval.submit_again(db_session, dispute_id, "dana", utcnow())
    db_session.commit()
    assert dispute_desk.call_provider(desk.work, approved.call_id) == "done"
    assert len(stripe.submitted) == 1 and _dispute(db_session, dispute_id).state == "submitted"


def _fire(session: Session, at: datetime) -> list[Any]:
    follow_ups: list[Any] = []
    for timer in timers.claim_due(session, now=at):
        follow_ups += timers.fire(session, timer, now=at)
    session.commit()
    return follow_ups


def test_reminders_alert_the_queue_and_a_deadline_passing_unanswered_escalates_once(db_session: Session,
                                                                                     desk: Desk) -> None:
    import domain.chargebacks.deadlines  # noqa: F401  (registers the handlers, as tasks.timers does)

    due = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    dispute_id = _opened(db_session, desk, ref="ch_D", number="#5003", due=due, delivered=False)
    dispute = _dispute(db_session, dispute_id)
    case_id = _case(db_session, dispute).id
    assert dispute.state == "packet_ready"  # missing the delivery proof: waits for its owner

    reminded = _fire(db_session, due - timedelta(hours=24) + timedelta(seconds=1))
    [reminder] = db_session.scalars(select(Alert).where(Alert.kind == "case.chargeback_reminder")).all()
    assert "(in 24h)" in reminder.message and "still misses Delivered scan or signature" in reminder.message
    recipients = db_session.scalars(select(OutboxMessage.recipient).where(
        OutboxMessage.idempotency_key.like(f"alert:{reminder.id}:%"))).all()
    assert recipients == ["finance@futonloft.example"]
    assert len(reminded) == 1 and reminded[0].stage == Stage.DELIVER
    assert _fire(db_session, due - timedelta(hours=4) + timedelta(seconds=1)) != []
    assert _fire(db_session, due - timedelta(seconds=1)) == []  # not due yet

    escalated = _fire(db_session, due + timedelta(seconds=1))
    dispute = _dispute(db_session, dispute_id)
    case = _case(db_session, dispute)
    assert dispute.escalated_at is not None and dispute.state == "packet_ready"
    assert case.sla_breached_at is not None and case.priority == "urgent"  # one step up from the route's "high"
    [past_due] = db_session.scalars(select(Alert).where(Alert.kind == "case.chargeback_past_due")).all()
    assert "passed without the evidence submitted" in past_due.message and "priority high → urgent" in past_due.message
    sent = db_session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"alert:{past_due.id}:%"))
                              .order_by(OutboxMessage.id)).all()
    assert [(m.channel, m.recipient) for m in sent] == [("slack", "SLACK_WEBHOOK_OPS"), ("email", "finance@futonloft.example")]
    assert sorted(f.args[0] for f in escalated) == [m.id for m in sent]
    actions = db_session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).all()
    assert actions.count("reminder") == 2 and actions.count("escalated") == 1

    assert _fire(db_session, due + timedelta(days=1)) == []
    assert db_session.scalar(select(func.count()).select_from(Alert).where(Alert.kind.like("case.%"))) == 4  # opened,
    # two reminders, past due: and never the generic SLA breach on top


def test_the_sweeper_sends_again_what_lost_its_message(db_session: Session, desk: Desk) -> None:
    now = utcnow()
    make_order(db_session, "#5004", "ch_G")
    db_session.commit()
    received = intake.receive(db_session, "stripe-main", notice("stripe", "evt_G", "dp_G", "ch_G", category="general",
                                                                due_by=now + timedelta(days=5)), desk.config, now)
    db_session.commit()
    assert dispute_desk.sweep(desk.work) == 0  # just opened: its build message is on its way
    with freezegun.freeze_time(now + dispute_desk.STRANDED_AFTER + timedelta(seconds=5), tick=True):
        assert dispute_desk.sweep(desk.work) == 1
    assert desk.work.take("tasks.disputes.build_packet") == [received.dispute_id]
    dispute_desk.build_packet(desk.work, received.dispute_id)
    with freezegun.freeze_time(now + dispute_desk.STRANDED_AFTER + timedelta(seconds=5), tick=True):
        assert dispute_desk.sweep(desk.work) == 0  # built: nothing lost
    assert desk.work.take("tasks.disputes.build_packet") == []
    with freezegun.freeze_time(now + dispute_desk.REBUILD_EVERY + timedelta(minutes=5), tick=True):
        assert dispute_desk.sweep(desk.work) == 1  # incomplete (no shipping address): looked at again
    assert desk.work.take("tasks.disputes.build_packet") == [received.dispute_id]


def test_a_packet_rebuilt_while_its_draft_was_on_its_way_is_staged_again(db_session: Session, desk: Desk) -> None:
    from connectors.payments.contract import EvidenceReceipt

    dispute_id = _opened(db_session, desk, ref="ch_H", number="#5005", due=utcnow() + timedelta(days=6))
    [stage_call] = desk.work.take(CALL)
    with get_sessionmaker()() as other:  # a worker has the v1 draft on its way to the provider
        claim = calls.claim(other, stage_call, utcnow())
        other.commit()
    assert claim is not None and claim.packet_version == 1
    dispute = _dispute(db_session, dispute_id)
    order_id = dispute.order_id
    assert order_id is not None
    desk.shipments[order_id] = [ShipmentFacts(carrier="UPS", tracking_number="1Z999AA10123456784",
                                              shipped_at=utcnow() - timedelta(days=8),
                                              delivered_at=utcnow() - timedelta(days=5), signed_by="J. LEE")]
    dispute_desk.build_packet(desk.work, dispute_id)  # v2: its stage call is the one in flight
    assert desk.work.take(CALL) == [stage_call]
    with get_sessionmaker()() as other:  # the v1 answer comes back
        again = approval.record_done(other, stage_call, EvidenceReceipt("dp_ch_H", False, "needs_response"),
                                     desk.config.chargebacks, utcnow())
        other.commit()
    assert again == [FollowUp(Stage.DISPUTE_CALL, (stage_call,))]
    assert _dispute(db_session, dispute_id).state == "packet_ready"  # v2 is not at the provider yet
    assert dispute_desk.call_provider(desk.work, stage_call) == "done"
    [staged] = desk.providers["stripe-main"].staged
    assert b"signed for by J. LEE" in staged.files["shipping_documentation.pdf"]
    assert _dispute(db_session, dispute_id).state == "staged"
