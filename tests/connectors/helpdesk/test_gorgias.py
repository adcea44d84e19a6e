"""The Gorgias connector against its stand-in: secret-header webhooks, polling, write-back."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.errors import SignatureError, TransientError
from connectors.helpdesk.contract import TicketUpdate, note_marker
from connectors.helpdesk.gorgias import GorgiasHelpdesk
from connectors.types import ConnectorConfig
from tests.connectors.conftest import Admin, WebhookReceiver
from tests.connectors.helpdesk.conftest import SECRET


def connector(admin: Admin, sleeps: list[float] | None = None, key: str = "gorgias_key_sandbox") -> GorgiasHelpdesk:
    config = ConnectorConfig("gg", admin.root, {"email": "agent@futon.example", "api_key": key}, SECRET,
                             {"since": 1, "page_size": 2}, timeout_s=5.0)
    return GorgiasHelpdesk(config, sleep=(sleeps if sleeps is not None else []).append)


@pytest.fixture
def gorgias(fresh_account: Callable[..., Admin]) -> Admin:
    return fresh_account("gorgias")


def test_a_new_ticket_delivery_with_our_secret_is_read_and_keyed_once(gorgias: Admin,
                                                                       webhook_receiver: WebhookReceiver) -> None:
    made = gorgias.post("tickets", {"email": "rui@example.com", "subject": "Broken slat", "body": "It arrived broken",
                                    "tags": ["vip"], "language": "en"})
    delivery = webhook_receiver.received[-1]
    received = connector(gorgias).verify_delivery(delivery.headers, delivery.body)
    ticket = received.ticket
    assert ticket is not None and ticket.external_id == str(made["ticket"]["id"])
    assert (ticket.requester_email, ticket.body, ticket.tags, ticket.language) == \
        ("rui@example.com", "It arrived broken", ("vip",), "en")
    gorgias.post("redeliver", {"index": -1})
    again = webhook_receiver.received[-1]
    assert connector(gorgias).verify_delivery(again.headers, again.body).dedupe_key == received.dedupe_key


def test_a_delivery_without_or_with_another_secret_is_refused(gorgias: Admin, webhook_receiver: WebhookReceiver) -> None:
    gorgias.post("tickets", {})
    delivery = webhook_receiver.received[-1]
    for headers in ({k: v for k, v in delivery.headers.items() if k.lower() != "x-backorders-token"},
                    {**delivery.headers, "X-Backorders-Token": "guess"}):
        with pytest.raises(SignatureError):
            connector(gorgias).verify_delivery(headers, delivery.body)


def test_polling_reads_newer_tickets_and_saves_the_newest_update_time(gorgias: Admin) -> None:
    for n in range(3):
        gorgias.post("tickets", {"subject": f"S{n}", "age_s": 300 - n * 10})
    pages = list(connector(gorgias).poll(None))
    assert sorted(t.subject for p in pages for t in p.records) == ["S0", "S1", "S2"]
    assert [p.cursor is None for p in pages] == [True] * (len(pages) - 1) + [False]
    cursor = pages[-1].cursor
    assert [t.subject for p in connector(gorgias).poll(cursor) for t in p.records] == ["S2"]  # inclusive bound
    gorgias.post("clock", {"advance_s": 5})
    gorgias.post("tickets", {"subject": "new"})
    assert [t.subject for p in connector(gorgias).poll(cursor) for t in p.records] == ["new", "S2"]
    assert gorgias.requests_log("GET", "/api/tickets")[0]["query"]["order_by"] == "updated_datetime:desc"


def test_write_back_and_one_internal_note_even_when_retried(gorgias: Admin) -> None:
    ticket_id = str(gorgias.post("tickets", {"tags": ["existing"]})["ticket"]["id"])
    update = TicketUpdate(ticket_id, "route-9", tags=("intent:damaged",), priority="urgent", assignee_id="7",
                          group_id="3", custom_fields={"55": "damaged"}, note="Draft: we will send a new slat.")
    first = connector(gorgias).write_back(update)
    retried = connector(gorgias).write_back(update)
    state = gorgias.get(f"state/tickets/{ticket_id}")
    assert [t["name"] for t in state["tags"]] == ["existing", "intent:damaged"]
    assert (state["priority"], state["assignee_user"], state["assignee_team"]) == ("critical", {"id": 7}, {"id": 3})
    assert state["custom_fields"] == {"55": {"id": 55, "value": "damaged"}}
    notes = [m for m in state["messages"] if note_marker("route-9") in (m["body_text"] or "")]
    assert len(notes) == 1 and notes[0]["channel"] == "internal-note" and notes[0]["from_agent"] is True
    assert not any(m["public"] for m in state["messages"][1:])
    assert "note" in first.fields_written and retried.note_existed


def test_a_429_is_retried_after_the_wait_gorgias_names(gorgias: Admin) -> None:
    gorgias.post("config", {"bucket_size": 1, "leak_rate": 0.001, "level": 1})
    sleeps: list[float] = []
    with pytest.raises(TransientError) as refused:
        list(connector(gorgias, sleeps).poll(None))
    assert refused.value.status_code == 429
    assert sleeps and min(sleeps) >= 1
    assert len(gorgias.requests_log("GET", "/api/tickets")) == 4  # the first try and three retries


def test_a_close_and_a_reopen_come_as_ticket_updated_forms(gorgias: Admin, webhook_receiver: WebhookReceiver) -> None:
    from connectors.helpdesk.contract import is_done

    ticket_id = str(gorgias.post("tickets", {"email": "rui@example.com"})["ticket"]["id"])
    gorgias.post("clock", {"advance_s": 5})
    closed = gorgias.post(f"tickets/{ticket_id}/status", {"status": "closed", "agent_id": 12})
    assert [w["topic"] for w in closed["webhooks"]] == ["ticket-updated"] and closed["ticket"]["closed_datetime"]
    delivery = webhook_receiver.received[-1]
    received = connector(gorgias).verify_delivery(delivery.headers, delivery.body)
    ticket = received.ticket
    assert received.topic == "ticket-updated" and ticket is not None and ticket.external_id == ticket_id
    assert (ticket.status, ticket.assignee_id, ticket.requester_email) == ("closed", "12", "rui@example.com")
    assert is_done(ticket) is True
    gorgias.post("redeliver", {"index": -1})
    again = webhook_receiver.received[-1]
    assert connector(gorgias).verify_delivery(again.headers, again.body).dedupe_key == received.dedupe_key

    gorgias.post("clock", {"advance_s": 5})
    gorgias.post(f"tickets/{ticket_id}/status", {"status": "open"})
    reopened = connector(gorgias).verify_delivery(webhook_receiver.received[-1].headers,
                                                  webhook_receiver.received[-1].body)
    assert reopened.ticket is not None and reopened.ticket.status == "open" and is_done(reopened.ticket) is False
    assert reopened.dedupe_key != received.dedupe_key
    polled = [t for page in connector(gorgias).poll(None) for t in page.records]
    assert [(t.external_id, t.status) for t in polled] == [(ticket_id, "open")]


def test_an_unknown_status_is_refused_by_the_stand_in(gorgias: Admin) -> None:
    import requests

    ticket_id = str(gorgias.post("tickets", {})["ticket"]["id"])
    answer = requests.post(f"{gorgias.admin}/tickets/{ticket_id}/status", json={"status": "solved"}, timeout=10)
    assert answer.status_code == 400 and "open, closed" in answer.json()["error"]
    assert gorgias.get(f"state/tickets/{ticket_id}")["status"] == "open"
