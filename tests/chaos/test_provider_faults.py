"""Scenario 7: a messaging provider misbehaves; every message still goes out once, or fails loudly.

The sandbox injects the faults (``/_sandbox/messaging/faults``); a real worker delivers real
outbox rows; the product's web app takes the provider's status callbacks. Each scenario counts
what went in, what reached the provider, and writes its row for the chaos table.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import Alert, AuditLog, OutboxMessage
from domain.messaging.circuit import get_breaker
from tasks.notify import deliver, redrive
from tests.chaos.faults_stack import Messaging, enqueue, outbox_row
from tests.chaos.report import record
from tests.conftest import wait_for

pytest_plugins = ("tests.chaos.faults_stack",)  # servers, worker, messaging

CUSTOMER = {
    "store_name": "Futon Loft", "order_number": "#1001", "customer_name": "Ada", "item_title": "Oak futon frame",
    "sku": "FUT-FRM-OAK-FULL", "quantity": 1, "eta": "2026-08-01", "consent_required": False,
    "deadline": "2026-07-14T18:00:00+00:00",
    "links": {"wait": "https://shop.example/b/w", "cancel": "https://shop.example/b/c",
              "credit": "https://shop.example/b/k"},
    "substitutes": [], "sms_keywords": ["WAIT", "REFUND", "CREDIT"], "auto_cancel_action": "refund",
}


def settled(session: Session, outbox_id: int, *states: str, timeout_s: float = 20) -> OutboxMessage:
    wait_for(lambda: outbox_row(session, outbox_id).state in states, timeout_s=timeout_s)
    return outbox_row(session, outbox_id)


def at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["received_at"])


def duplicates(messages: list[dict[str, Any]]) -> int:
    keys = [m["variables"].get("idempotency_key") for m in messages]
    return len(keys) - len(set(keys))


def test_429_with_retry_after_waits_that_long_then_sends_once(worker, db_session, messaging: Messaging):
    messaging.fault(provider="mailgun", mode="fail", status=429, retry_after="2")
    started = time.monotonic()
    outbox_id = enqueue(db_session, "email", "ops@example.test", "chaos:429")
    deliver.delay(outbox_id)

    sent = settled(db_session, outbox_id, "sent", "failed")
    assert sent.state == "sent" and sent.attempts == 2 and "429" in (sent.last_error or "")
    first, second = messaging.requests("mailgun")
    assert (first["status"], second["status"]) == (429, 200)
    waited = (at(second) - at(first)).total_seconds()
    assert 2.0 <= waited < 6.0, f"Retry-After: 2 was not honoured ({waited:.2f}s)"
    mails = messaging.messages("mailgun")
    assert len(mails) == 1
    assert get_breaker().state("mailgun") == "closed", "a 429 is pacing, not an outage"
    record("7a provider 429 + Retry-After", runs=1, events_in=1, effects=len(mails), lost=0,
           duplicates=duplicates(mails), recovery_s=time.monotonic() - started,
           detail=f"second request {waited:.1f}s after the 429 (Retry-After 2)")


def test_503_storm_opens_the_circuit_defers_sends_and_recovers_without_loss(
        worker, db_session, messaging: Messaging, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CIRCUIT_FAILURES", "3")
    monkeypatch.setenv("CIRCUIT_COOLDOWN_S", "2")
    monkeypatch.setenv("CIRCUIT_PROBE_S", "4")
    messaging.fault(provider="mailgun", mode="fail", status=503, count=100_000)
    rows = [enqueue(db_session, "email", f"ops{i}@example.test", f"chaos:storm:{i}") for i in range(8)]
    for outbox_id in rows:
        deliver.delay(outbox_id)

    wait_for(lambda: get_breaker().state("mailgun") in ("open", "half_open"), timeout_s=10)
    storm_started = time.monotonic()
    wait_for(lambda: any("circuit" in (outbox_row(db_session, i).last_error or "") for i in rows), timeout_s=10)
    time.sleep(6)  # the provider stays down for a while
    during_storm = len(messaging.requests("mailgun"))
    storm_s = time.monotonic() - storm_started
    # Without a breaker, eight rows retrying with 2-8 s backoff would make ~3 requests each here.
    # With it: the first attempt of each row, then one probe per cool-down (2 s), at most.
    assert during_storm <= len(rows) + storm_s / 2 + 3, f"{during_storm} requests in {storm_s:.1f}s"
    # A half-open probe may be holding one row in ``sending`` at this instant; none has failed.
    assert all(outbox_row(db_session, i).state in ("pending", "sending") for i in rows), "deferred, never failed"
    opened = db_session.scalars(select(Alert).where(Alert.dedupe_key.like("circuit_open:mailgun:%"))).all()
    assert len(opened) == 1, "staff are told once that the provider is failing"

    messaging.clear_faults()  # the provider recovers
    recovered_at = time.monotonic()
    for outbox_id in rows:
        assert settled(db_session, outbox_id, "sent", "failed", timeout_s=30).state == "sent"
    recovery = time.monotonic() - recovered_at
    assert get_breaker().state("mailgun") == "closed"

    mails = messaging.messages("mailgun")
    keys = [m["variables"]["idempotency_key"] for m in mails]
    assert sorted(k for k in keys if k.startswith("chaos:storm:")) == sorted(f"chaos:storm:{i}" for i in range(8))
    assert len(keys) == len(set(keys)), "no message twice"
    assert all(outbox_row(db_session, i).attempts <= 6 for i in rows)
    record("7b provider 503 storm (circuit breaker)", runs=1, events_in=len(rows),
           effects=sum(k.startswith("chaos:storm:") for k in keys), lost=0, duplicates=len(keys) - len(set(keys)),
           recovery_s=recovery,
           detail=f"{during_storm} requests in {storm_s:.0f}s of outage; 1 staff alert; closed on recovery")


def test_timeout_after_acceptance_is_reconciled_from_the_callback_never_resent(
        worker, db_session, messaging: Messaging, servers):
    messaging.fault(provider="twilio", mode="hang", hang_s=2.5)
    outbox_id = enqueue(db_session, "sms", "+15551230001", "chaos:timeout")
    deliver.delay(outbox_id)
    unknown = settled(db_session, outbox_id, "unknown", "sent", "failed")
    assert unknown.state == "unknown" and "did not answer" in (unknown.last_error or "")

    long_ago = utcnow() - timedelta(hours=1)  # however long it waits, the sweeper leaves it alone
    db_session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                       .values(created_at=long_ago, updated_at=long_ago))
    db_session.commit()
    assert redrive.apply().get() == 0
    assert deliver.apply(args=[outbox_id]).get() == "skipped"

    [sms] = messaging.messages("twilio")  # the provider did take it
    started = time.monotonic()
    emitted = requests.post(f"{servers.sandbox.base_url}/_sandbox/messaging/twilio/status-callback",
                            json={"message_sid": sms["id"], "status": "delivered"}, timeout=10).json()
    assert emitted["status_code"] == 200, emitted
    done = settled(db_session, outbox_id, "delivered", "failed", "sent", timeout_s=5)
    assert done.state == "delivered" and done.provider_message_id == sms["id"]
    assert len(messaging.messages("twilio")) == 1 and len(messaging.requests("twilio")) == 1
    record("7c provider timeout after acceptance", runs=1, events_in=1, effects=len(messaging.messages("twilio")),
           lost=0, duplicates=len(messaging.messages("twilio")) - 1, recovery_s=time.monotonic() - started,
           detail="unknown -> delivered by the status callback's idempotency key; never resent")


def test_invalid_phone_number_fails_once_with_the_reason_and_alerts_staff(worker, db_session, messaging: Messaging):
    outbox_id = enqueue(db_session, "sms", "5551234", "chaos:bad-number", template="backorder_notice",
                        context=CUSTOMER)
    deliver.delay(outbox_id)
    failed = settled(db_session, outbox_id, "failed", "sent")
    assert failed.state == "failed" and failed.attempts == 1
    assert "21211" in (failed.last_error or "") and "Phone Number" in (failed.last_error or "")
    time.sleep(1.0)  # a retry would have come by now
    assert len(messaging.requests("twilio")) == 1, "a permanent 4xx is not retried"
    audit = db_session.scalars(select(AuditLog).where(AuditLog.subject_id == str(outbox_id))).all()
    assert [a.action for a in audit] == ["outbox.failed"]
    [alert] = db_session.scalars(select(Alert).where(Alert.dedupe_key == f"message_failed:{outbox_id}")).all()
    assert "#1001" in alert.message and "21211" in alert.message
    staff = wait_for(lambda: messaging.messages("slack"), timeout_s=10)
    assert len(staff) == 1 and "#1001" in str(staff[0]["blocks"])
    assert get_breaker().state("twilio") == "closed", "one bad number says nothing about Twilio"
    record("7d provider permanent 4xx (bad number)", runs=1, events_in=1, effects=0, lost=0, duplicates=0,
           detail="failed after 1 attempt with code 21211; staff alerted once")


def _age(session: Session, outbox_id: int, hours: float = 1) -> None:
    """As if the row had waited that long in ``unknown`` with no callback."""
    long_ago = utcnow() - timedelta(hours=hours)
    session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                    .values(created_at=long_ago - timedelta(seconds=5), updated_at=long_ago))
    session.commit()


def test_timeout_after_acceptance_with_no_callback_is_settled_by_asking_the_provider(
        worker, db_session, messaging: Messaging):
    from tasks.notify import reconcile

    messaging.fault(provider="mailgun", mode="hang", hang_s=2.5)
    outbox_id = enqueue(db_session, "email", "ops@example.test", "chaos:lookup")
    assert deliver.apply(args=[outbox_id]).get() == "unknown"
    [mail] = messaging.messages("mailgun")  # Mailgun took it; its answer never came and no callback will
    assert reconcile.apply().get() == {}, "too early: the callback gets its chance first"
    _age(db_session, outbox_id)
    assert reconcile.apply().get() == {"sent": 1}
    row = outbox_row(db_session, outbox_id)
    assert row.state == "sent" and row.provider_message_id == mail["id"]
    assert reconcile.apply().get() == {} and len(messaging.messages("mailgun")) == 1
    record("7c' unknown outcome, no callback (provider asked)", runs=1, events_in=1,
           effects=len(messaging.messages("mailgun")), lost=0, duplicates=len(messaging.messages("mailgun")) - 1,
           detail="Mailgun Events API found our idempotency key: settled as sent, not resent")


def test_a_send_that_never_reached_the_provider_is_sent_again_once(worker, db_session, messaging: Messaging):
    """A worker killed between claiming a row and the request: ``sending`` → ``unknown`` by the
    sweeper; the provider's records, read in full, do not have it, so one new send is safe."""
    from tasks.notify import reconcile

    outbox_id = enqueue(db_session, "sms", "+15551230002", "chaos:never-sent")
    db_session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                       .values(state="unknown", attempts=1, last_error="worker stopped during the send"))
    db_session.commit()
    _age(db_session, outbox_id)
    assert reconcile.apply().get() == {"resend": 1}
    row = settled(db_session, outbox_id, "sent", "failed")
    assert row.state == "sent"
    assert len(messaging.messages("twilio")) == 1 and reconcile.apply().get() == {}
    actions = db_session.scalars(select(AuditLog.data).where(AuditLog.action == "outbox.reconciled",
                                                             AuditLog.subject_id == str(outbox_id))).all()
    assert [a["outcome"] for a in actions] == ["resend"]
    record("7c'' unknown outcome, never reached the provider", runs=1, events_in=1,
           effects=len(messaging.messages("twilio")), lost=0, duplicates=len(messaging.messages("twilio")) - 1,
           detail="Twilio message list read in full without it: sent again, once")
