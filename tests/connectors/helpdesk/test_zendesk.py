"""The Zendesk connector against its stand-in: signed webhooks, incremental export, write-back."""
from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
import requests

from connectors.errors import AuthError, SignatureError, TransientError
from connectors.helpdesk.contract import TicketUpdate, note_marker
from connectors.helpdesk.zendesk import ZendeskHelpdesk
from connectors.types import ConnectorConfig
from tests.connectors.conftest import Admin, WebhookReceiver
from tests.connectors.helpdesk.conftest import SECRET


def connector(admin: Admin, sleeps: list[float] | None = None, **credentials: str) -> ZendeskHelpdesk:
    creds = credentials or {"email": "agent@futon.example", "api_token": "zd_token_sandbox"}
    config = ConnectorConfig("zd", admin.root, creds, SECRET, {"since": 1, "page_size": 2}, timeout_s=5.0)
    return ZendeskHelpdesk(config, sleep=(sleeps if sleeps is not None else []).append)


@pytest.fixture
def zendesk(fresh_account: Callable[..., Admin]) -> Admin:
    return fresh_account("zendesk")


def test_a_signed_new_ticket_webhook_is_verified_and_read(zendesk: Admin, webhook_receiver: WebhookReceiver) -> None:
    made = zendesk.post("tickets", {"email": "rui@example.com", "subject": "Late futon", "body": "Where is it?",
                                    "channel": "email", "tags": ["vip"]})
    delivery = webhook_receiver.received[-1]
    received = connector(zendesk).verify_delivery(delivery.headers, delivery.body)
    assert received.topic == "zen:event-type:ticket.created"
    assert received.ticket is not None and received.ticket.external_id == str(made["ticket"]["id"])
    assert (received.ticket.subject, received.ticket.body, received.ticket.channel, received.ticket.tags) == \
        ("Late futon", "Where is it?", "email", ("vip",))
    zendesk.post("redeliver", {"index": -1})
    again = webhook_receiver.received[-1]
    assert again.body == delivery.body
    assert connector(zendesk).verify_delivery(again.headers, again.body).dedupe_key == received.dedupe_key


def test_a_triggers_json_body_is_read_and_keyed_by_ticket_and_update(fresh_account: Callable[..., Admin],
                                                                     webhook_receiver: WebhookReceiver) -> None:
    zendesk = fresh_account("zendesk", body="trigger")
    made = zendesk.post("tickets", {"email": "rui@example.com", "name": "Rui", "tags": ["vip", "wholesale"]})
    delivery = webhook_receiver.received[-1]
    received = connector(zendesk).verify_delivery(delivery.headers, delivery.body)
    ticket = received.ticket
    assert ticket is not None and ticket.external_id == str(made["ticket"]["id"])
    assert (ticket.requester_email, ticket.requester_name, ticket.tags) == ("rui@example.com", "Rui", ("vip", "wholesale"))
    assert received.dedupe_key == f"zendesk:ticket.created:{ticket.external_id}:{made['ticket']['updated_at']}"
    zendesk.post("redeliver", {"index": -1})
    again = webhook_receiver.received[-1]
    assert connector(zendesk).verify_delivery(again.headers, again.body).dedupe_key == received.dedupe_key


def test_a_forged_or_unsigned_webhook_is_refused(zendesk: Admin, webhook_receiver: WebhookReceiver) -> None:
    zendesk.post("tickets", {})
    delivery = webhook_receiver.received[-1]
    forged = delivery.body.replace(b"Where is my order?", b"Refund me now")
    with pytest.raises(SignatureError):
        connector(zendesk).verify_delivery(delivery.headers, forged)
    other = {**delivery.headers, "X-Zendesk-Webhook-Signature": base64.b64encode(b"x" * 32).decode()}
    with pytest.raises(SignatureError):
        connector(zendesk).verify_delivery(other, delivery.body)
    unsigned = {k: v for k, v in delivery.headers.items() if "Signature" not in k}
    with pytest.raises(SignatureError):
        connector(zendesk).verify_delivery(unsigned, delivery.body)


def test_polling_reads_settled_tickets_once_and_resumes_from_the_saved_cursor(zendesk: Admin) -> None:
    for n in range(3):
        zendesk.post("tickets", {"email": f"c{n}@example.com", "name": f"C {n}", "subject": f"S{n}", "age_s": 300})
    zendesk.post("tickets", {"subject": "too fresh"})  # changed in the last minute: left for the next poll
    pages = list(connector(zendesk).poll(None))
    assert [[t.subject for t in p.records] for p in pages] == [["S0", "S1"], ["S2"]]
    assert pages[0].records[0].requester_email == "c0@example.com"
    cursor = pages[-1].cursor
    zendesk.post("clock", {"advance_s": 120})
    later = list(connector(zendesk).poll(cursor))
    assert [t.subject for p in later for t in p.records] == ["too fresh"]
    first = zendesk.requests_log("GET", "/incremental/")[0]["query"]
    assert first["start_time"] == "1" and first["include"] == "users"
    with pytest.raises(AuthError):
        list(connector(zendesk, oauth_token="wrong").poll(None))


