"""Helpdesks wired to support tickets, under a real worker and against the Zendesk and Gorgias
stand-ins: a signed webhook becomes one ticket, triaged, with tags, priority, group and one
internal note written back however often the delivery comes and the write-back runs; a poll finds
a ticket no webhook announced and stores it once; a legal threat goes to the legal queue and its
write-back says so."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connectors.helpdesk.contract import note_marker
from domain.core.clock import utcnow
from domain.core.models import HelpdeskState, HelpdeskWriteBack, InboxEvent, SupportTicket
from tests.conftest import wait_for
from tests.integration.support import helpdesk_kit
from tests.integration.support.helpdesk_kit import NOWHERE, SECRET


def helpdesks(base: str) -> str:
    return f'''
[[helpdesks]]
key = "zd"
platform = "zendesk"
base_url = "{base}/zendesk/zd"
credentials = {{ email = "ZD_EMAIL", api_token = "ZD_TOKEN" }}
webhook_secret_env = "HELPDESK_SECRET"
options = {{ poll_interval_s = 60, groups = {{ legal = "360001", support = "360002" }} }}

[[helpdesks]]
key = "gg"
platform = "gorgias"
base_url = "{base}/gorgias/gg"
credentials = {{ email = "GG_EMAIL", api_key = "GG_KEY" }}
webhook_secret_env = "HELPDESK_SECRET"
options = {{ poll_interval_s = 60, groups = {{ legal = 7 }} }}

[[helpdesks]]
key = "zr"
platform = "zendesk"
base_url = "{base}/zendesk/zr"
credentials = {{ email = "ZD_EMAIL", api_token = "ZD_TOKEN" }}
webhook_secret_env = "HELPDESK_SECRET"
options = {{ max_retries = 0 }}
'''


@pytest.fixture
def sandbox() -> Iterator[str]:
    with helpdesk_kit.stand_ins("sandbox.zendesk", "sandbox.gorgias") as base:
        yield base


@pytest.fixture
def configured(sandbox: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with helpdesk_kit.store_config(tmp_path, monkeypatch, helpdesks(sandbox)):
        yield sandbox


def customer_writes(sandbox: str, platform: str, instance: str, body: str, subscribe: bool = True,
                    hook: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    admin = f"{sandbox}/{platform}/{instance}/_admin"
    if subscribe:
        requests.post(f"{admin}/webhooks", json={"address": NOWHERE, "secret": SECRET, **(hook or {})},
                      timeout=10).raise_for_status()
    made = requests.post(f"{admin}/tickets", json={"email": "rui@example.com", "name": "Rui", "body": body,
                                                   "subject": extra.pop("subject", "My order"), **extra}, timeout=10)
    made.raise_for_status()
    return dict(made.json())


def stand_in_ticket(sandbox: str, platform: str, instance: str, ticket_id: str) -> dict[str, Any]:
    answer = requests.get(f"{sandbox}/{platform}/{instance}/_admin/state/tickets/{ticket_id}", timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def notes(state: dict[str, Any]) -> list[str]:
    """The internal notes on a stand-in ticket (Zendesk private comments, Gorgias internal-note messages)."""
    if "comments" in state:
        return [str(c["body"]) for c in state["comments"] if not c.get("public", True)]
    return [str(m.get("body_text") or "") for m in state.get("messages") or [] if m.get("channel") == "internal-note"]


def the_ticket(session: Session, source: str) -> SupportTicket | None:
    session.expire_all()
    return session.scalar(select(SupportTicket).where(SupportTicket.source == source))


def write_back_done(session: Session) -> bool:
    session.expire_all()
    states = session.scalars(select(HelpdeskWriteBack.state)).all()
    return bool(states) and all(state == "done" for state in states)


def test_a_signed_zendesk_webhook_is_one_ticket_triaged_and_written_back_once(
        celery_worker: Any, client: TestClient, configured: str, db_session: Session) -> None:
    from tasks.helpdesks import sweep, write_back

    made = customer_writes(configured, "zendesk", "zd", "Where is my futon? I ordered it two weeks ago and "
                           "nothing has shipped.", subject="Where is my order")
    [delivery] = made["webhooks"]
    body, headers = delivery["body"].encode(), delivery["headers"]
    assert client.post("/webhooks/helpdesk/zd", content=body, headers=headers).json()["new"] is True
    assert client.post("/webhooks/helpdesk/zd", content=body, headers=headers).json()["new"] is False  # redelivered

    wait_for(lambda: write_back_done(db_session), timeout_s=90)
    ticket = the_ticket(db_session, "zd")
    assert ticket is not None and ticket.state == "triaged"
    assert ticket.customer_email == "rui@example.com"  # the event envelope names only the id: read in full
    assert db_session.scalar(select(func.count()).select_from(SupportTicket)) == 1
    assert db_session.scalar(select(InboxEvent.state).where(InboxEvent.source == "helpdesk:zd")) == "done"

    zendesk_id = str(made["ticket"]["id"])
    state = stand_in_ticket(configured, "zendesk", "zd", zendesk_id)
    tags = state["tags"]
    assert f"bo-intent-{ticket.intent}" in tags and f"bo-priority-{ticket.priority}" in tags
    assert f"bo-queue-{ticket.queue}" in tags
    assert state["priority"] == ticket.priority
    [note] = notes(state)
    assert f"Intent: {ticket.intent}" in note and f"Queue: {ticket.queue}" in note and "Priority:" in note
    assert note_marker(f"triage-{ticket.id}") in note

    # The task runs again (a redelivered message), and once more as a retry after a lost answer.
    row_id = db_session.scalar(select(HelpdeskWriteBack.id))
    assert "done, failed, or another run holds it" in write_back.apply(args=(row_id,)).get()
    db_session.execute(update(HelpdeskWriteBack).values(state="pending", due_at=utcnow(), done_at=None))
    db_session.commit()
    assert "(note was there)" in write_back.apply(args=(row_id,)).get()
    assert len(notes(stand_in_ticket(configured, "zendesk", "zd", zendesk_id))) == 1
    assert sweep.apply().get() == 0  # nothing left for the sweeper


def test_a_write_back_refused_for_a_while_is_retried_by_the_task_and_posts_one_note(
        celery_worker: Any, client: TestClient, configured: str, db_session: Session) -> None:
    """The zr helpdesk's connector does not wait out a 429 itself (``max_retries = 0``): the task retries."""
    admin = f"{configured}/zendesk/zr/_admin"
    made = customer_writes(configured, "zendesk", "zr", "My futon frame arrived cracked, please send a new one.",
                           hook={"body": "trigger"})  # a trigger's body names the requester: nothing to fetch
    requests.post(f"{admin}/config", json={"window": {"limit": 0, "seconds": 3600}}, timeout=10).raise_for_status()
    [delivery] = made["webhooks"]
    assert client.post("/webhooks/helpdesk/zr", content=delivery["body"].encode(),
                       headers=delivery["headers"]).json()["new"] is True

    def refused() -> HelpdeskWriteBack | None:
        db_session.expire_all()
        return db_session.scalar(select(HelpdeskWriteBack).where(HelpdeskWriteBack.last_error.is_not(None)))

    row = wait_for(refused, timeout_s=90)
    assert isinstance(row, HelpdeskWriteBack) and row.state == "pending" and "429" in (row.last_error or "")
    requests.post(f"{admin}/config", json={"window": {"limit": 700, "seconds": 60}}, timeout=10).raise_for_status()
    wait_for(lambda: write_back_done(db_session), timeout_s=90)
    done = db_session.scalar(select(HelpdeskWriteBack))
    assert done is not None and done.attempts >= 2 and done.last_error is None and "priority" in done.fields_written
    state = stand_in_ticket(configured, "zendesk", "zr", str(made["ticket"]["id"]))
    assert len(notes(state)) == 1 and "bo-intent-damaged_defective" in state["tags"]


