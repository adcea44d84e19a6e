"""Satisfaction surveys: asked once per resolved subject, answered by a signed link (a second
click changes the answer, never adds one), a tampered link refused, a negative answer acted on
by the [csat] rules once, and the report's figures per queue."""
from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.cases import lifecycle
from domain.core.business_config import RouteConfig
from domain.core.csat_config import CsatRule
from domain.core.models import Alert, Case, CaseEvent, CsatRequest, OutboxMessage, Sku, Store
from domain.csat import report, surveys
from domain.journey import customer_journey
from domain.journey.links import LinkClaim, sign, sign_csat_link
from tests.integration.csat.conftest import NOW, SKU, order, stock
from workers.csat_pages import router

LATER = NOW + timedelta(hours=2)


def _cancelled_backorder(session: Session, settings: Any, number: int = 7001) -> int:
    stock(session, 0)
    [backorder_id] = order(session, number)
    session.commit()
    customer_journey.offer(session, backorder_id, settings, now=NOW)
    customer_journey.choose(session, backorder_id, "cancel", settings, source="link", now=NOW + timedelta(hours=1))
    session.commit()
    return backorder_id


def _sweep(session: Session, settings: Any, config: Any = None) -> list[int]:
    ids = surveys.sweep(session, config or settings.config, settings.public_base_url, settings.secret_key, now=LATER)
    session.commit()
    return ids


def _client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def _token(session: Session, settings: Any, request: CsatRequest) -> str:
    return surveys.link(settings.public_base_url, settings.secret_key, request).rsplit("/", 1)[1]


def test_a_resolved_backorder_is_asked_once(db_session: Session, journey_settings: Any) -> None:
    backorder_id = _cancelled_backorder(db_session, journey_settings)
    first = _sweep(db_session, journey_settings)
    assert _sweep(db_session, journey_settings) == []  # a sweep run again asks nobody twice
    [request] = db_session.scalars(select(CsatRequest)).all()
    assert (request.subject_kind, request.subject_id, request.queue, request.intent) == (
        "backorder", backorder_id, "fulfilment", "cancelled_by_customer")  # the backorder case's queue
    assert request.resolved_by == "customer:link" and request.recipient == "customer7001@example.com"
    [message] = db_session.scalars(select(OutboxMessage).where(OutboxMessage.template == "csat_request")).all()
    assert first == [message.id] and message.recipient == "customer7001@example.com"
    assert message.context["score_urls"]["5"].startswith("https://shop.example/csat/")
    # the backorder's case was resolved too, but it is surveyed as the backorder, not twice
    assert db_session.scalar(select(func.count()).select_from(CsatRequest)) == 1


def test_a_link_answered_twice_keeps_one_answer(db_session: Session, journey_settings: Any) -> None:
    _cancelled_backorder(db_session, journey_settings)
    _sweep(db_session, journey_settings)
    request = db_session.scalars(select(CsatRequest)).one()
    token, client = _token(db_session, journey_settings, request), _client()

    shown = client.get(f"/csat/{token}", params={"score": "4"})
    assert shown.status_code == 200 and 'aria-pressed="true" aria-label="4: Happy"' in shown.text
    db_session.expire_all()
    assert db_session.get(CsatRequest, request.id).score is None  # a scanner's GET saves nothing

    assert client.post(f"/csat/{token}", data={"score": "4", "comment": ""}).status_code == 200
    again = client.post(f"/csat/{token}", data={"score": "5", "comment": "Quick refund, thanks"})
    assert again.status_code == 200 and "We saved 5 out of 5" in again.text
    db_session.expire_all()
    [answered] = db_session.scalars(select(CsatRequest)).all()
    assert (answered.score, answered.comment, answered.answer_count) == (5, "Quick refund, thanks", 2)
    assert answered.first_answered_at is not None and answered.decision is None


