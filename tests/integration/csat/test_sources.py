"""The ``return`` and ``ticket`` sources: a settled return (registered by ``domain.returns``, which
sits above csat) and a resolved support ticket are surveyed once, with their queue, intent and who
resolved them; a return whose settle email already carried the survey is not asked again."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import CsatRequest, Order, OutboxMessage, ReturnEvent, ReturnRequest, SupportTicket
from domain.csat import surveys
from domain.returns import csat_source
from domain.support.resolve import resolve
from tests.integration.csat.conftest import NOW, order, stock

LATER = NOW + timedelta(hours=2)


def _sweep(session: Session, settings: Any) -> list[int]:
    ids = surveys.sweep(session, settings.config, settings.public_base_url, settings.secret_key, now=LATER)
    session.commit()
    return ids


def _settled_return(session: Session, number: int, received_by: str = "dana") -> ReturnRequest:
    stock(session, 5)
    order(session, number)
    found = session.scalar(select(Order).where(Order.number == f"#{number}"))
    assert found is not None
    row = ReturnRequest(rma=f"RMA-{number}", source="staff", source_ref=f"T-{number}", order_id=found.id,
                        reason="defective", state="settled", qc="restock", lines=[])
    session.add(row)
    session.flush()
    session.add_all([
        ReturnEvent(return_id=row.id, from_state="delivered", to_state="received", step="receive_scan",
                    actor=received_by, at=NOW),
        ReturnEvent(return_id=row.id, from_state="received", to_state="settled", step="settle", actor="returns",
                    at=NOW + timedelta(minutes=1))])
    session.commit()
    return row


def _surveys(session: Session, kind: str) -> list[CsatRequest]:
    session.expire_all()
    return list(session.scalars(select(CsatRequest).where(CsatRequest.subject_kind == kind)
                                .order_by(CsatRequest.id)))


def test_a_settled_return_without_a_survey_is_asked_once(db_session: Session, journey_settings: Any) -> None:
    row = _settled_return(db_session, 8101)
    assert "return" in journey_settings.config.csat.kinds
    first = _sweep(db_session, journey_settings)
    [survey] = _surveys(db_session, "return")
    assert (survey.subject_id, survey.queue, survey.intent, survey.resolved_by) == (
        row.id, "returns", "defective/restock", "dana")
    assert survey.recipient == "customer8101@example.com" and survey.resolved_at == NOW + timedelta(minutes=1)
    email = db_session.get(OutboxMessage, survey.outbox_id)
    assert email is not None and email.template == "csat_request" and email.id in first
    assert "/csat/" in email.context["score_urls"]["5"]
    assert _sweep(db_session, journey_settings) == [] and len(_surveys(db_session, "return")) == 1


def test_a_return_surveyed_when_it_was_settled_is_not_asked_again(db_session: Session,
                                                                    journey_settings: Any) -> None:
    row = _settled_return(db_session, 8102)
    found = db_session.get(Order, row.order_id)
    opened = surveys.open_for(db_session, csat_source.resolved(db_session, row, found, NOW), journey_settings.config,
                              NOW)
    again = surveys.open_for(db_session, csat_source.resolved(db_session, row, found, NOW), journey_settings.config,
                             NOW)
    assert again.id == opened.id, "one survey per return"
    db_session.commit()
    before = db_session.scalar(select(func.count()).select_from(OutboxMessage))
    _sweep(db_session, journey_settings)
    assert len(_surveys(db_session, "return")) == 1
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == before


def test_a_resolved_ticket_is_asked_with_its_queue_intent_and_agent(db_session: Session,
                                                                     journey_settings: Any) -> None:
    ticket = SupportTicket(source="email", external_id="m-1", customer_email="Kim@Example.com",
                           customer_name="Kim", subject="where is my frame", received_at=NOW - timedelta(hours=3),
                           state="triaged", intent="backorder_eta", queue="care")
    open_ticket = SupportTicket(source="email", external_id="m-2", customer_email="lee@example.com",
                                received_at=NOW, state="triaged", intent="other", queue="care")
    db_session.add_all([ticket, open_ticket])
    db_session.commit()
    resolve(db_session, journey_settings.config.support, ticket.id, "told the ETA", actor="maria", now=NOW)
    db_session.commit()
    asked = _sweep(db_session, journey_settings)
    [survey] = _surveys(db_session, "ticket")
    assert (survey.subject_id, survey.queue, survey.intent, survey.resolved_by) == (
        ticket.id, "care", "backorder_eta", "maria")
    assert survey.outbox_id in asked and survey.resolution == "told the ETA"
    assert _sweep(db_session, journey_settings) == [], "asked once"


def test_a_returns_survey_page_says_it_is_about_the_return(db_session: Session, journey_settings: Any) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from workers.csat_pages import router

    row = _settled_return(db_session, 8103)
    _sweep(db_session, journey_settings)
    [survey] = _surveys(db_session, "return")
    url = surveys.link(journey_settings.public_base_url, journey_settings.secret_key, survey)
    app = FastAPI()
    app.include_router(router)
    page = TestClient(app).get(url.replace(journey_settings.public_base_url, "") + "?score=2")
    assert page.status_code == 200 and "Your return" in page.text and "#8103" in page.text
    assert 'value="2" class="picked"' in page.text and _surveys(db_session, "return")[0].score is None
    assert row.id == survey.subject_id


def test_ticket_answers_are_reported_per_queue_intent_and_agent_and_a_negative_one_escalates(
        db_session: Session, journey_settings: Any) -> None:
    """Two tickets resolved by two agents: the surveys carry each one's queue, intent and agent; a 1/5
    opens a ``csat_follow_up`` case (nothing to reopen: the default policy escalates), a 5/5 does
    nothing; the figures split per queue, per kind/intent and per agent in the report, its weekly
    email and the console's satisfaction page."""
    from domain.core.clock import utcnow
    from domain.core.models import Case
    from domain.csat import report
    from workers.console import _templates, read_csat

    config, now = journey_settings.config, utcnow()
    made = {}
    for ext, intent, queue, agent in (("m-10", "backorder_eta", "care", "maria"),
                                      ("m-11", "damaged_defective", "fulfilment", "omar")):
        made[agent] = SupportTicket(source="email", external_id=ext, customer_email=f"{agent}-customer@example.com",
                                    subject="help", received_at=now - timedelta(hours=5), state="triaged",
                                    intent=intent, queue=queue)
        db_session.add(made[agent])
        db_session.flush()
        resolve(db_session, config.support, made[agent].id, "answered", actor=agent, now=now - timedelta(hours=2))
    db_session.commit()
    surveys.sweep(db_session, config, journey_settings.public_base_url, journey_settings.secret_key,
                  now=now - timedelta(hours=1))
    db_session.commit()
    by_agent = {s.resolved_by: s for s in _surveys(db_session, "ticket")}
    assert {a: (s.queue, s.intent) for a, s in by_agent.items()} == {
        "maria": ("care", "backorder_eta"), "omar": ("fulfilment", "damaged_defective")}

    surveys.answer(db_session, by_agent["omar"].id, 1, "the frame is still broken", config, now=now)
    surveys.answer(db_session, by_agent["maria"].id, 5, None, config, now=now)
    db_session.commit()
    db_session.expire_all()
    bad, good = db_session.get(CsatRequest, by_agent["omar"].id), db_session.get(CsatRequest, by_agent["maria"].id)
    assert bad is not None and good is not None and bad.decision == "follow_up" and good.decision is None
    follow_up = db_session.get(Case, bad.follow_up_case_id)
    assert follow_up is not None and follow_up.kind == "csat_follow_up" and "omar" in follow_up.summary

    found = report.figures(db_session, now - timedelta(days=7), now + timedelta(minutes=1))
    figures = {group: {f.group: (f.answered, f.average, f.negative) for f in rows} for group, rows in found.items()}
    assert figures["queue"] == {"care": (1, "5.00", 0), "fulfilment": (1, "1.00", 1)}
    assert figures["intent"] == {"ticket / backorder_eta": (1, "5.00", 0), "ticket / damaged_defective": (1, "1.00", 1)}
    assert figures["resolved_by"] == {"maria": (1, "5.00", 0), "omar": (1, "1.00", 1)}

    page = _templates().get_template("console/csat.html").render(**read_csat(7))
    for section, group in (("queue", "fulfilment"), ("intent", "ticket / damaged_defective"),
                           ("resolved_by", "omar")):
        row = page.split(f'id="csat-{section}"', 1)[1].split(f'data-group="{group}"', 1)[1].split("</tr>", 1)[0]
        assert 'data-count="negative">1<' in row, (section, row)
    assert "the frame is still broken" in page