def test_write_back_sets_fields_and_posts_one_internal_note_even_when_retried(zendesk: Admin) -> None:
    ticket_id = str(zendesk.post("tickets", {"tags": ["existing"]})["ticket"]["id"])
    update = TicketUpdate(ticket_id, "route-7", tags=("intent:wismo", "bo:auto"), priority="high", assignee_id="42",
                          group_id="9", custom_fields={"360001": "wismo"}, note="Draft: your futon ships Tuesday.")
    first = connector(zendesk, oauth_token="zd_oauth_sandbox").write_back(update)
    retried = connector(zendesk).write_back(update)
    state = zendesk.get(f"state/tickets/{ticket_id}")
    assert state["tags"] == ["existing", "intent:wismo", "bo:auto"]
    assert (state["priority"], state["assignee_id"], state["group_id"]) == ("high", "42", "9")
    assert state["custom_fields"] == [{"id": "360001", "value": "wismo"}]
    notes = [c for c in state["comments"] if note_marker("route-7") in c["body"]]
    assert len(notes) == 1 and notes[0]["public"] is False
    assert [c["public"] for c in state["comments"]] == [True, False]  # the customer's message, then our note
    assert "note" in first.fields_written and not first.note_existed
    assert retried.note_existed and "note" not in retried.fields_written


def test_a_429_is_waited_out_for_the_time_zendesk_names(zendesk: Admin) -> None:
    ticket_id = str(zendesk.post("tickets", {})["ticket"]["id"])
    zendesk.post("config", {"window": {"limit": 1, "seconds": 3}})
    sleeps: list[float] = []
    client = connector(zendesk, sleeps)
    client.fetch_ticket(ticket_id)
    zendesk.post("config", {"window": {"limit": 0, "seconds": 3}})
    with pytest.raises(TransientError) as refused:
        client.fetch_ticket(ticket_id)
    assert refused.value.status_code == 429
    assert sleeps and all(s >= 3 for s in sleeps)
    assert requests.get(f"{zendesk.root}/api/v2/tickets/{ticket_id}.json", timeout=5).status_code == 401


def test_the_export_has_its_own_ten_a_minute_window(zendesk: Admin) -> None:
    for n in range(3):
        zendesk.post("tickets", {"subject": f"S{n}", "age_s": 300})
    zendesk.post("config", {"export_window": {"limit": 1, "seconds": 60}})
    sleeps: list[float] = []
    client = connector(zendesk, sleeps)
    client.fetch_ticket(str(zendesk.get("state/tickets")["tickets"][0]["id"]))  # the general window still has room
    with pytest.raises(TransientError):
        list(client.poll(None))  # the second page is past the export's window
    statuses = [r["status"] for r in zendesk.requests_log("GET", "/incremental/")]
    assert statuses == [200, 429, 429, 429, 429]
    assert len(sleeps) == 3 and all(55 <= s <= 60 for s in sleeps)


def test_a_status_change_is_read_with_the_agent_who_made_it(zendesk: Admin, webhook_receiver: WebhookReceiver) -> None:
    from connectors.helpdesk.contract import is_done

    ticket_id = str(zendesk.post("tickets", {"email": "rui@example.com"})["ticket"]["id"])
    zendesk.post("clock", {"advance_s": 30})
    solved = zendesk.post(f"tickets/{ticket_id}/status", {"status": "solved", "agent_id": 3721})
    [sent] = solved["webhooks"]
    assert sent["topic"] == "zen:event-type:ticket.status_changed"
    delivery = webhook_receiver.received[-1]
    received = connector(zendesk).verify_delivery(delivery.headers, delivery.body)
    ticket = received.ticket
    assert received.topic == "zen:event-type:ticket.status_changed"
    assert ticket is not None and ticket.external_id == ticket_id and ticket.status == "solved"  # "SOLVED" in the event
    assert ticket.status_by == "3721" and is_done(ticket) is True
    assert received.raw["event"] == {"current": "SOLVED", "previous": "NEW"}
    zendesk.post("redeliver", {"index": -1})
    again = webhook_receiver.received[-1]
    assert connector(zendesk).verify_delivery(again.headers, again.body).dedupe_key == received.dedupe_key

    zendesk.post("clock", {"advance_s": 30})
    zendesk.post(f"tickets/{ticket_id}/status", {"status": "open", "agent_id": 3721})
    reopened = connector(zendesk).verify_delivery(webhook_receiver.received[-1].headers,
                                                  webhook_receiver.received[-1].body)
    assert reopened.ticket is not None and reopened.ticket.status == "open" and is_done(reopened.ticket) is False
    assert reopened.dedupe_key != received.dedupe_key
    assert connector(zendesk).fetch_ticket(ticket_id).assignee_id == "3721"  # solving gave it to the agent


def test_a_status_trigger_body_names_the_agent_and_the_status(fresh_account: Callable[..., Admin],
                                                              webhook_receiver: WebhookReceiver) -> None:
    zendesk = fresh_account("zendesk", body="trigger")
    ticket_id = str(zendesk.post("tickets", {"email": "rui@example.com"})["ticket"]["id"])
    zendesk.post("clock", {"advance_s": 5})
    zendesk.post(f"tickets/{ticket_id}/status", {"status": "closed", "agent_id": 88})
    delivery = webhook_receiver.received[-1]
    received = connector(zendesk).verify_delivery(delivery.headers, delivery.body)
    assert received.topic == "ticket.status_changed" and received.raw["ticket"]["status"] == "Closed"
    assert received.ticket is not None and (received.ticket.status, received.ticket.status_by) == ("closed", "88")
    assert received.dedupe_key.startswith(f"zendesk:ticket.status_changed:{ticket_id}:")
