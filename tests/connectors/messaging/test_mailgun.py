"""Mailgun connector against the sandbox over HTTP, and its webhook verification."""
from __future__ import annotations

import json
import time

import pytest
import requests

from connectors.errors import AuthError, OutcomeUnknownError, PermanentError, SignatureError, TransientError
from connectors.messaging import mailgun
from connectors.messaging.mailgun import MailgunSender, RecentTokens, parse_event, verify_webhook
from connectors.messaging.types import EmailMessage
from sandbox.server import SandboxServer, free_port

KEY = "sandbox-mailgun-key"
SIGNING_KEY = "sandbox-mailgun-signing-key"
DOMAIN = "mg.example.com"


def message(**overrides: object) -> EmailMessage:
    fields: dict[str, object] = dict(
        to=["ada@example.com", "bob@example.com"], from_="Shop <shop@example.com>", subject="Your backorder",
        text="It ships soon.", html="<p>It ships <b>soon</b>.</p>", reply_to="help@example.com",
        tags=["backorder"], headers={"X-Outbox-Id": "42"},
        attachments=[("po.csv", b"sku,qty\nA,1\n", "text/csv")], idempotency_key="outbox-42")
    fields.update(overrides)
    return EmailMessage(**fields)  # type: ignore[arg-type]


def sender(sandbox: SandboxServer, **kwargs: object) -> MailgunSender:
    return MailgunSender(str(kwargs.pop("api_key", KEY)), DOMAIN, base_url=f"{sandbox.base_url}/mailgun",
                         **kwargs)  # type: ignore[arg-type]


def test_send_is_recorded_with_every_field(sandbox, admin):
    result = sender(sandbox).send(message())

    assert result.provider == "mailgun" and result.status == "queued"
    assert result.raw["message"] == "Queued. Thank you."
    assert result.raw["id"] == f"<{result.provider_message_id}>"
    [recorded] = admin.messages(provider="mailgun")
    assert recorded["id"] == result.provider_message_id
    assert recorded["to"] == ["ada@example.com", "bob@example.com"]
    assert recorded["from"] == "Shop <shop@example.com>"
    assert recorded["subject"] == "Your backorder"
    assert recorded["html"] == "<p>It ships <b>soon</b>.</p>"
    assert recorded["variables"] == {"idempotency_key": "outbox-42"}
    assert recorded["headers"] == {"Reply-To": "help@example.com", "X-Outbox-Id": "42"}
    assert recorded["tags"] == ["backorder"]
    assert recorded["attachments"][0]["filename"] == "po.csv"
    [request] = admin.requests("mailgun")
    assert request["path"] == f"/mailgun/v3/{DOMAIN}/messages"
    assert request["headers"]["authorization"].startswith("Basic ")


def test_wrong_key_is_an_auth_error_with_mailguns_answer(sandbox):
    with pytest.raises(AuthError, match="Forbidden") as caught:
        sender(sandbox, api_key="wrong").send(message())
    assert caught.value.status_code == 401


def test_rate_limit_is_transient_with_retry_after(sandbox, admin):
    admin.fault(provider="mailgun", status=429, retry_after="7")
    with pytest.raises(TransientError) as caught:
        sender(sandbox).send(message())
    assert caught.value.retry_after_s == 7.0
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert sender(sandbox).send(message()).status == "queued"  # the fault was for one request only


def test_server_error_is_transient(sandbox, admin):
    admin.fault(provider="mailgun", status=503)
    with pytest.raises(TransientError) as caught:
        sender(sandbox).send(message())
    assert caught.value.status_code == 503


def test_bad_request_is_permanent_with_mailguns_message(sandbox, admin):
    admin.fault(provider="mailgun", status=400, body="to parameter is not a valid address")
    with pytest.raises(PermanentError, match="not a valid address") as caught:
        sender(sandbox).send(message())
    assert not isinstance(caught.value, AuthError)


