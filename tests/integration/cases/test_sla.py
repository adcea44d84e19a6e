"""A case's SLA timer: firing once alerts the queue's routes and escalates; firing again, or
firing for a case resolved in time, does nothing."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.cases import lifecycle
from domain.core import timers
from domain.core.models import Alert, Case, CaseEvent, OutboxMessage, Timer
from domain.core.stages import Stage
from tests.integration.cases.conftest import open_for

FRAME = "FUT-FRM-OAK-FULL"


def _fire_due(session: Session, at: Any) -> list[timers.FollowUp]:
    follow_ups: list[timers.FollowUp] = []
    for timer in timers.claim_due(session, now=at):
        follow_ups += timers.fire(session, timer, now=at)
    return follow_ups


def test_breach_fires_once_alerts_and_escalates(db_session: Session, journey_settings: Any) -> None:
    case = open_for(db_session, journey_settings.config, kind="backorder", sku=FRAME, channel="shopify-main")
    db_session.commit()
    assert (case.queue, case.priority, case.route_index) == ("fulfilment", "normal", 2)
    opened = db_session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.template == "stock_alert")).all()
    assert opened == ["ops@futonloft.example"]  # the fulfilment queue's case.opened route only
    [timer] = db_session.scalars(select(Timer).where(Timer.subject_type == "case", Timer.subject_id == case.id))
    assert (timer.kind, timer.state, timer.due_at) == ("case.sla", "pending", case.sla_due_at)

    assert _fire_due(db_session, case.sla_due_at - timedelta(seconds=1)) == []  # not due yet
    follow_ups = _fire_due(db_session, case.sla_due_at + timedelta(seconds=1))
    db_session.commit()
    db_session.expire_all()
    breached = db_session.get(Case, case.id)
    assert breached is not None and breached.sla_breached_at is not None and breached.priority == "high"
    [alert] = db_session.scalars(select(Alert).where(Alert.kind == "case.sla_breached"))
    assert alert.dedupe_key == f"case:{case.id}:sla_breached" and "missed its SLA" in alert.message
    sent = db_session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"alert:{alert.id}:%"))
                              .order_by(OutboxMessage.id)).all()
    assert [(m.channel, m.recipient) for m in sent] == [("slack", "SLACK_WEBHOOK_OPS"), ("email", "ops@futonloft.example")]
    assert sorted(f.args[0] for f in follow_ups if f.stage == Stage.DELIVER) == [m.id for m in sent]
    actions = db_session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id)
                                 .order_by(CaseEvent.id)).all()
    assert actions == ["opened", "sla_breached"]

    assert _fire_due(db_session, case.sla_due_at + timedelta(days=3)) == []  # the timer fired once
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "case.sla_breached")) == 1
    assert db_session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)) == 2


def test_a_case_resolved_in_time_never_breaches(db_session: Session, journey_settings: Any) -> None:
    case = open_for(db_session, journey_settings.config, kind="fraud_hold", sku=FRAME, channel="shopify-main")
    db_session.commit()
    assert (case.queue, case.priority) == ("risk", "urgent")
    lifecycle.resolve(db_session, case.id, "verified by phone", actor="sam")
    db_session.commit()
    assert _fire_due(db_session, case.sla_due_at + timedelta(hours=1)) == []
    db_session.commit()
    assert db_session.scalar(select(Timer.state).where(Timer.subject_type == "case")) == "cancelled"
    assert db_session.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "case.sla_breached")) == 0


def test_case_alerts_render_for_slack_and_email(db_session: Session, journey_settings: Any) -> None:
    from domain.messaging import rendering

    case = open_for(db_session, journey_settings.config, kind="backorder", sku=FRAME, channel="shopify-main")
    db_session.commit()
    [message] = db_session.scalars(select(OutboxMessage).where(OutboxMessage.template == "stock_alert"))
    email = rendering.render_email(message.template, message.context)
    assert "has a new case in your queue" in email.subject + email.text
    assert f"case {case.id} (backorder) opened in queue fulfilment" in email.text
    slack = json.dumps(rendering.render_slack(message.template, message.context))
    assert "has a case" not in slack and "has a new case in your queue" in slack and "cases assign" in slack
