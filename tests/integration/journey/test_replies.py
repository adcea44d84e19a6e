"""Customer replies over HTTP: signed links (GET shows, POST decides) and inbound SMS keywords."""
from __future__ import annotations

import os
from collections.abc import Iterator
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.messaging.twilio_sms import compute_signature
from domain.core.clock import utcnow
from domain.core.models import AuditLog, Backorder, ContactOptOut, InboundSms, Order, OrderLine, OutboxMessage, Sku, Store
from domain.journey import customer_journey
from domain.journey.links import LinkClaim, sign
from domain.messaging import sms_replies
from workers import replies

BASE_URL = "http://testserver"
AUTH_TOKEN = "twilio-test-auth-token"
PHONE_RAW, PHONE_E164 = "(212) 555-0147", "+12125550147"
EVIL = "<script>alert(1)</script>"


@pytest.fixture
def settings(catalog: Any) -> customer_journey.Settings:
    return customer_journey.Settings(catalog, BASE_URL, os.environ["SECRET_KEY"])


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, settings: customer_journey.Settings) -> list[tuple[str, tuple[Any, ...]]]:
    """Routes the module's settings to the test's and records follow-ups instead of enqueueing."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(replies, "current_settings", lambda: settings)
    monkeypatch.setattr(replies, "send_follow_ups", lambda follow_ups: calls.extend(follow_ups))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    return calls


@pytest.fixture
def client(sent: list[Any]) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(replies.router)
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


def make_backorder(session: Session, settings: customer_journey.Settings, *, title: str = "Oak futon frame, full",
                   order: str = "9001", notified_ago: timedelta = timedelta(0), texted: bool = True) -> int:
    """An order with one backordered line, offered to the customer (state ``notified``)."""
    store = session.scalar(select(Store).where(Store.key == "shopify-main"))
    sku = session.scalar(select(Sku).where(Sku.code == "FUT-FRM-OAK-FULL"))
    assert store is not None and sku is not None
    now = utcnow() - notified_ago
    row = Order(store_id=store.id, external_id=order, number=f"#{int(order) - 8000}",
                customer_name="Ada Lovelace", email="ada@example.com", phone=PHONE_RAW, placed_at=now)
    session.add(row)
    session.flush()
    line = OrderLine(order_id=row.id, sku_id=sku.id, external_id="L1", quantity=1, backordered_qty=1,
                     price_cents=sku.price_cents, title=title)
    session.add(line)
    session.flush()
    backorder = Backorder(order_line_id=line.id, sku_id=sku.id, quantity=1, ordered_at=now)
    session.add(backorder)
    session.flush()
    customer_journey.offer(session, backorder.id, settings, now=now)
    session.commit()
    if texted:
        mark_texted(session, backorder.id, now)
    return backorder.id


def mark_texted(session: Session, backorder_id: int, at: datetime) -> None:
    """The notice's SMS left us at ``at`` (what ``tasks.notify.deliver`` records)."""
    rows = session.scalars(select(OutboxMessage).where(
        OutboxMessage.channel == "sms", OutboxMessage.idempotency_key.like(f"backorder:{backorder_id}:%"))).all()
    assert rows, "the offer queued a text"
    for row in rows:
        row.state, row.sent_at = "sent", at
    session.commit()


def link(settings: customer_journey.Settings, backorder_id: int, choice: str, *,
         expires_in: timedelta = timedelta(days=3), substitute: str | None = None) -> str:
    claim = LinkClaim(backorder_id, choice, int((utcnow() + expires_in).timestamp()), substitute)
    return f"/b/{sign(settings.secret_key, claim)}"


def state_of(session: Session, backorder_id: int) -> str:
    session.expire_all()
    backorder = session.get(Backorder, backorder_id)
    assert backorder is not None
    return backorder.state


def test_get_shows_the_choice_and_changes_nothing(client: TestClient, db_session: Session,
                                                  settings: customer_journey.Settings) -> None:
    backorder_id = make_backorder(db_session, settings, title=f"Futon {EVIL}")
    audits = db_session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1))
    path = link(settings, backorder_id, "wait")
    for _ in range(3):  # a mail scanner, a link preview, the customer
        response = client.get(path)
        assert response.status_code == 200
    assert "#1001" in response.text and "Keep waiting for" in response.text
    assert f'<form method="post" action="{path}">' in response.text
    assert EVIL not in response.text and "&lt;script&gt;" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert state_of(db_session, backorder_id) == "notified"
    assert db_session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1)) == audits