def test_sandbox_rejects_a_message_without_a_body(sandbox):
    response = requests.post(f"{sandbox.base_url}/mailgun/v3/{DOMAIN}/messages", auth=("api", KEY),
                             data={"from": "a@example.com", "to": "b@example.com", "subject": "x"}, timeout=5)
    assert response.status_code == 400
    assert "at least one of 'text', 'html'" in response.json()["message"]


def test_timeout_after_acceptance_is_outcome_unknown(sandbox, admin):
    admin.fault(provider="mailgun", mode="hang", hang_s=1.0)
    with pytest.raises(OutcomeUnknownError):
        sender(sandbox, timeout_s=0.3).send(message())
    assert len(admin.messages(provider="mailgun")) == 1  # it *was* accepted: reconcile, don't resend


def test_nothing_listening_is_transient_not_unknown():
    lonely = MailgunSender(KEY, DOMAIN, base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TransientError) as caught:
        lonely.send(message())
    assert not isinstance(caught.value, OutcomeUnknownError)


def test_emitted_event_verifies_and_parses(sandbox, admin):
    result = sender(sandbox).send(message())
    emitted = admin.emit("mailgun/events", message_id=result.provider_message_id, event="failed",
                         url=f"{sandbox.base_url}/_sandbox/messaging/sink/mg", reason="bounce")
    assert emitted["status_code"] == 200
    [received] = admin.sink("mg")
    payload = json.loads(received["raw_body"])

    verify_webhook(SIGNING_KEY, payload, seen_token=RecentTokens())
    event = parse_event(payload)
    assert event.provider_message_id == result.provider_message_id
    assert event.event == "failed"
    assert event.reason == "permanent: bounce"
    assert payload["event-data"]["user-variables"] == {"idempotency_key": "outbox-42"}


def _signed(timestamp: float, token: str = "t" * 50) -> dict:
    stamp = str(int(timestamp))
    return {"signature": {"timestamp": stamp, "token": token, "signature": mailgun.sign(SIGNING_KEY, stamp, token)},
            "event-data": {"event": "delivered", "message": {"headers": {"message-id": "abc@mg"}}}}


def test_verify_webhook_rejects_bad_stale_and_replayed():
    now = time.time()
    verify_webhook(SIGNING_KEY, _signed(now))
    with pytest.raises(SignatureError, match="does not match"):
        verify_webhook("another-key", _signed(now))
    with pytest.raises(SignatureError, match="away from now"):
        verify_webhook(SIGNING_KEY, _signed(now - 3600))
    with pytest.raises(SignatureError, match="no signature"):
        verify_webhook(SIGNING_KEY, {"event-data": {}})
    seen = RecentTokens()
    verify_webhook(SIGNING_KEY, _signed(now), seen_token=seen)
    with pytest.raises(SignatureError, match="replay"):
        verify_webhook(SIGNING_KEY, _signed(now), seen_token=seen)
    assert tuple(parse_event(_signed(now))) == ("abc@mg", "delivered", None)


def test_find_sent_reads_the_events_api_for_our_idempotency_key(sandbox, admin):
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC) - timedelta(seconds=5)
    other = sender(sandbox).send(message(idempotency_key="outbox-41"))
    ours = sender(sandbox).send(message())
    found = sender(sandbox).find_sent(message(), before)
    assert found.found and found.provider_message_id == ours.provider_message_id != other.provider_message_id
    missing = sender(sandbox).find_sent(message(idempotency_key="outbox-43"), before)
    assert not missing.found and missing.conclusive
    # Only events from ``since`` (less a minute of clock skew) are read: an old send is not ours.
    assert not sender(sandbox).find_sent(message(), datetime.now(UTC) + timedelta(minutes=5)).found


def test_find_sent_with_a_bad_key_is_an_auth_error(sandbox):
    from datetime import UTC, datetime

    with pytest.raises(AuthError):
        sender(sandbox, api_key="wrong").find_sent(message(), datetime.now(UTC))
