"""Solved, closed and re-opened in the helpdesk itself, against each stand-in (Zendesk, Gorgias,
Intercom), through the real webhook route, the real drain on a worker and the poll: the agent
solves the ticket there → ours is resolved with its QA decision and the satisfaction sweep asks the
customer once; the same status webhook delivered twice, and the poll seeing the same change,
resolve it once; re-opened there (a webhook lost: the poll finds it) → ours re-opened with a
decision saying why; solved again → resolved again, and no second survey."""
from __future__ import annotations

from typing import Any

import pytest
import requests
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import CsatRequest, HelpdeskWriteBack, SupportDecision, SupportTicket
from tests.conftest import wait_for
from tests.integration.support.helpdesk_kit import NOWHERE, SECRET

#: platform → (key, the admin path a customer writes in by, its status path, solve, re-open, who we expect)
PLATFORMS = {
    "zendesk": ("zd", "tickets", "tickets/{id}/status", {"status": "solved", "agent_id": 3721}, {"status": "open"},
                "zendesk agent 3721"),
    "gorgias": ("gg", "tickets", "tickets/{id}/status", {"status": "closed", "agent_id": 12}, {"status": "open"},
                "gorgias agent 12"),
    "intercom": ("ic", "conversations", "conversations/{id}/state", {"state": "closed", "admin_id": "814861"},
                 {"state": "open", "admin_id": "814860"}, "intercom agent 814861"),
}


class Desk:
    """One stand-in account: the admin calls an agent makes there, and its deliveries to our route."""

    def __init__(self, base: str, platform: str, client: TestClient) -> None:
        self.key, self.create, self.status_path, self.solve, self.reopen, self.actor = PLATFORMS[platform]
        self.admin, self.client = f"{base}/{platform}/{self.key}/_admin", client

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = requests.post(f"{self.admin}/{path}", json=body, timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    def tick(self) -> None:
        """A minute and a bit passes there (Zendesk's export leaves the last minute out)."""
        self.post("clock", {"advance_s": 61})

    def deliver(self, made: dict[str, Any]) -> list[bool]:
        """Each webhook the change sent, posted to our route; whether each was new."""
        return [self.client.post(f"/webhooks/helpdesk/{self.key}", content=d["body"].encode(),
                                 headers=d["headers"]).json()["new"] for d in made["webhooks"]]

    def status(self, ticket_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.tick()
        return self.post(self.status_path.format(id=ticket_id), body)

    def poll(self) -> str:
        self.tick()
        from workers.cli import main

        polled = CliRunner().invoke(main, ["helpdesks", "poll", self.key, "--json"])
        assert polled.exit_code == 0, polled.output
        return polled.output


def ticket_in(session: Session, state: str) -> SupportTicket | None:
    session.expire_all()
    return session.scalar(select(SupportTicket).where(SupportTicket.state == state))


def write_back_done(session: Session) -> bool:
    session.expire_all()
    return session.scalar(select(HelpdeskWriteBack.state)) == "done"


def kinds(session: Session, ticket_id: int) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(SupportDecision.kind).where(SupportDecision.ticket_id == ticket_id)
                                .where(SupportDecision.kind.in_(("qa", "reopen"))).order_by(SupportDecision.id)))


def sweep(session: Session) -> list[int]:
    from domain.core.business_config import current_config
    from domain.csat import surveys

    asked = surveys.sweep(session, current_config(), "https://shop.example", "k" * 40)
    session.commit()
    return asked


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_solved_in_the_helpdesk_resolves_ours_once_and_reopened_there_reopens_it(
        platform: str, celery_worker: Any, client: TestClient, configured: str, db_session: Session) -> None:
    desk = Desk(configured, platform, client)
    desk.post("webhooks", {"address": NOWHERE, "secret": SECRET})
    made = desk.post(desk.create, {"email": "rui@example.com", "name": "Rui", "subject": "Where is my order",
                                   "body": "Where is my futon? I ordered it two weeks ago and nothing has shipped."})
    external_id = str((made.get("ticket") or made.get("conversation") or {})["id"])
    assert desk.deliver(made) == [True]
    wait_for(lambda: write_back_done(db_session), timeout_s=90)  # triaged, written back

    # The agent solves it in the helpdesk; the webhook comes twice.
    solved = desk.status(external_id, desk.solve)
    assert len(solved["webhooks"]) == 1
    assert desk.deliver(solved) + desk.deliver(solved) == [True, False]
    ticket = wait_for(lambda: ticket_in(db_session, "resolved"), timeout_s=60)
    assert isinstance(ticket, SupportTicket) and ticket.external_id == external_id and ticket.source == desk.key
    qa = db_session.scalar(select(SupportDecision).where(SupportDecision.kind == "qa"))
    assert qa is not None and qa.figures["resolved_by"] == desk.actor and qa.figures["helpdesk"] == desk.key
    assert qa.outcome == ("sampled" if ticket.qa_sampled else "not sampled")

    # The poll sees the same change: nothing more. The survey is asked once.
    assert '"new": 0' in desk.poll()
    assert kinds(db_session, ticket.id) == ["qa"]
    assert len(sweep(db_session)) == 1 and sweep(db_session) == []
    survey = db_session.scalar(select(CsatRequest))
    assert survey is not None and (survey.subject_kind, survey.subject_id) == ("ticket", ticket.id)
    assert survey.resolved_by == desk.actor and survey.recipient == "rui@example.com"

    # Re-opened there; its webhook is lost, the poll finds it.
    desk.status(external_id, desk.reopen)
    desk.poll()
    assert ticket_in(db_session, "triaged") is not None and kinds(db_session, ticket.id) == ["qa", "reopen"]
    reason = db_session.scalar(select(SupportDecision.reasons).where(SupportDecision.kind == "reopen"))
    assert reason is not None and f"{platform} ticket {external_id} went from" in reason[0]

    # Solved again: resolved again, and still one survey.
    assert desk.deliver(desk.status(external_id, desk.solve)) == [True]
    wait_for(lambda: ticket_in(db_session, "resolved"), timeout_s=60)
    assert kinds(db_session, ticket.id) == ["qa", "reopen", "qa"]
    assert sweep(db_session) == [] and db_session.scalar(select(func.count()).select_from(CsatRequest)) == 1