def test_post_wait_applies_once_then_says_already(client: TestClient, db_session: Session,
                                                  settings: customer_journey.Settings, sent: list[Any]) -> None:
    backorder_id = make_backorder(db_session, settings)
    path = link(settings, backorder_id, "wait")
    first = client.post(path)
    assert first.status_code == 200 and "your choice is saved" in first.text
    assert state_of(db_session, backorder_id) == "accepted_wait"
    assert sent and all(name == customer_journey.DELIVER for name, _ in sent), "confirmation email/SMS after commit"
    count = len(sent)
    again = client.post(path)
    assert again.status_code == 200 and "You already chose this" in again.text
    assert len(sent) == count
    assert "You already chose this" in client.get(path).text


def test_bad_and_expired_links_get_their_own_pages(client: TestClient, db_session: Session,
                                                   settings: customer_journey.Settings) -> None:
    backorder_id = make_backorder(db_session, settings)
    path = link(settings, backorder_id, "cancel")
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    for method in (client.get, client.post):
        bad = method(tampered)
        assert bad.status_code == 400 and "This link is not valid" in bad.text and "Futon Loft" in bad.text
        expired = method(link(settings, backorder_id, "cancel", expires_in=timedelta(seconds=-5)))
        assert expired.status_code == 410 and "This link has expired" in expired.text
        missing = method(link(settings, backorder_id + 999, "wait"))
        assert missing.status_code == 404
    assert state_of(db_session, backorder_id) == "notified"


def test_cancel_after_the_auto_cancel_is_too_late(client: TestClient, db_session: Session,
                                                  settings: customer_journey.Settings, sent: list[Any]) -> None:
    backorder_id = make_backorder(db_session, settings)
    backorder = db_session.get(Backorder, backorder_id)
    assert backorder is not None
    backorder.state, backorder.resolution = "auto_cancelled", "refund"
    db_session.commit()
    response = client.post(link(settings, backorder_id, "credit"))
    assert response.status_code == 409
    assert "no longer possible" in response.text and "did not hear from you by the deadline" in response.text
    assert state_of(db_session, backorder_id) == "auto_cancelled" and sent == []


def test_sold_out_substitute_changes_nothing_and_offers_the_other_choices(
        client: TestClient, db_session: Session, settings: customer_journey.Settings) -> None:
    backorder_id = make_backorder(db_session, settings)
    path = link(settings, backorder_id, "substitute", substitute="FUT-FRM-WAL-FULL")
    shown = client.get(path)
    assert shown.status_code == 200 and "Get Walnut Lounger futon frame, full instead?" in shown.text
    response = client.post(path)
    assert response.status_code == 409 and "no longer available" in response.text
    assert f'href="{BASE_URL}/b/' in response.text
    assert state_of(db_session, backorder_id) == "notified"


def test_post_cancel_applies_and_schedules_the_refund(client: TestClient, db_session: Session,
                                                      settings: customer_journey.Settings, sent: list[Any]) -> None:
    backorder_id = make_backorder(db_session, settings)
    response = client.post(link(settings, backorder_id, "cancel"))
    assert response.status_code == 200 and "we are refunding its full price" in response.text
    assert state_of(db_session, backorder_id) == "cancelled_by_customer"
    assert (customer_journey.REFUND, (backorder_id,)) in sent


def sms_form(body: str, *, sender: str = PHONE_E164, sid: str | None = None) -> dict[str, str]:
    return {"MessageSid": sid or "SM" + uuid.uuid4().hex, "From": sender, "To": "+15005550006", "Body": body,
            "NumMedia": "0"}


def sms(client: TestClient, body: str, *, sender: str = PHONE_E164, signature: str | None = None,
        form: dict[str, str] | None = None) -> Any:
    """Posts a signed inbound text (a fresh ``MessageSid`` unless ``form`` is a captured one)."""
    form = form or sms_form(body, sender=sender)
    signature = signature or compute_signature(AUTH_TOKEN, f"{BASE_URL}/sms/inbound", form)
    return client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})


def test_sms_answers_the_backorder_of_the_last_question_texted(
        client: TestClient, db_session: Session, settings: customer_journey.Settings, sent: list[Any]) -> None:
    older = make_backorder(db_session, settings, order="9001", notified_ago=timedelta(days=2))
    backorder_id = make_backorder(db_session, settings, order="9002")
    response = sms(client, "  wait ")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    assert "<Response><Message>" in response.text and "you will wait" in response.text
    assert state_of(db_session, backorder_id) == "accepted_wait"
    assert state_of(db_session, older) == "notified"
    assert sent
    # The conversation is still the last question texted: the older order is not its subject.
    assert "you already chose this" in sms(client, "Wait!").text
    assert state_of(db_session, older) == "notified"
    mark_texted(db_session, older, utcnow())  # its reminder is now the last text
    assert "you will wait" in sms(client, "WAIT").text
    assert state_of(db_session, older) == "accepted_wait"
    assert "could not find an open backorder" in sms(client, "WAIT", sender="+14155550100").text