def test_a_poll_stores_a_ticket_no_webhook_announced_once(celery_worker: Any, configured: str,
                                                          db_session: Session) -> None:
    from tasks.helpdesks import dispatch_polls

    made = customer_writes(configured, "gorgias", "gg", "Can I change the delivery address on my order?",
                           subscribe=False, age_s=30)
    assert made["webhooks"] == []
    assert dispatch_polls.apply().get() == 3  # all never polled, so due (the Zendesk exports are empty)
    assert dispatch_polls.apply().get() == 0  # each slot handed out once
    wait_for(lambda: write_back_done(db_session), timeout_s=90)
    ticket = the_ticket(db_session, "gg")
    assert ticket is not None and ticket.external_id == str(made["ticket"]["id"]) and ticket.state == "triaged"
    gg = db_session.scalar(select(HelpdeskState).where(HelpdeskState.key == "gg"))
    assert gg is not None and gg.cursor and gg.last_error is None and gg.last_polled_at is not None

    # The next poll (its interval passed) sees the ticket again — updated by our write-back, and
    # Gorgias' bound is inclusive — and stores nothing twice.
    first_poll = gg.last_polled_at
    db_session.execute(update(HelpdeskState).values(next_poll_at=utcnow() - timedelta(seconds=1)))
    db_session.commit()
    assert dispatch_polls.apply().get() == 3
    wait_for(lambda: polled_since(db_session, first_poll), timeout_s=60)
    assert db_session.scalar(select(func.count()).select_from(SupportTicket)) == 1
    assert db_session.scalar(select(func.count()).select_from(HelpdeskWriteBack)) == 1
    assert len(notes(stand_in_ticket(configured, "gorgias", "gg", str(made["ticket"]["id"])))) == 1


