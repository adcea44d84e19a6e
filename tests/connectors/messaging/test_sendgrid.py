"""SendGrid connector against the sandbox over HTTP, and Signed Event Webhook verification."""
from __future__ import annotations

import base64

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.errors import (AuthError, MalformedPayloadError, OutcomeUnknownError, PermanentError,
                               SignatureError, TransientError)
from connectors.messaging.sendgrid import SendGridSender, parse_events, verify_event_webhook
from connectors.messaging.types import EmailMessage
from sandbox.server import SandboxServer

KEY = "SG.sandbox-sendgrid-key"


def message(**overrides: object) -> EmailMessage:
    fields: dict[str, object] = dict(
        to=["ada@example.com"], from_="Shop <shop@example.com>", subject="Back in stock",
        text="Good news.", html="<p>Good news.</p>", tags=["restock"], headers={"X-Outbox-Id": "7"},
        attachments=[("note.txt", b"hello", "text/plain")], idempotency_key="outbox-7")
    fields.update(overrides)
    return EmailMessage(**fields)  # type: ignore[arg-type]


def sender(sandbox: SandboxServer, key: str = KEY, **kwargs: object) -> SendGridSender:
    return SendGridSender(key, base_url=f"{sandbox.base_url}/sendgrid", **kwargs)  # type: ignore[arg-type]


def test_send_returns_the_message_id_and_is_recorded(sandbox, admin):
    result = sender(sandbox).send(message())

    assert result.provider == "sendgrid" and result.status == "accepted"
    [recorded] = admin.messages(provider="sendgrid", to="ada@example.com")
    assert recorded["id"] == result.provider_message_id
    assert recorded["subject"] == "Back in stock"
    assert recorded["text"] == "Good news." and recorded["html"] == "<p>Good news.</p>"
    assert recorded["variables"] == {"idempotency_key": "outbox-7"}
    assert recorded["attachments"] == [{"filename": "note.txt", "content_type": "text/plain", "size": 5}]
    [request] = admin.requests("sendgrid")
    body = request["body"]
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    assert body["from"] == {"email": "shop@example.com", "name": "Shop"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["categories"] == ["restock"]


def test_wrong_key_is_an_auth_error_with_sendgrids_message(sandbox):
    with pytest.raises(AuthError, match="authorization grant is invalid") as caught:
        sender(sandbox, "SG.wrong").send(message())
    assert caught.value.status_code == 401


def test_rate_limit_is_transient_with_retry_after(sandbox, admin):
    admin.fault(provider="sendgrid", status=429, retry_after="3")
    with pytest.raises(TransientError, match="too many requests") as caught:
        sender(sandbox).send(message())
    assert caught.value.retry_after_s == 3.0


def test_server_error_is_transient(sandbox, admin):
    admin.fault(provider="sendgrid", status=502)
    with pytest.raises(TransientError) as caught:
        sender(sandbox).send(message())
    assert caught.value.status_code == 502 and not isinstance(caught.value, OutcomeUnknownError)


def test_sandbox_requires_personalizations(sandbox):
    response = requests.post(f"{sandbox.base_url}/sendgrid/v3/mail/send", timeout=5,
                             headers={"Authorization": f"Bearer {KEY}"},
                             json={"from": {"email": "a@example.com"}, "subject": "x",
                                   "content": [{"type": "text/plain", "value": "x"}]})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "personalizations"


def test_permanent_error_carries_sendgrids_message(sandbox, admin):
    admin.fault(provider="sendgrid", status=403, body="The from address does not match a verified Sender Identity.")
    with pytest.raises(PermanentError, match="verified Sender Identity"):
        sender(sandbox).send(message())


def test_timeout_after_acceptance_is_outcome_unknown(sandbox, admin):
    admin.fault(provider="sendgrid", mode="hang", hang_s=1.0)
    with pytest.raises(OutcomeUnknownError):
        sender(sandbox, timeout_s=0.3).send(message())
    assert len(admin.messages(provider="sendgrid")) == 1


def _key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(der).decode()


def test_verify_event_webhook_good_and_bad():
    private, public_b64 = _key_pair()
    body, timestamp = b'[{"event":"delivered","sg_message_id":"abc.filter1","email":"a@x"}]', "1770920772"
    signature = base64.b64encode(private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()

    verify_event_webhook(public_b64, signature, timestamp, body)
    with pytest.raises(SignatureError):
        verify_event_webhook(public_b64, signature, timestamp, body.replace(b"delivered", b"bounce"))
    with pytest.raises(SignatureError):
        verify_event_webhook(public_b64, signature, "1770920773", body)
    with pytest.raises(SignatureError):
        verify_event_webhook(_key_pair()[1], signature, timestamp, body)
    with pytest.raises(SignatureError):
        verify_event_webhook(public_b64, "not base64!", timestamp, body)
    assert [tuple(e) for e in parse_events(body)] == [("abc", "delivered", None)]
    with pytest.raises(MalformedPayloadError):
        parse_events(b'{"event": "delivered"}')


def test_emitted_event_verifies_with_the_sandbox_public_key(sandbox, admin):
    result = sender(sandbox).send(message())
    admin.emit("sendgrid/events", message_id=result.provider_message_id, event="bounce",
               reason="550 mailbox unavailable", url=f"{sandbox.base_url}/_sandbox/messaging/sink/sg")
    [received] = admin.sink("sg")
    headers = received["headers"]

    verify_event_webhook(admin.config()["sendgrid_public_key"],
                         headers["x-twilio-email-event-webhook-signature"],
                         headers["x-twilio-email-event-webhook-timestamp"], received["raw_body"].encode())
    [event] = parse_events(received["raw_body"])
    assert tuple(event) == (result.provider_message_id, "bounce", "550 mailbox unavailable")
