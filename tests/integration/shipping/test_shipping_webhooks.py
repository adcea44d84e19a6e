"""Shipping webhooks through the real web app: ShipStation's SHIP_NOTIFY (a token in the URL, a
``resource_url`` fetched by the drain, the shipment stored once however often it is delivered) and
Flexport's signed events (a tampered body or a wrong secret refused before anything is stored)."""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.db import get_sessionmaker
from domain.core.models import Case, InboxEvent, OutboxMessage, Shipment, ShipmentLine, TrackingEvent
from flows import shipping as flows_shipping
from sandbox.server import SandboxServer
from tests.integration.shipping.conftest import Shipping, place_order
from workers.cli import main


@pytest.fixture
def web(db_session: Session, shipping: Shipping, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from domain.core.env_settings import get_settings
    from workers.web import create_app

    with SandboxServer(app=create_app(), health_path="/readyz") as server:
        monkeypatch.setenv("PUBLIC_BASE_URL", server.base_url)
        get_settings.cache_clear()
        yield server.base_url


def count(session: Session, model: Any, *where: Any) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_ship_notify_is_fetched_and_stored_once_however_often_it_is_delivered(
        web: str, shipping: Shipping, db_session: Session) -> None:
    place_order(db_session, 5101, [("FUT-FRM-OAK-FULL", 1, 5), ("FUT-MAT-COT-FULL", 2, 5)])
    subscribed = CliRunner().invoke(main, ["shipping", "subscribe", "shipstation-main", "--json"])
    assert subscribed.exit_code == 0, subscribed.output
    hooks = shipping.shipstation.get("webhooks")["webhooks"]
    assert {h["topics"][0] for h in hooks} == {"SHIP_NOTIFY", "ITEM_SHIP_NOTIFY"}
    assert all(h["address"] == f"{web}/webhooks/shipping/shipstation-main?token=sandbox-shipstation-webhook-token"
               for h in hooks)

    made = shipping.shipstation.post("labels", {"order_number": "#5101", "items": [
        {"sku": "FUT-FRM-OAK-FULL", "quantity": 1, "line_item_key": "5101-1"},
        {"sku": "FUT-MAT-COT-FULL", "quantity": 2, "line_item_key": "5101-2"}]})
    assert [d["status"] for d in made["deliveries"]] == [200, 200], made["deliveries"]
    assert count(db_session, InboxEvent, InboxEvent.source == "ship:shipstation-main") == 2
    assert flows_shipping.drain(get_sessionmaker(), "shipstation-main", shipping.send) == 2

    [shipment] = db_session.scalars(select(Shipment)).all()
    assert (shipment.order_number, shipment.carrier, shipment.status) == ("#5101", "ups", "label_created")
    assert shipment.order_id is not None
    lines = db_session.execute(select(ShipmentLine.sku, ShipmentLine.quantity).order_by(ShipmentLine.id)).all()
    assert [tuple(line) for line in lines] == [("FUT-FRM-OAK-FULL", 1), ("FUT-MAT-COT-FULL", 2)]
    fetched = [r for r in requests.get(f"{shipping.shipstation.root}/_admin/requests", timeout=5).json()["requests"]
               if r["path"].endswith("/shipments")]
    assert len(fetched) == 2 and all(r["query"]["batchId"] == str(made["batch"]) for r in fetched), \
        "each notification's resource_url was read with our credentials"
    assert count(db_session, InboxEvent, InboxEvent.state == "done") == 2

    redelivered = shipping.shipstation.post("redeliver", {"index": -1, "times": 3})
    assert redelivered["statuses"] == [200, 200, 200]
    assert count(db_session, InboxEvent) == 2, "a redelivery is a duplicate: nothing new is stored"
    assert flows_shipping.drain(get_sessionmaker(), "shipstation-main", shipping.send) == 0
    assert count(db_session, Shipment) == 1 and count(db_session, ShipmentLine) == 2
    assert count(db_session, Case) == 0, "one shipment with every line: no split, nothing to open"

    body = json.dumps({"resource_url": f"{shipping.shipstation.root}/shipments?batchId=1", "resource_type": "SHIP_NOTIFY"})
    for token in ("", "?token=guessed"):
        refused = requests.post(f"{web}/webhooks/shipping/shipstation-main{token}", data=body, timeout=5)
        assert refused.status_code == 401
    assert requests.post(f"{web}/webhooks/shipping/nobody?token=x", data=body, timeout=5).status_code == 404
    assert count(db_session, InboxEvent) == 2


def test_flexport_events_are_checked_by_signature_before_anything_is_stored(
        web: str, shipping: Shipping, db_session: Session) -> None:
    place_order(db_session, 5102, [("FUT-MAT-FOAM-FULL", 1, 5)], phone="+15005550006")
    shipping.flexport.post("webhooks", {"url": f"{web}/webhooks/shipping/flexport-freight",
                                        "secret": "sandbox-flexport-webhook-secret"})
    booked = shipping.flexport.post("shipments", {"order_number": "#5102", "skus": ["FUT-MAT-FOAM-FULL"]})
    shipping.flexport.post("milestones", {"shipment_id": booked["shipment"]["id"], "milestone": "exception",
                                          "location": "Port of Oakland"})
    deliveries = shipping.flexport.get("webhooks")["deliveries"]
    assert [d["status"] for d in deliveries] == [200, 200]

    last = deliveries[-1]
    url = f"{web}/webhooks/shipping/flexport-freight"
    tampered = requests.post(url, data=last["body"].replace("Port of Oakland", "Port of Nowhere"),
                             headers=last["headers"], timeout=5)
    assert tampered.status_code == 401
    forged = hmac.new(b"a-guessed-secret", last["body"].encode(), hashlib.sha256).hexdigest()
    wrong = requests.post(url, data=last["body"], headers={**last["headers"], "X-Hub-Signature-256": f"sha256={forged}"},
                          timeout=5)
    assert wrong.status_code == 401
    assert requests.post(url, data=last["body"], headers=last["headers"], timeout=5).json() == {"status": "duplicate"}
    assert count(db_session, InboxEvent, InboxEvent.source == "ship:flexport-freight") == 2

    flows_shipping.drain(get_sessionmaker(), "flexport-freight", shipping.send)
    [shipment] = db_session.scalars(select(Shipment)).all()
    assert shipment.status == "exception" and count(db_session, TrackingEvent) == 2
    [case] = db_session.scalars(select(Case)).all()
    assert (case.kind, case.subject_type, case.subject_id) == ("delivery_exception", "shipment", shipment.id)
    told = db_session.execute(select(OutboxMessage.channel, OutboxMessage.recipient)
                              .where(OutboxMessage.template == "shipment_exception")).all()
    assert sorted(tuple(t) for t in told) == [("email", "customer5102@example.com"), ("sms", "+15005550006")]
