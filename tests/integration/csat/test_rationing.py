"""Restock rationing: what a restock leaves after filling the waiting backorders goes to the
shoppers who asked to be told, oldest first, never more notices than units; the rest wait for
the next restock; a re-run sends nothing twice."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import why
from domain.core.models import BackInStockRequest, Backorder, OutboxMessage, Sku
from domain.journey import customer_journey, rationing
from tests.integration.csat.conftest import NOW, SKU, order, stock
from workers.back_in_stock import SIGNATURE_HEADER, router


def _sku_id(session: Session) -> int:
    sku_id = session.scalar(select(Sku.id).where(Sku.code == SKU))
    assert sku_id is not None
    return sku_id


def _notices(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "back_in_stock")
                                .order_by(OutboxMessage.id)))


def _five_requests(session: Session) -> list[int]:
    ids = []
    for n in range(5):  # asked in this order: shopper0 is the oldest
        ids.append(rationing.add(session, SKU, email=f"shopper{n}@example.com", store_key="shopify-main",
                                 now=NOW + timedelta(minutes=n)).request_id)
    return ids


def test_three_units_left_go_to_the_three_oldest_and_the_rest_wait(db_session: Session,
                                                                   journey_settings: Any) -> None:
    stock(db_session, 0)
    [backorder_id] = order(db_session, 8001, quantity=2)
    db_session.commit()
    customer_journey.offer(db_session, backorder_id, journey_settings, now=NOW)
    ids = _five_requests(db_session)
    db_session.commit()

    stock(db_session, 5, at=NOW + timedelta(hours=1))  # 5 arrive: 2 for the backorder, 3 left
    customer_journey.fill(db_session, _sku_id(db_session), journey_settings, now=NOW + timedelta(hours=1))
    db_session.commit()
    assert db_session.get(Backorder, backorder_id).state == "filled"  # the paying customer first
    notices = _notices(db_session)
    assert [m.recipient for m in notices] == ["shopper0@example.com", "shopper1@example.com", "shopper2@example.com"]
    assert [(m.context["units_left"], m.context["position"], m.context["budget"]) for m in notices] == [
        (3, 1, 3), (3, 2, 3), (3, 3, 3)]
    assert "oldest request first" in notices[0].context["rule"]
    states = {r.id: r.state for r in db_session.scalars(select(BackInStockRequest))}
    assert [states[i] for i in ids] == ["notified"] * 3 + ["waiting"] * 2

    # the same restock seen again (a redelivered fill, a second detection run): nothing twice
    customer_journey.fill(db_session, _sku_id(db_session), journey_settings, now=NOW + timedelta(hours=2))
    rationing.notify(db_session, _sku_id(db_session), NOW + timedelta(hours=2))
    db_session.commit()
    assert len(_notices(db_session)) == 3

    # the three told buy their units; the next restock brings 2 more: the two still waiting hear
    for n in range(3):
        order(db_session, 8100 + n, email=f"Shopper{n}@example.com", at=NOW + timedelta(hours=3))
    stock(db_session, 7, at=NOW + timedelta(hours=4))
    customer_journey.fill(db_session, _sku_id(db_session), journey_settings, now=NOW + timedelta(hours=4))
    db_session.commit()
    later = _notices(db_session)[3:]
    assert [m.recipient for m in later] == ["shopper3@example.com", "shopper4@example.com"]
    assert [(m.context["units_left"], m.context["outstanding_notices"], m.context["position"]) for m in later] == [
        (2, 0, 1), (2, 0, 2)]

    trail = why.sku(db_session, SKU, now=NOW + timedelta(hours=5)).as_dict()
    told = [e for e in trail["events"] if e["kind"] == "back_in_stock_notice"]
    assert len(told) == 5 and "number 1 of 5 waiting, 3 unit(s) left" in told[0]["text"]
    assert trail["facts"]["back_in_stock_waiting"] == 0


def test_no_notice_while_a_backorder_still_waits_or_a_notice_holds_the_unit(db_session: Session,
                                                                            journey_settings: Any) -> None:
    stock(db_session, 0)
    [backorder_id] = order(db_session, 8201, quantity=3)
    db_session.commit()
    customer_journey.offer(db_session, backorder_id, journey_settings, now=NOW)
    _five_requests(db_session)
    stock(db_session, 2, at=NOW + timedelta(hours=1))  # not enough for the backorder of 3
    customer_journey.fill(db_session, _sku_id(db_session), journey_settings, now=NOW + timedelta(hours=1))
    db_session.commit()
    assert _notices(db_session) == []  # those 2 units wait for the customer who paid

    stock(db_session, 4, at=NOW + timedelta(hours=2))  # 3 for the backorder, 1 left: one notice
    customer_journey.fill(db_session, _sku_id(db_session), journey_settings, now=NOW + timedelta(hours=2))
    db_session.commit()
    assert [m.recipient for m in _notices(db_session)] == ["shopper0@example.com"]
    # nobody bought it yet: within the hold, the unit is still promised to shopper0
    rationing.notify(db_session, _sku_id(db_session), NOW + timedelta(hours=20))
    assert len(_notices(db_session)) == 1
    # after the hold the unit is free again: the next in line hears
    rationing.notify(db_session, _sku_id(db_session), NOW + timedelta(hours=2) + rationing.HOLD + timedelta(minutes=1))
    db_session.commit()
    assert [m.recipient for m in _notices(db_session)][1:] == ["shopper1@example.com"]


def test_asking_twice_keeps_the_first_place(db_session: Session, journey_settings: Any) -> None:
    first = rationing.add(db_session, SKU, email="a@example.com", now=NOW)
    rationing.add(db_session, SKU, email="b@example.com", now=NOW + timedelta(minutes=1))
    again = rationing.add(db_session, SKU, email="a@example.com", now=NOW + timedelta(minutes=2))
    assert (again.request_id, again.created, again.position) == (first.request_id, False, 1)
    with pytest.raises(rationing.RequestError):
        rationing.add(db_session, SKU, channel="sms", email="a@example.com")
    with pytest.raises(rationing.RequestError):
        rationing.add(db_session, "NO-SUCH-SKU", email="a@example.com")


def _signed(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_signed_storefront_request_joins_the_queue(db_session: Session, journey_settings: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", "s3cret")
    app = FastAPI()
    app.include_router(router)
    client = TestClient(app)
    body = json.dumps({"sku": SKU, "email": "fan@example.com", "id": "klaviyo-1"}).encode()
    url = "/webhooks/back-in-stock/shopify-main"
    assert client.post(url, content=body, headers={SIGNATURE_HEADER: _signed("wrong", body)}).status_code == 401
    assert client.post(url, content=body).status_code == 401
    assert client.post("/webhooks/back-in-stock/nowhere", content=body,
                       headers={SIGNATURE_HEADER: _signed("s3cret", body)}).status_code == 404
    ok = client.post(url, content=body, headers={SIGNATURE_HEADER: _signed("s3cret", body)})
    again = client.post(url, content=body, headers={SIGNATURE_HEADER: _signed("s3cret", body)})
    assert ok.status_code == 200 and ok.json()["created"] is True and ok.json()["position"] == 1
    assert again.json() == {**ok.json(), "created": False}
    unknown = json.dumps({"sku": "NOPE", "email": "fan@example.com"}).encode()
    assert client.post(url, content=unknown, headers={SIGNATURE_HEADER: _signed("s3cret", unknown)}).status_code == 422
    db_session.expire_all()
    [request] = db_session.scalars(select(BackInStockRequest)).all()
    assert (request.source, request.external_id, request.channel) == ("webhook", "klaviyo-1", "email")
    assert db_session.scalar(select(func.count()).select_from(BackInStockRequest)) == 1


def test_a_text_in_quiet_hours_waits_for_morning(db_session: Session, journey_settings: Any) -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(journey_settings.config.timezone)
    night = NOW.astimezone(zone).replace(hour=23, minute=30).astimezone(NOW.tzinfo)
    rationing.add(db_session, SKU, phone="+14155550123", now=night - timedelta(hours=1))
    stock(db_session, 1, at=night)
    customer_journey.fill(db_session, _sku_id(db_session), journey_settings, now=night)
    db_session.commit()
    [text] = _notices(db_session)
    assert text.channel == "sms" and text.not_before is not None
    assert text.not_before.astimezone(zone).hour == journey_settings.config.policy.quiet_hours[1].hour