def test_a_tampered_link_is_refused(db_session: Session, journey_settings: Any) -> None:
    backorder_id = _cancelled_backorder(db_session, journey_settings)
    _sweep(db_session, journey_settings)
    request = db_session.scalars(select(CsatRequest)).one()
    token, client = _token(db_session, journey_settings, request), _client()
    payload, mac = token.split(".")
    tampered = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + mac
    forged = sign_csat_link("x" * 40, request.id, int(request.expires_at.timestamp()))  # another secret
    offer_link = sign(journey_settings.secret_key, LinkClaim(backorder_id, "wait", int(request.expires_at.timestamp())))
    for bad in (tampered, forged, offer_link, "nonsense"):
        assert client.get(f"/csat/{bad}").status_code == 400
        assert client.post(f"/csat/{bad}", data={"score": "1"}).status_code == 400
    expired = sign_csat_link(journey_settings.secret_key, request.id, int((NOW - timedelta(days=1)).timestamp()))
    assert client.post(f"/csat/{expired}", data={"score": "1"}).status_code == 410
    assert client.post(f"/csat/{token}", data={"score": "9"}).status_code == 400
    db_session.expire_all()
    assert db_session.get(CsatRequest, request.id).score is None


def _resolved_case(session: Session, config: Any) -> Case:
    sku_id = session.scalar(select(Sku.id).where(Sku.code == SKU))
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    stock(session, 5)
    order(session, 7100)
    session.flush()
    from domain.core.models import Order

    order_id = session.scalar(select(Order.id).where(Order.number == "#7100"))
    case = lifecycle.open_case(session, lifecycle.NewCase(
        kind="address_problem", subject_type="order", subject_id=order_id, summary="address bounced",
        order_id=order_id, store_id=store_id, sku_ids=(sku_id,)), config, actor="test", now=NOW)
    lifecycle.assign(session, case.id, "dana", actor="dana", now=NOW)
    lifecycle.resolve(session, case.id, "address corrected", actor="dana", now=NOW + timedelta(minutes=30))
    session.commit()
    return case


def test_a_negative_answer_reopens_a_case_once(db_session: Session, journey_settings: Any) -> None:
    config = journey_settings.config
    case = _resolved_case(db_session, config)
    _sweep(db_session, journey_settings)
    request = db_session.scalars(select(CsatRequest).where(CsatRequest.subject_kind == "case")).one()
    assert (request.queue, request.intent, request.resolved_by, request.resolution) == (
        case.queue, "address_problem", "dana", "address corrected")
    surveys.answer(db_session, request.id, 1, "still wrong", config, now=LATER)
    db_session.commit()
    db_session.expire_all()
    reopened = db_session.get(Case, case.id)
    assert reopened.state == "open" and reopened.resolved_at is None
    [event] = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                         CaseEvent.action == "reopened")).all()
    assert event.detail["rule"]["action"] == "reopen" and event.detail["score"] == 1
    request = db_session.get(CsatRequest, request.id)
    assert (request.decision, request.follow_up_case_id, request.decision_rule["csat_rule_index"]) == ("reopen", case.id, 0)
    surveys.answer(db_session, request.id, 2, None, config, now=LATER + timedelta(minutes=1))  # changes the answer
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.action == "reopened")) == 1  # acted on once


def test_a_negative_answer_follows_up_or_alerts_by_rule(db_session: Session, journey_settings: Any) -> None:
    csat = dataclasses.replace(journey_settings.config.csat, rules=(
        CsatRule("alert", kinds=("case",)), CsatRule("follow_up", kinds=("backorder",), queue="cx-recovery")),
        rules_from_file=True)
    routes = (*journey_settings.config.notifications.routes, RouteConfig("csat.negative", None, ("cx@futon.example",)))
    config = dataclasses.replace(journey_settings.config, csat=csat, notifications=dataclasses.replace(
        journey_settings.config.notifications, routes=routes))
    backorder_id = _cancelled_backorder(db_session, journey_settings)
    case = _resolved_case(db_session, config)
    _sweep(db_session, journey_settings, config)
    by_kind = {r.subject_kind: r for r in db_session.scalars(select(CsatRequest))}

    surveys.answer(db_session, by_kind["backorder"].id, 2, "took too long", config, now=LATER)
    surveys.answer(db_session, by_kind["case"].id, 1, None, config, now=LATER)
    surveys.answer(db_session, by_kind["case"].id, 3, None, config, now=LATER)  # not negative: nothing more
    db_session.commit()
    db_session.expire_all()
    backorder_survey, case_survey = db_session.get(CsatRequest, by_kind["backorder"].id), db_session.get(
        CsatRequest, by_kind["case"].id)
    follow_up = db_session.get(Case, backorder_survey.follow_up_case_id)
    assert (follow_up.kind, follow_up.queue, follow_up.subject_type) == ("csat_follow_up", "cx-recovery", "csat_request")
    assert backorder_survey.decision == "follow_up" and backorder_survey.decision_rule["rule"]["queue"] == "cx-recovery"
    assert (case_survey.decision, case_survey.decision_rule["csat_rule_index"], case_survey.score) == ("alert", 0, 3)
    assert db_session.get(Case, case.id).state == "resolved"  # alert only: the case stays resolved
    assert db_session.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "csat.negative")) == 2
    assert backorder_id == backorder_survey.subject_id