def polled_since(session: Session, then: datetime) -> bool:
    session.expire_all()
    gg = session.scalar(select(HelpdeskState).where(HelpdeskState.key == "gg"))
    return gg is not None and gg.last_polled_at is not None and gg.last_polled_at > then and gg.lease_owner is None


def test_a_legal_threat_goes_to_the_legal_queue_and_the_write_back_says_so(
        celery_worker: Any, client: TestClient, configured: str, db_session: Session) -> None:
    made = customer_writes(configured, "gorgias", "gg", "The frame arrived broken and nobody answers. "
                           "My attorney will be in touch and I will file a lawsuit.", subject="Broken frame")
    [delivery] = made["webhooks"]
    answer = client.post("/webhooks/helpdesk/gg", content=delivery["body"].encode(), headers=delivery["headers"])
    assert answer.status_code == 200 and answer.json()["new"] is True
    wait_for(lambda: write_back_done(db_session), timeout_s=90)
    ticket = the_ticket(db_session, "gg")
    assert ticket is not None and ticket.queue == "legal" and ticket.legal_threat and ticket.priority == "urgent"

    state = stand_in_ticket(configured, "gorgias", "gg", str(made["ticket"]["id"]))
    tags = [t["name"] if isinstance(t, dict) else t for t in state["tags"]]
    assert "bo-queue-legal" in tags and "bo-priority-urgent" in tags
    assert state["priority"] == "critical"  # Gorgias' word for urgent
    assert (state.get("assignee_team") or {}).get("id") in (7, "7")  # options.groups.legal
    [note] = notes(state)
    assert "Queue: legal" in note and "Legal threat" in note and "Not to be answered automatically." in note


