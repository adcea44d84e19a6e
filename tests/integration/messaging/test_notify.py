"""Outbox delivery end to end: a real worker, real PostgreSQL/Redis, providers played by the sandbox.

The invariant under test is the one from the reliability notes: every accepted outbox row reaches
its provider at most once per key — retried only when nothing was sent, never after a send whose
outcome is unknown — and provider callbacks settle the row's final state.
"""
from __future__ import annotations

import base64
import importlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import tasks.notify  # noqa: F401  (registers the tasks with the app the worker runs)
from connectors.messaging.mailgun import sign as mailgun_sign
from domain.core.clock import utcnow
from domain.core.env_settings import get_settings
from domain.core.models import AuditLog, OutboxMessage
from domain.core.ratelimit import RateLimiter
from domain.messaging import outbox
from sandbox.server import SandboxServer
from sandbox.twilio import signature as twilio_signature
from tasks.notify import deliver, redrive
from tests.conftest import wait_for
from workers.callbacks import router

SID = "AC00000000000000000000000000000000"
TOKEN = "sandbox-twilio-token"
PUBLIC = "https://backorders.example.test"
STATUS_PATH = "/callbacks/twilio/status"
CONTEXT = {
    "event": "stock.out", "sku": "FUT-FULL-OAK", "title": "Oak futon <full>", "from_state": "LOW",
    "to_state": "OUT", "available": 0, "threshold": 3, "open_demand": 2,
    "locations": [{"name": "Main", "available": 0}], "channels": ["Shopify store"], "detail": "",
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    app = FastAPI()
    for name in ("sandbox.control", "sandbox.messaging", "sandbox.twilio", "sandbox.mailgun",
                 "sandbox.sendgrid", "sandbox.slack"):
        importlib.import_module(name).install(app)
    with SandboxServer(app=app) as server:
        yield server


@pytest.fixture(scope="module")
def worker(celery_app: object) -> Iterator[object]:
    """One worker for the module: starting and stopping a worker costs ~10 s, more than the tests."""
    from celery.contrib.testing.worker import start_worker

    from celeryconfig import QUEUES

    with start_worker(celery_app, pool="threads", concurrency=4, perform_ping_check=False,  # type: ignore[arg-type]
                      loglevel="WARNING", queues=list(QUEUES), shutdown_timeout=20) as running:
        yield running


class Admin:
    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.base = f"{server.base_url}/_sandbox/messaging"

    def fault(self, **fault: Any) -> None:
        requests.post(f"{self.base}/faults", json=fault, timeout=5).raise_for_status()

    def messages(self, provider: str) -> list[dict[str, Any]]:
        return requests.get(f"{self.base}/messages", params={"provider": provider}, timeout=5).json()["messages"]

    def requests(self, provider: str) -> list[dict[str, Any]]:
        return requests.get(f"{self.base}/requests", params={"provider": provider}, timeout=5).json()["requests"]


@pytest.fixture
def admin(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, services: dict[str, str]) -> Iterator[Admin]:
    """A fresh sandbox and every provider variable pointing at it (the worker threads share os.environ)."""
    sandbox.app.state.messaging.reset()
    base = sandbox.base_url
    env = {
        "EMAIL_PROVIDER": "mailgun", "MAILGUN_API_KEY": "sandbox-mailgun-key", "MAILGUN_DOMAIN": "mg.example.test",
        "MAILGUN_BASE_URL": f"{base}/mailgun", "EMAIL_FROM": "Backorders <alerts@mg.example.test>",
        "SENDGRID_API_KEY": "SG.sandbox-sendgrid-key", "SENDGRID_BASE_URL": f"{base}/sendgrid",
        "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM": "+15005550006",
        "TWILIO_BASE_URL": f"{base}/twilio", "SLACK_WEBHOOK_OPS": f"{base}/slack/services/T000/B000/SANDBOX",
        "NOTIFY_TIMEOUT_S": "1", "RATE_LIMIT_SLACK_PER_S": "50", "PUBLIC_BASE_URL": PUBLIC,
        "MAILGUN_WEBHOOK_SIGNING_KEY": "sandbox-mailgun-signing-key",
        "SENDGRID_WEBHOOK_PUBLIC_KEY": sandbox.app.state.messaging.sendgrid_public_key_b64,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield Admin(sandbox)
    get_settings.cache_clear()


def add(session: Session, channel: str, recipient: str, *, send: bool = True, **context: Any) -> int:
    outbox_id = outbox.enqueue(session, idempotency_key=f"test:{uuid.uuid4()}", channel=channel,
                               template="stock_alert", recipient=recipient, context={**CONTEXT, **context})
    session.commit()
    assert outbox_id is not None
    if send:
        deliver.delay(outbox_id)
    return outbox_id


def row(session: Session, outbox_id: int) -> OutboxMessage:
    session.expire_all()
    found = session.get(OutboxMessage, outbox_id)
    assert found is not None
    return found


def settled(session: Session, outbox_id: int, *states: str) -> OutboxMessage:
    wait_for(lambda: row(session, outbox_id).state in states, timeout_s=15)
    return row(session, outbox_id)


def test_each_channel_is_delivered_exactly_once(worker, db_session, admin):
    ids = {"slack": add(db_session, "slack", "SLACK_WEBHOOK_OPS"),
           "email": add(db_session, "email", "ops@example.test"),
           "sms": add(db_session, "sms", "+15551234567")}
    rows = {channel: settled(db_session, outbox_id, "sent", "failed") for channel, outbox_id in ids.items()}
    assert {channel: r.state for channel, r in rows.items()} == {"slack": "sent", "email": "sent", "sms": "sent"}

    [mail] = admin.messages("mailgun")
    assert rows["email"].provider == "mailgun" and rows["email"].provider_message_id == mail["id"].strip("<>")
    assert mail["subject"] == "[FUT-FULL-OAK] Oak futon <full> is out of stock"
    assert "Oak futon &lt;full&gt;" in mail["html"] and mail["variables"]["idempotency_key"].startswith("test:")
    [sms] = admin.messages("twilio")
    assert rows["sms"].provider == "twilio" and rows["sms"].provider_message_id == sms["id"]
    assert sms["status_callback"].startswith(f"{PUBLIC}{STATUS_PATH}?idempotency_key=test%3A")
    [slack] = admin.messages("slack")
    assert rows["slack"].provider == "slack" and slack["blocks"][0]["type"] == "header"
    assert all(r.attempts == 1 and r.sent_at is not None for r in rows.values())

    for outbox_id in ids.values():  # a duplicate task (redelivery) finds the row already sent
        assert deliver.apply(args=[outbox_id]).get() == "skipped"
    assert [len(admin.messages(p)) for p in ("mailgun", "twilio", "slack")] == [1, 1, 1]


def test_503_then_success_is_delivered_once_after_a_retry(worker, db_session, admin):
    admin.fault(provider="mailgun", mode="fail", status=503, retry_after="1")
    outbox_id = add(db_session, "email", "ops@example.test")
    sent = settled(db_session, outbox_id, "sent", "failed")
    assert sent.state == "sent" and sent.attempts == 2
    assert "503" in (sent.last_error or "")
    assert [r["status"] for r in admin.requests("mailgun")] == [503, 200]
    assert len(admin.messages("mailgun")) == 1


def test_accept_then_hang_is_unknown_and_never_resent_by_redrive(worker, db_session, admin):
    admin.fault(provider="slack", mode="hang", hang_s=3)
    hung = add(db_session, "slack", "SLACK_WEBHOOK_OPS")
    unknown = settled(db_session, hung, "unknown", "sent", "failed")
    assert unknown.state == "unknown" and "did not answer" in (unknown.last_error or "")
    assert "SANDBOX" not in (unknown.last_error or ""), "the webhook URL is a secret"

    lost = add(db_session, "slack", "SLACK_WEBHOOK_OPS", send=False)  # as if the broker dropped it
    stuck = add(db_session, "slack", "SLACK_WEBHOOK_OPS", send=False)
    long_ago = utcnow() - timedelta(hours=1)
    db_session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([hung, lost]))
                       .values(created_at=long_ago, updated_at=long_ago))
    db_session.execute(update(OutboxMessage).where(OutboxMessage.id == stuck)
                       .values(state="sending", created_at=long_ago, updated_at=long_ago))
    db_session.commit()

    assert redrive.apply().get() == 1, "only the lost pending row is re-enqueued"
    assert settled(db_session, lost, "sent", "failed").state == "sent"
    assert row(db_session, hung).state == "unknown"
    assert row(db_session, stuck).state == "unknown", "a send interrupted mid-way is not retried either"
    assert len(admin.messages("slack")) == 2
    assert redrive.apply().get() == 0