def _survey(session: Session, number: int, queue: str, score: int | None, resolved_by: str = "bot:journey",
            intent: str = "auto_cancelled", days_ago: float = 1) -> None:
    session.add(CsatRequest(subject_kind="backorder", subject_id=number, queue=queue, intent=intent,
                            resolved_by=resolved_by, resolved_at=LATER - timedelta(days=days_ago),
                            recipient=f"c{number}@example.com", expires_at=LATER + timedelta(days=30), score=score,
                            comment="bad" if score == 1 else None))


def test_the_report_figures_per_queue(db_session: Session, journey_settings: Any) -> None:
    for number, queue, score in ((1, "fulfilment", 5), (2, "fulfilment", 4), (3, "fulfilment", 1),
                                 (4, "fulfilment", None), (5, "vip", 2), (6, "vip", 5)):
        _survey(db_session, number, queue, score, resolved_by="dana" if queue == "vip" else "bot:journey")
    _survey(db_session, 7, "fulfilment", 1, days_ago=10)  # outside the week
    db_session.commit()
    found = report.figures(db_session, LATER - timedelta(days=7), LATER)
    queues = {f.group: f for f in found["queue"]}
    assert (queues["fulfilment"].asked, queues["fulfilment"].answered, queues["fulfilment"].average,
            queues["fulfilment"].csat, queues["fulfilment"].negative, queues["fulfilment"].response_rate) == (
        4, 3, "3.33", "66.7%", 1, "75.0%")
    assert (queues["vip"].answered, queues["vip"].average, queues["vip"].csat, queues["vip"].negative) == (
        2, "3.50", "50.0%", 1)
    assert {f.group for f in found["resolved_by"]} == {"bot:journey", "dana"}
    assert found["overall"][0].answered == 5


def test_the_weekly_report_is_queued_once_per_period(db_session: Session, journey_settings: Any) -> None:
    _survey(db_session, 1, "fulfilment", 5, days_ago=2)
    db_session.commit()
    routes = (RouteConfig("csat.report", None, ("cx-lead@futon.example",)),)
    config = dataclasses.replace(journey_settings.config, notifications=dataclasses.replace(
        journey_settings.config.notifications, routes=routes))
    monday = LATER + timedelta(days=(7 - LATER.weekday()) % 7, hours=12)  # past 08:00 on a Monday
    first = report.send_report(db_session, monday, config)
    again = report.send_report(db_session, monday + timedelta(hours=1), config)
    db_session.commit()
    assert len(first) == 1 and again == []
    message = db_session.get(OutboxMessage, first[0])
    assert message.template == "csat_report" and message.recipient == "cx-lead@futon.example"
    assert message.context["queue"][0]["group"] == "fulfilment" and message.context["queue"][0]["csat"] == "100.0%"


@pytest.mark.parametrize("score", [0, 6])
def test_a_score_out_of_range_is_refused(db_session: Session, journey_settings: Any, score: int) -> None:
    _survey(db_session, 1, "fulfilment", None)
    db_session.commit()
    with pytest.raises(surveys.SurveyError):
        surveys.answer(db_session, 1, score, None, journey_settings.config)