def test_helpdesks_list_and_poll_from_the_command_line(celery_worker: Any, configured: str,
                                                       db_session: Session) -> None:
    from click.testing import CliRunner

    from workers.cli import main

    made = customer_writes(configured, "gorgias", "gg", "Do you sell a queen size cover?", subscribe=False)
    listed = CliRunner().invoke(main, ["helpdesks", "list"])
    assert listed.exit_code == 0, listed.output
    assert "gg  never polled ok; 0 ticket(s)" in listed.output and "zd  never polled" in listed.output

    polled = CliRunner().invoke(main, ["helpdesks", "poll", "gg", "--json"])
    assert polled.exit_code == 0, polled.output
    assert '"new": 1' in polled.output and '"tickets": 1' in polled.output
    again = CliRunner().invoke(main, ["helpdesks", "poll", "gg", "--json"])
    assert '"new": 0' in again.output  # the inclusive bound brings it again; stored once
    assert db_session.scalar(select(SupportTicket.external_id)) == str(made["ticket"]["id"])
    assert db_session.scalar(select(func.count()).select_from(SupportTicket)) == 1

    as_json = CliRunner().invoke(main, ["helpdesks", "list", "--json"])
    assert '"last_error": null' in as_json.output and '"tickets": 1' in as_json.output
    unknown = CliRunner().invoke(main, ["helpdesks", "poll", "nope"])
    assert unknown.exit_code == 2 and "unknown helpdesk 'nope'" in unknown.output

    status = CliRunner().invoke(main, ["status"])
    assert "Helpdesk gorgias" in status.output and "gg  last polled" in status.output
    wait_for(lambda: write_back_done(db_session), timeout_s=90)  # the triage the poll sent, on the worker


def test_a_poll_that_fails_is_recorded_with_its_error(configured: str, db_session: Session,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from workers.cli import main

    monkeypatch.setenv("GG_KEY", "wrong-key")
    failed = CliRunner().invoke(main, ["helpdesks", "poll", "gg"])
    assert failed.exit_code == 1 and "poll failed" in failed.output
    gg = db_session.scalar(select(HelpdeskState).where(HelpdeskState.key == "gg"))
    assert gg is not None and gg.last_error and gg.lease_owner is None
    listed = CliRunner().invoke(main, ["helpdesks", "list"])
    assert "gg  last polled" in listed.output and "failed:" in listed.output

    from workers.console import _templates, read_overview

    page = _templates().get_template("console/index.html").render(**read_overview())
    row = page.split('data-helpdesk="gg"', 1)[1].split("</tr>", 1)[0]
    assert "failed" in row and gg.last_error[:40] in row


def test_the_sweeper_finds_a_lost_drain_and_a_lost_write_back(celery_worker: Any, configured: str,
                                                               db_session: Session) -> None:
    from domain.core.business_config import current_config
    from domain.helpdesks import inbox, tickets, write_backs
    from domain.support import intake
    from flows.helpdesks import helpdesk_for
    from tasks.helpdesks import sweep

    config = current_config()
    connector = helpdesk_for(config.helpdesks.helpdesk("gg"))  # type: ignore[arg-type]
    # A ticket stored and triaged whose write-back message was lost with the broker.
    quiet = customer_writes(configured, "gorgias", "gg", "Is the oak frame in stock?", subscribe=False)
    record = connector.fetch_ticket(str(quiet["ticket"]["id"]))
    tickets.store(db_session, config.support, "gg", record)
    done = intake.triage_stored(db_session, config.support, [t.id for t in db_session.scalars(select(SupportTicket))])
    assert len(write_backs.owe(db_session, config.helpdesks, done)) == 1  # its message is never sent
    # A delivery stored whose drain message was lost.
    loud = customer_writes(configured, "gorgias", "gg", "Please cancel my order, I found one elsewhere.")
    [delivery] = loud["webhooks"]
    inbox.accept(db_session, "gg", connector.verify_delivery(delivery["headers"], delivery["body"].encode()))
    long_ago = utcnow() - timedelta(minutes=5)
    db_session.execute(update(HelpdeskWriteBack).values(due_at=long_ago))
    db_session.execute(update(InboxEvent).values(received_at=long_ago))
    db_session.commit()

    assert sweep.apply().get() == 2  # one drain, one write-back
    wait_for(lambda: db_session.scalar(select(func.count()).select_from(HelpdeskWriteBack)
                                       .where(HelpdeskWriteBack.state == "done")) == 2, timeout_s=90)
    for made in (quiet, loud):
        assert len(notes(stand_in_ticket(configured, "gorgias", "gg", str(made["ticket"]["id"])))) == 1
    assert sweep.apply().get() == 0