def test_an_unknown_slack_post_is_left_to_a_person_once_never_resent(worker, db_session, admin):
    """Slack's incoming webhooks keep no record to ask: the sender's ``find_sent`` says so (None),
    so reconciling neither settles nor resends the row; staff are told once."""
    from domain.core.models import Alert
    from tasks.notify import reconcile

    outbox_id = add(db_session, "slack", "SLACK_WEBHOOK_OPS", send=False)
    long_ago = utcnow() - timedelta(hours=1)
    db_session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(
        state="unknown", attempts=1, last_error="slack did not answer", created_at=long_ago, updated_at=long_ago))
    db_session.commit()

    assert reconcile.apply().get() == {"unsupported": 1}
    assert reconcile.apply().get() == {"unsupported": 1}
    assert row(db_session, outbox_id).state == "unknown"
    assert not any("Oak futon" in json.dumps(m) for m in admin.messages("slack")), "the post itself is not resent"
    [alert] = db_session.scalars(select(Alert).where(Alert.dedupe_key == f"message_failed:{outbox_id}")).all()
    assert "slack has no way to look the message up" in alert.message


def test_invalid_number_fails_with_the_reason_and_is_not_retried(worker, db_session, admin):
    outbox_id = add(db_session, "sms", "5551234")
    failed = settled(db_session, outbox_id, "failed", "sent")
    assert failed.state == "failed" and failed.attempts == 1
    assert "Invalid 'To' Phone Number" in (failed.last_error or "") and "21211" in (failed.last_error or "")
    assert len(admin.requests("twilio")) == 1
    audit = db_session.scalars(select(AuditLog).where(AuditLog.subject_id == str(outbox_id))).all()
    assert [a.action for a in audit] == ["outbox.failed"] and audit[0].data["code"] == 21211


