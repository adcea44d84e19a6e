"""Twilio SMS connector against the sandbox over HTTP, and request-signature verification."""
from __future__ import annotations

import pytest
import requests

from connectors.errors import (AuthError, MalformedPayloadError, OutcomeUnknownError, PermanentError,
                               SignatureError, TransientError)
from connectors.messaging.twilio_sms import (TwilioSmsSender, compute_signature, parse_inbound,
                                             parse_status_callback, verify_signature)
from connectors.messaging.types import SmsMessage
from sandbox.server import SandboxServer

SID = "AC00000000000000000000000000000000"
TOKEN = "sandbox-twilio-token"
SHOP = "+15005550006"


def sender(sandbox: SandboxServer, token: str = TOKEN, **kwargs: object) -> TwilioSmsSender:
    return TwilioSmsSender(SID, token, base_url=f"{sandbox.base_url}/twilio", **kwargs)  # type: ignore[arg-type]


def sms(to: str = "+15551234567", **kwargs: object) -> SmsMessage:
    kwargs.setdefault("from_", SHOP)
    return SmsMessage(to=to, body=str(kwargs.pop("body", "Your order ships Friday.")), **kwargs)  # type: ignore[arg-type]


def test_known_signature_vector():
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert compute_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    verify_signature("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    with pytest.raises(SignatureError):
        verify_signature("12345", url, {**params, "Digits": "1235"}, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    with pytest.raises(SignatureError):
        verify_signature("54321", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    with pytest.raises(SignatureError):
        verify_signature("12345", url, params, None)


def test_send_is_recorded_and_callback_url_carries_the_key(sandbox, admin):
    callback = f"{sandbox.base_url}/_sandbox/messaging/sink/sms?store=1"
    result = sender(sandbox).send(sms(status_callback_url=callback, idempotency_key="outbox-9"))

    assert result.provider == "twilio" and result.status == "queued"
    assert result.provider_message_id.startswith("SM")
    [recorded] = admin.messages(provider="twilio", to="+15551234567")
    assert recorded["id"] == result.provider_message_id
    assert recorded["body"] == "Your order ships Friday." and recorded["from"] == SHOP
    assert recorded["num_segments"] == 1
    assert recorded["status_callback"] == f"{callback}&idempotency_key=outbox-9"
    [request] = admin.requests("twilio")
    assert request["path"] == f"/twilio/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["body"]["To"] == "+15551234567"


def test_messaging_service_send_is_accepted_and_long_bodies_count_segments(sandbox, admin):
    result = sender(sandbox).send(SmsMessage(to="+15551234567", body="x" * 161, messaging_service_sid="MG123"))
    assert result.status == "accepted"
    assert admin.messages(provider="twilio")[0]["num_segments"] == 2


def test_invalid_number_is_permanent_with_code_21211(sandbox):
    with pytest.raises(PermanentError, match="Invalid 'To' Phone Number") as caught:
        sender(sandbox).send(sms(to="5551234"))
    assert caught.value.code == 21211 and caught.value.status_code == 400


def test_stop_reply_unsubscribes_and_next_send_is_21610(sandbox, admin):
    admin.emit("twilio/inbound", url=f"{sandbox.base_url}/_sandbox/messaging/sink/in", **{"from": "+15551234567"},
               to=SHOP, body="STOP")
    with pytest.raises(PermanentError) as caught:
        sender(sandbox).send(sms())
    assert caught.value.code == 21610


def test_wrong_token_is_an_auth_error(sandbox):
    with pytest.raises(AuthError, match="Authenticate") as caught:
        sender(sandbox, token="wrong").send(sms())
    assert caught.value.code == 20003


def test_rate_limit_is_transient_with_retry_after(sandbox, admin):
    admin.fault(provider="twilio", status=429, retry_after="2")
    with pytest.raises(TransientError) as caught:
        sender(sandbox).send(sms())
    assert caught.value.retry_after_s == 2.0 and caught.value.code == 20429


def test_server_error_is_transient(sandbox, admin):
    admin.fault(provider="twilio", status=500)
    with pytest.raises(TransientError) as caught:
        sender(sandbox).send(sms())
    assert not isinstance(caught.value, OutcomeUnknownError)


def test_timeout_after_acceptance_is_outcome_unknown(sandbox, admin):
    admin.fault(provider="twilio", mode="hang", hang_s=1.0)
    with pytest.raises(OutcomeUnknownError):
        sender(sandbox, timeout_s=0.3).send(sms())
    assert len(admin.messages(provider="twilio")) == 1


def test_sandbox_missing_body_is_21602(sandbox):
    response = requests.post(f"{sandbox.base_url}/twilio/2010-04-01/Accounts/{SID}/Messages.json",
                             auth=(SID, TOKEN), data={"To": "+15551234567", "From": SHOP}, timeout=5)
    assert response.status_code == 400
    assert response.json() == {"code": 21602, "message": "Message body is required.",
                               "more_info": "https://www.twilio.com/docs/errors/21602", "status": 400}


def test_status_callback_is_signed_and_parses(sandbox, admin):
    callback = f"{sandbox.base_url}/_sandbox/messaging/sink/status"
    result = sender(sandbox).send(sms(status_callback_url=callback, idempotency_key="outbox-9"))
    admin.emit("twilio/status-callback", message_sid=result.provider_message_id, status="undelivered",
               error_code="30003")
    [received] = admin.sink("status")

    verify_signature(TOKEN, received["url"], received["form"], received["headers"]["x-twilio-signature"])
    assert received["url"].endswith("?idempotency_key=outbox-9")
    event = parse_status_callback(received["form"])
    assert tuple(event) == (result.provider_message_id, "undelivered", "30003")


def test_inbound_reply_is_signed_and_parses(sandbox, admin):
    url = f"{sandbox.base_url}/_sandbox/messaging/sink/inbound"
    admin.emit("twilio/inbound", url=url, **{"from": "+15557654321"}, to=SHOP, body="YES",
               messaging_service_sid="MG123")
    [received] = admin.sink("inbound")

    verify_signature(TOKEN, url, received["form"], received["headers"]["x-twilio-signature"])
    with pytest.raises(SignatureError):
        verify_signature(TOKEN, url + "?tampered=1", received["form"], received["headers"]["x-twilio-signature"])
    reply = parse_inbound(received["form"])
    assert (reply.from_, reply.to, reply.body, reply.messaging_service_sid) == ("+15557654321", SHOP, "YES", "MG123")
    with pytest.raises(MalformedPayloadError):
        parse_inbound({"Body": "YES"})


def test_find_sent_lists_messages_to_the_number_and_matches_the_body(sandbox, admin):
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC) - timedelta(seconds=5)
    for n in range(60):  # more than one page of 50 to someone else
        sender(sandbox).send(sms(to="+15557654321", body=f"other {n}"))
    first = sender(sandbox).send(sms(body="Your futon frame is backordered. Reply WAIT, REFUND or CREDIT."))
    sender(sandbox).send(sms(body="A later, different message"))
    found = sender(sandbox).find_sent(sms(body="Your futon frame is backordered. Reply WAIT, REFUND or CREDIT."),
                                      before)
    assert found.found and found.provider_message_id == first.provider_message_id
    missing = sender(sandbox).find_sent(sms(body="never sent"), before)
    assert not missing.found and missing.conclusive
