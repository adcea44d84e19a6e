"""A ticket follows its helpdesk's status (``domain.helpdesks.statuses``): solved or closed there
resolves ours through the same ``resolve()`` as the command line — the QA decision stored with who
did it, the satisfaction sweep asking once — a copy seen twice (a redelivery, the webhook and the
poll) does it once, re-opened there re-opens ours with a decision saying why, and a second
resolution never sends a second survey."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.helpdesk.contract import TicketRecord
from domain.core.business_config import BusinessConfig
from domain.core.models import CsatRequest, OutboxMessage, SupportDecision, SupportTicket
from domain.core.stages import Stage
from domain import why
from domain.csat import surveys
from domain.helpdesks import tickets
from domain.support import intake, views
from domain.support.resolve import resolve

T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
RECORD = TicketRecord("zendesk", "101", "Where is my order", "Where is my futon? Ordered two weeks ago.",
                      "rui@example.com", "Rui", "9", "web", status="open", updated_at=T0, created_at=T0)


def _decisions(session: Session, ticket_id: int, kind: str) -> list[SupportDecision]:
    return list(session.scalars(select(SupportDecision).where(SupportDecision.ticket_id == ticket_id,
                                                              SupportDecision.kind == kind)
                                .order_by(SupportDecision.id)))


def _triaged(session: Session, config: BusinessConfig) -> SupportTicket:
    tickets.store(session, config.support, "zd", RECORD)
    ticket = session.scalar(select(SupportTicket))
    assert ticket is not None and ticket.source_status == "open"
    intake.triage_stored(session, config.support, [ticket.id])
    assert ticket.state == "triaged"
    return ticket


def _sweep(session: Session, config: BusinessConfig) -> list[int]:
    asked = surveys.sweep(session, config, "https://shop.example", "k" * 40)
    session.flush()
    return asked


def test_solved_in_the_helpdesk_resolves_once_and_the_survey_asks_once(db_session: Session,
                                                                        futon_config: BusinessConfig) -> None:
    support = futon_config.support
    ticket = _triaged(db_session, futon_config)
    solved = replace(RECORD, status="solved", status_by="3721", updated_at=T0 + timedelta(minutes=5))
    assert tickets.store(db_session, support, "zd", solved) == []
    assert ticket.state == "resolved" and ticket.resolved_at == solved.updated_at  # when the agent solved it
    assert ticket.source_status == "solved" and ticket.resolution_note == "solved in zendesk (ticket 101)"
    [qa] = _decisions(db_session, ticket.id, "qa")
    assert qa.figures["resolved_by"] == "zendesk agent 3721" and qa.figures["helpdesk"] == "zd"
    assert qa.figures["agent_from"] == "status_by" and qa.outcome in ("sampled", "not sampled")
    assert ticket.qa_sampled == (qa.outcome == "sampled")
    assert views.show(db_session, ticket)["resolution"] == "resolved in zendesk by agent 3721 (solved)"
    trail = why.ticket(db_session, str(ticket.id))
    assert trail.facts["resolution"] == "resolved in zendesk by agent 3721 (solved)"
    assert [e.text for e in trail.events if e.kind == "ticket.resolved"] == ["resolved in zendesk by agent 3721 (solved)"]

    # The same change again: a redelivery, the poll's copy, an older copy arriving late.
    for copy in (solved, replace(solved, status_by=""), replace(RECORD, updated_at=T0 + timedelta(minutes=1))):
        assert tickets.store(db_session, support, "zd", copy) == []
    assert ticket.state == "resolved" and len(_decisions(db_session, ticket.id, "qa")) == 1

    asked = _sweep(db_session, futon_config)
    [survey] = db_session.scalars(select(CsatRequest).where(CsatRequest.subject_kind == "ticket")).all()
    assert survey.subject_id == ticket.id and survey.resolved_by == "zendesk agent 3721"
    assert survey.recipient == "rui@example.com" and survey.outbox_id in asked
    email = db_session.get(OutboxMessage, survey.outbox_id)
    assert email is not None and email.template == "csat_request"


def test_reopened_in_the_helpdesk_reopens_ours_and_a_second_resolution_asks_no_second_survey(
        db_session: Session, futon_config: BusinessConfig) -> None:
    support = futon_config.support
    ticket = _triaged(db_session, futon_config)
    tickets.store(db_session, support, "zd", replace(RECORD, status="solved", status_by="3721",
                                                     updated_at=T0 + timedelta(minutes=5)))
    assert len(_sweep(db_session, futon_config)) == 1
    reopened = replace(RECORD, status="open", status_by="9", updated_at=T0 + timedelta(minutes=9))
    assert tickets.store(db_session, support, "zd", reopened) == []
    assert ticket.state == "triaged" and ticket.resolved_at is None and ticket.qa_sampled is None
    [reopen] = _decisions(db_session, ticket.id, "reopen")
    assert reopen.rule == "zendesk status open" and reopen.figures["previous_status"] == "solved"
    assert reopen.reasons == ["re-opened by zendesk agent 9: zendesk ticket 101 went from solved to open"]
    assert reopen.figures["undone"]["resolution_note"] == "solved in zendesk (ticket 101)"
    assert tickets.store(db_session, support, "zd", reopened) == [] and ticket.state == "triaged"  # once

    # Closed again (Zendesk closes a solved ticket after a while): resolved again, no second survey.
    tickets.store(db_session, support, "zd", replace(RECORD, status="closed", assignee_id="3722",
                                                     updated_at=T0 + timedelta(minutes=20)))
    assert ticket.state == "resolved" and len(_decisions(db_session, ticket.id, "qa")) == 2
    assert _decisions(db_session, ticket.id, "qa")[-1].figures["resolved_by"] == "zendesk agent 3722"  # the assignee
    assert views.show(db_session, ticket)["resolution"] == "resolved in zendesk by agent 3722, the assignee (closed)"
    kinds = [e.kind for e in why.ticket(db_session, str(ticket.id)).events]
    assert kinds.count("ticket.qa") == 2 and kinds.count("ticket.reopen") == 1
    assert _sweep(db_session, futon_config) == []
    assert db_session.scalar(select(func.count()).select_from(CsatRequest)) == 1


def test_a_ticket_first_seen_solved_is_triaged_then_resolved(db_session: Session,
                                                              futon_config: BusinessConfig) -> None:
    follow_ups = tickets.store(db_session, futon_config.support, "gg", replace(
        RECORD, source="gorgias", status="closed", assignee_id="12"))
    assert follow_ups == []  # nothing to triage later, draft or write back
    ticket = db_session.scalar(select(SupportTicket))
    assert ticket is not None and ticket.state == "resolved" and ticket.queue and ticket.intent
    assert [d.kind for d in db_session.scalars(select(SupportDecision).order_by(SupportDecision.id))] == \
        ["triage", "routing", "qa"]
    assert intake.triage_stored(db_session, futon_config.support, [ticket.id]) == []  # the stage finds it done


def test_resolved_here_while_open_there_stays_resolved_until_the_helpdesk_solves_and_reopens(
        db_session: Session, futon_config: BusinessConfig) -> None:
    support = futon_config.support
    ticket = _triaged(db_session, futon_config)
    resolve(db_session, support, ticket.id, "answered by phone", actor="maria")
    later = replace(RECORD, subject="Re: where is my order", updated_at=T0 + timedelta(minutes=3))
    assert tickets.store(db_session, support, "zd", later) == []
    assert ticket.state == "resolved" and _decisions(db_session, ticket.id, "reopen") == []  # it was never solved there
    tickets.store(db_session, support, "zd", replace(later, status="solved", updated_at=T0 + timedelta(minutes=4)))
    assert len(_decisions(db_session, ticket.id, "qa")) == 1  # resolved already: not again
    follow_ups = tickets.store(db_session, support, "zd", replace(later, status="open",
                                                                  updated_at=T0 + timedelta(minutes=6)))
    assert ticket.state == "triaged" and len(_decisions(db_session, ticket.id, "reopen")) == 1 and follow_ups == []


def test_a_close_and_a_reopen_in_the_same_second_are_both_applied(db_session: Session,
                                                                  futon_config: BusinessConfig) -> None:
    """Intercom's times are whole seconds: the copy of the same time with another status counts."""
    support = futon_config.support
    record = replace(RECORD, source="intercom", status="open")
    tickets.store(db_session, support, "ic", record)
    ticket = db_session.scalar(select(SupportTicket))
    assert ticket is not None
    intake.triage_stored(db_session, support, [ticket.id])
    at = T0 + timedelta(minutes=1)
    tickets.store(db_session, support, "ic", replace(record, status="closed", status_by="814860", updated_at=at))
    assert ticket.state == "resolved"
    tickets.store(db_session, support, "ic", replace(record, status="open", updated_at=at))
    assert ticket.state == "triaged"
    assert [d.kind for d in _decisions(db_session, ticket.id, "qa") + _decisions(db_session, ticket.id, "reopen")] \
        == ["qa", "reopen"]


def test_a_reopened_ticket_never_triaged_goes_back_to_triage(db_session: Session,
                                                             futon_config: BusinessConfig) -> None:
    support = futon_config.support
    stored = intake.store(db_session, support, tickets.new_ticket("zd", RECORD))
    stored.ticket.source_status, stored.ticket.source_updated_at = "solved", T0
    resolve(db_session, support, stored.ticket.id, "spam", actor="maria")  # resolved before triage ran
    follow_ups = tickets.store(db_session, support, "zd", replace(RECORD, updated_at=T0 + timedelta(minutes=1)))
    assert stored.ticket.state == "new" and [f.stage for f in follow_ups] == [Stage.TRIAGE_TICKETS]