def test_missing_setting_fails_the_row_naming_the_variable(worker, db_session, admin, monkeypatch):
    monkeypatch.delenv("SLACK_WEBHOOK_OPS")
    outbox_id = add(db_session, "slack", "SLACK_WEBHOOK_OPS")
    assert settled(db_session, outbox_id, "failed").last_error == "SLACK_WEBHOOK_OPS is not set"
    secret_probe = add(db_session, "slack", "SECRET_KEY")
    assert "not a SLACK_WEBHOOK_* variable" in (settled(db_session, secret_probe, "failed").last_error or "")
    assert admin.requests("slack") == []


def callbacks_client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def twilio_callback(client: TestClient, callback_url: str, sid: str, status: str, *,
                    token: str = TOKEN, **extra: str) -> Any:
    params = {"AccountSid": SID, "ApiVersion": "2010-04-01", "From": "+15005550006", "To": "+15551234567",
              "MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status, **extra}
    path = callback_url.removeprefix(PUBLIC)
    return client.post(path, data=params, headers={"X-Twilio-Signature": twilio_signature(token, callback_url, params)})


def test_twilio_status_callback_marks_the_row_delivered(worker, db_session, admin):
    outbox_id = add(db_session, "sms", "+15551234567")
    assert settled(db_session, outbox_id, "sent", "failed").state == "sent"
    [sms] = admin.messages("twilio")
    client = callbacks_client()

    forged = twilio_callback(client, sms["status_callback"], sms["id"], "delivered", token="not-the-token")
    assert forged.status_code == 401 and row(db_session, outbox_id).state == "sent"
    unsigned = client.post(sms["status_callback"].removeprefix(PUBLIC), data={"MessageSid": sms["id"]})
    assert unsigned.status_code == 401
    malformed = client.post(STATUS_PATH, data={"AccountSid": SID},
                            headers={"X-Twilio-Signature": twilio_signature(TOKEN, PUBLIC + STATUS_PATH,
                                                                            {"AccountSid": SID})})
    assert malformed.status_code == 400

    assert twilio_callback(client, sms["status_callback"], sms["id"], "delivered").status_code == 200
    assert row(db_session, outbox_id).state == "delivered"
    assert twilio_callback(client, sms["status_callback"], sms["id"], "sent").status_code == 200
    assert row(db_session, outbox_id).state == "delivered", "a late 'sent' never moves a final state back"


def test_unknown_sms_is_reconciled_by_its_status_callback(worker, db_session, admin):
    admin.fault(provider="twilio", mode="hang", hang_s=2)
    outbox_id = add(db_session, "sms", "+15551234567")
    unknown = settled(db_session, outbox_id, "unknown", "sent", "failed")
    assert unknown.state == "unknown" and unknown.provider_message_id is None
    [sms] = admin.messages("twilio")
    response = twilio_callback(callbacks_client(), sms["status_callback"], sms["id"], "undelivered",
                               ErrorCode="30003")
    assert response.json()["matched"] == 1
    reconciled = row(db_session, outbox_id)
    assert (reconciled.state, reconciled.provider_message_id) == ("failed", sms["id"])
    assert reconciled.last_error == "twilio undelivered: 30003"
    assert len(admin.requests("twilio")) == 1


def test_mailgun_event_webhook_is_verified_and_replay_guarded(worker, db_session, admin):
    outbox_id = add(db_session, "email", "ops@example.test")
    sent = settled(db_session, outbox_id, "sent", "failed")
    token = uuid.uuid4().hex + uuid.uuid4().hex[:18]
    timestamp = str(int(time.time()))
    body = {"signature": {"timestamp": timestamp, "token": token,
                          "signature": mailgun_sign("sandbox-mailgun-signing-key", timestamp, token)},
            "event-data": {"event": "delivered", "message": {"headers": {"message-id": sent.provider_message_id}},
                           "user-variables": {"idempotency_key": sent.idempotency_key}}}
    client = callbacks_client()
    bad = {**body, "signature": {**body["signature"], "signature": "0" * 64}}
    assert client.post("/callbacks/mailgun", json=bad).status_code == 401
    assert client.post("/callbacks/mailgun", content=b"{not json").status_code == 400
    assert client.post("/callbacks/mailgun", json=body).status_code == 200
    assert row(db_session, outbox_id).state == "delivered"
    assert client.post("/callbacks/mailgun", json=body).status_code == 401, "a replayed token is refused"


def test_sendgrid_signed_event_webhook(worker, db_session, admin, sandbox, monkeypatch):
    monkeypatch.setenv("EMAIL_PROVIDER", "sendgrid")
    outbox_id = add(db_session, "email", "ops@example.test")
    sent = settled(db_session, outbox_id, "sent", "failed")
    assert sent.provider == "sendgrid" and sent.provider_message_id
    raw = json.dumps([{"email": "ops@example.test", "event": "bounce", "reason": "550 no such user",
                       "sg_message_id": f"{sent.provider_message_id}.filter0001", "timestamp": int(time.time()),
                       "idempotency_key": sent.idempotency_key}]).encode()
    timestamp = str(int(time.time()))
    key: ec.EllipticCurvePrivateKey = sandbox.app.state.messaging.sendgrid_private_key
    good = base64.b64encode(key.sign(timestamp.encode() + raw, ec.ECDSA(hashes.SHA256()))).decode()
    client = callbacks_client()
    headers = {"X-Twilio-Email-Event-Webhook-Timestamp": timestamp, "Content-Type": "application/json"}
    tampered = raw.replace(b"bounce", b"delivered")
    assert client.post("/callbacks/sendgrid", content=tampered, headers={
        **headers, "X-Twilio-Email-Event-Webhook-Signature": good}).status_code == 401
    response = client.post("/callbacks/sendgrid", content=raw,
                           headers={**headers, "X-Twilio-Email-Event-Webhook-Signature": good})
    assert response.status_code == 200
    failed = row(db_session, outbox_id)
    assert failed.state == "failed" and failed.last_error == "sendgrid bounce: 550 no such user"


def test_rate_limiter_is_shared_through_redis(services):
    client = redis.Redis.from_url(services["redis_url"])
    env = {"RATE_LIMIT_PACED_PER_S": "1", "CELERY_KEY_PREFIX": f"test-{uuid.uuid4()}:"}
    first, second = RateLimiter(client, env), RateLimiter(client, env)  # two workers, one bucket
    assert first.acquire("paced") == 0
    from domain.core.ratelimit import PACING_MARGIN

    assert 0 < second.acquire("paced") <= 1 / PACING_MARGIN, "one send per 1/(rate × margin) seconds"
    assert RateLimiter(client, {**env, "RATE_LIMIT_PACED_PER_S": "0"}).acquire("paced") == 0
    first.reset("paced")


def test_a_waiting_customer_notice_keeps_the_next_token(services):
    """Staff email raised with a customer notice waits its turn behind it; alone, staff mail keeps
    the full pace; and grants stay one per 1/(rate × margin) seconds whoever takes them."""
    from domain.core.ratelimit import PACING_MARGIN
    from flows.providers import role_for

    client = redis.Redis.from_url(services["redis_url"])
    limiter = RateLimiter(client, {"RATE_LIMIT_SHARED_PER_S": "10", "CELERY_KEY_PREFIX": f"test-{uuid.uuid4()}:"})
    interval = 1 / (10 * PACING_MARGIN)
    assert limiter.acquire("shared", role="yield") == 0, "an idle bucket serves staff mail at once"
    customer_wait = limiter.acquire("shared", role="first")
    assert 0.5 * interval < customer_wait <= interval, "the customer notice waits for the next token"
    time.sleep(customer_wait + 0.01)  # the token is back: staff asking now must not take it
    assert limiter.acquire("shared", role="yield") > 0, "reserved for the waiting customer notice"
    assert limiter.acquire("shared", role="first") == 0, "the customer notice takes it"
    assert limiter.acquire("shared", role="yield") > 0.5 * interval, "then staff waits its normal turn"
    time.sleep(interval + 0.01)
    assert limiter.acquire("shared", role="yield") == 0, "no reservation stands: staff goes"
    assert limiter.acquire("shared", role="normal") > 0, "and spacing holds for the next caller"
    limiter.reset("shared")
    assert role_for("email", "backorder_notice") == "first" and role_for("sms", "backorder_reminder") == "first"
    assert role_for("email", "stock_alert") == "yield" and role_for("email", "po_to_vendor") == "yield"
    assert role_for("slack", "stock_alert") == "normal", "Slack carries no customer notices"