def test_a_replayed_refund_has_no_second_effect_and_never_reaches_a_newer_order(
        client: TestClient, db_session: Session, settings: customer_journey.Settings, sent: list[Any]) -> None:
    older = make_backorder(db_session, settings, order="9001", notified_ago=timedelta(hours=3))
    captured = sms_form("REFUND")
    first = sms(client, "REFUND", form=captured)
    assert first.status_code == 200 and "refunding you in full" in first.text
    assert state_of(db_session, older) == "cancelled_by_customer"
    effects = len(sent)
    assert (customer_journey.REFUND, (older,)) in sent

    newer = make_backorder(db_session, settings, order="9002")  # a later order, offered and texted
    for _ in range(3):
        replay = sms(client, "REFUND", form=captured)
        assert replay.status_code == 200 and "<Message>" not in replay.text, "a replay answers empty TwiML"
    assert state_of(db_session, newer) == "notified", "the newer order is untouched"
    assert state_of(db_session, older) == "cancelled_by_customer"
    assert len(sent) == effects, "no refund, no message"
    db_session.expire_all()
    [row] = db_session.scalars(select(InboundSms).where(InboundSms.message_sid == captured["MessageSid"])).all()
    assert (row.backorder_id, row.result, row.keyword) == (older, "applied", "REFUND")


def test_a_reply_that_predates_a_newer_backorder_answers_the_older_one(
        client: TestClient, db_session: Session, settings: customer_journey.Settings, sent: list[Any]) -> None:
    older = make_backorder(db_session, settings, order="9001", notified_ago=timedelta(hours=3))
    # A newer backorder exists, but its question has not been texted yet (quiet hours, a queue).
    newer = make_backorder(db_session, settings, order="9002", texted=False)
    assert "refunding you in full" in sms(client, "REFUND").text
    assert state_of(db_session, older) == "cancelled_by_customer"
    assert state_of(db_session, newer) == "notified"
    assert (customer_journey.REFUND, (newer,)) not in sent

    # Texted after a reply arrived: that reply still belongs to the older conversation.
    arrived = utcnow()
    mark_texted(db_session, newer, arrived + timedelta(minutes=5))
    talk = sms_replies.conversation(db_session, PHONE_E164, arrived)
    assert talk is not None and talk.backorder_id == older
    talk = sms_replies.conversation(db_session, PHONE_E164, arrived + timedelta(minutes=6))
    assert talk is not None and talk.backorder_id == newer


def test_the_same_message_delivered_concurrently_is_taken_once(
        client: TestClient, db_session: Session, settings: customer_journey.Settings, sent: list[Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    backorder_id = make_backorder(db_session, settings)
    form = sms_form("CREDIT")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: sms(client, "CREDIT", form=form), range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert sum("store credit" in a.text for a in answers) == 1, [a.text for a in answers]
    assert state_of(db_session, backorder_id) == "cancelled_by_customer"
    assert sent.count((customer_journey.REFUND, (backorder_id,))) == 1


def test_sms_cancel_and_stop_opt_out_and_never_cancel_the_order(
        client: TestClient, db_session: Session, settings: customer_journey.Settings) -> None:
    backorder_id = make_backorder(db_session, settings)
    for word in ("STOP", "cancel"):
        response = sms(client, word)
        assert response.status_code == 200 and "<Message>" not in response.text
    rows = db_session.scalars(select(ContactOptOut).where(ContactOptOut.address == PHONE_E164)).all()
    assert [(r.channel, r.reason) for r in rows] == [("sms", "STOP")]
    assert state_of(db_session, backorder_id) == "notified"


def test_sms_unknown_text_and_unknown_number_get_a_polite_answer(
        client: TestClient, db_session: Session, settings: customer_journey.Settings) -> None:
    make_backorder(db_session, settings)
    unknown = sms(client, "When will <it> ship?")
    assert "reply WAIT" in unknown.text and "REFUND" in unknown.text and "<it>" not in unknown.text
    stranger = sms(client, "REFUND", sender="+14155550100")
    assert "could not find an open backorder" in stranger.text


def test_sms_with_a_bad_signature_is_refused(client: TestClient, db_session: Session,
                                             settings: customer_journey.Settings) -> None:
    backorder_id = make_backorder(db_session, settings)
    assert sms(client, "WAIT", signature="bm90IGEgc2lnbmF0dXJl").status_code == 401
    assert client.post("/sms/inbound", data={"Body": "WAIT"}).status_code == 401
    assert state_of(db_session, backorder_id) == "notified"


def test_database_down_is_a_503_page_never_a_500(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                 settings: customer_journey.Settings) -> None:
    from sqlalchemy.exc import OperationalError

    def down() -> Any:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(replies, "session_scope", down)
    path = link(settings, 1, "wait")
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 503 and "Please try again in a few minutes" in response.text
    assert sms(client, "WAIT").status_code == 503
