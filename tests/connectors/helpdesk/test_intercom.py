"""The Intercom connector against its stand-in: X-Hub-Signature webhooks, search polling, write-back."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from connectors.errors import SignatureError, TransientError
from connectors.helpdesk.contract import TicketUpdate, note_marker
from connectors.helpdesk.intercom import IntercomHelpdesk
from connectors.types import ConnectorConfig
from tests.connectors.conftest import Admin, WebhookReceiver
from tests.connectors.helpdesk.conftest import SECRET


def connector(admin: Admin, sleeps: list[float] | None = None, **options: object) -> IntercomHelpdesk:
    config = ConnectorConfig("ic", admin.root, {"access_token": "intercom_token_sandbox"}, SECRET,
                             {"since": 1, "page_size": 2, "admin_id": "814860", **options}, timeout_s=5.0)
    return IntercomHelpdesk(config, sleep=(sleeps if sleeps is not None else []).append)


@pytest.fixture
def intercom(fresh_account: Callable[..., Admin]) -> Admin:
    return fresh_account("intercom")


def test_a_signed_new_conversation_is_verified_read_and_keyed_once(intercom: Admin,
                                                                    webhook_receiver: WebhookReceiver) -> None:
    made = intercom.post("conversations", {"email": "rui@example.com", "name": "Rui", "body": "Cancel my order <b>now</b>"})
    delivery = webhook_receiver.received[-1]
    received = connector(intercom).verify_delivery(delivery.headers, delivery.body)
    assert received.topic == "conversation.user.created"
    ticket = received.ticket
    assert ticket is not None and ticket.external_id == made["conversation"]["id"]
    assert (ticket.requester_email, ticket.requester_name, ticket.body) == ("rui@example.com", "Rui", "Cancel my order  now")
    intercom.post("redeliver", {"index": -1})
    again = webhook_receiver.received[-1]
    assert connector(intercom).verify_delivery(again.headers, again.body).dedupe_key == received.dedupe_key


def test_a_forged_or_unsigned_notification_is_refused(intercom: Admin, webhook_receiver: WebhookReceiver) -> None:
    intercom.post("conversations", {})
    delivery = webhook_receiver.received[-1]
    with pytest.raises(SignatureError):
        connector(intercom).verify_delivery(delivery.headers, delivery.body.replace(b"order", b"ordre"))
    with pytest.raises(SignatureError):
        connector(intercom).verify_delivery({"X-Hub-Signature": "sha1=" + "0" * 40}, delivery.body)
    with pytest.raises(SignatureError):
        connector(intercom).verify_delivery({}, delivery.body)


def test_search_polling_pages_and_resumes_after_the_newest_update(intercom: Admin) -> None:
    for n in range(3):
        intercom.post("conversations", {"subject": f"S{n}", "age_s": 300 - n * 10})
    pages = list(connector(intercom).poll(None))
    assert [[t.subject for t in p.records] for p in pages] == [["S0", "S1"], ["S2"]]
    assert pages[0].cursor is None and pages[-1].cursor is not None
    intercom.post("clock", {"advance_s": 5})
    intercom.post("conversations", {"subject": "new"})
    assert [t.subject for p in connector(intercom).poll(pages[-1].cursor) for t in p.records] == ["S2", "new"]
    sent = intercom.requests_log("POST", "/conversations/search")
    assert sent[0]["body"]["query"] == {"field": "updated_at", "operator": ">", "value": 0}
    assert sent[-1]["body"]["query"]["value"] == int(pages[-1].cursor or 0) - 1


def test_write_back_and_one_teammates_only_note_even_when_retried(intercom: Admin) -> None:
    conversation_id = intercom.post("conversations", {})["conversation"]["id"]
    update = TicketUpdate(conversation_id, "route-3", tags=("intent:cancel", "bo:auto"), priority="high",
                          assignee_id="814861", group_id="5017", custom_fields={"Intent": "cancel"},
                          note="Draft: the order is cancelled.")
    first = connector(intercom).write_back(update)
    retried = connector(intercom).write_back(update)
    state = intercom.get(f"state/conversations/{conversation_id}")
    assert [t["name"] for t in state["tags"]["tags"]] == ["intent:cancel", "bo:auto"]
    assert (state["admin_assignee_id"], state["team_assignee_id"]) == (814861, 5017)
    assert state["custom_attributes"] == {"Intent": "cancel", "Priority": "high"}
    notes = [p for p in state["conversation_parts"]["conversation_parts"] if note_marker("route-3") in (p["body"] or "")]
    assert len(notes) == 1 and notes[0]["part_type"] == "note" and notes[0]["_customer_sees"] is False
    assert not any(p.get("_customer_sees") for p in state["conversation_parts"]["conversation_parts"])
    assert "note" in first.fields_written and retried.note_existed


def test_a_429_waits_until_the_reset_time_intercom_names(intercom: Admin) -> None:
    intercom.post("config", {"window": {"limit": 0, "seconds": 30}})
    sleeps: list[float] = []
    with pytest.raises(TransientError) as refused:
        list(connector(intercom, sleeps).poll(None))
    assert refused.value.status_code == 429
    assert sleeps and all(20 <= s <= 32 for s in sleeps)
    assert len(intercom.requests_log("POST", "/conversations/search")) == 4


def test_a_conversation_closed_by_an_admin_is_read_with_that_admin(intercom: Admin,
                                                                   webhook_receiver: WebhookReceiver) -> None:
    from connectors.helpdesk.contract import is_done

    conversation_id = intercom.post("conversations", {"email": "rui@example.com"})["conversation"]["id"]
    intercom.post("clock", {"advance_s": 5})
    closed = intercom.post(f"conversations/{conversation_id}/state", {"state": "closed", "admin_id": "814861"})
    assert [w["topic"] for w in closed["webhooks"]] == ["conversation.admin.closed"]
    delivery = webhook_receiver.received[-1]
    received = connector(intercom).verify_delivery(delivery.headers, delivery.body)
    ticket = received.ticket
    assert received.topic == "conversation.admin.closed" and ticket is not None
    assert (ticket.external_id, ticket.status, ticket.status_by) == (conversation_id, "closed", "814861")
    assert is_done(ticket) is True
    assert closed["conversation"]["statistics"]["last_closed_by_id"] == "814861"

    # The API's own close and open (POST /conversations/{id}/parts) do the same.
    intercom.post("clock", {"advance_s": 5})
    answer = requests.post(f"{intercom.root}/conversations/{conversation_id}/parts", timeout=10,
                       headers={"Authorization": "Bearer intercom_token_sandbox"},
                       json={"message_type": "open", "type": "admin", "admin_id": "814860"})
    assert answer.status_code == 200 and answer.json()["state"] == "open"
    reopened = connector(intercom).verify_delivery(webhook_receiver.received[-1].headers,
                                                   webhook_receiver.received[-1].body)
    assert reopened.topic == "conversation.admin.opened" and reopened.ticket is not None
    assert (reopened.ticket.status, reopened.ticket.status_by) == ("open", "") and not is_done(reopened.ticket)
    polled = [t for page in connector(intercom).poll(None) for t in page.records]
    assert [(t.external_id, t.status) for t in polled] == [(conversation_id, "open")]
