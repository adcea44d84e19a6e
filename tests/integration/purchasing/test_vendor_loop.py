"""The vendor loop: the PO goes out with a signed page link; the vendor confirms dates there;
a late acknowledgement or ASN escalates once; vendor dates re-date waiting customers."""
from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord, StockRecord
import domain.core.env_settings as runtime_settings
from domain.core import timers
from domain.core.clock import utcnow
from domain.journey import customer_journey
from domain.purchasing import purchase_orders, vendor_loop
from domain.core.models import (
    Alert,
    OutboxMessage,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    Sku,
    Store,
    Timer,
    Vendor,
)
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

SKU = "BED-SHEET-QUEEN-WHT"  # vendor cotton-mill: no ERP, email only


@pytest.fixture
def sent_po(db_session: Session, catalog: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> int:
    from domain.core.env_settings import get_settings
    from tasks.po_send import send
    from tests.conftest import REPO_ROOT

    monkeypatch.setenv("BACKORDERS_CONFIG", str(REPO_ROOT / "examples" / "futon-store.toml"))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://shop.example")
    get_settings.cache_clear()
    vendor = db_session.scalar(select(Vendor).where(Vendor.key == "cotton-mill"))
    sku = db_session.scalar(select(Sku).where(Sku.code == SKU))
    assert vendor is not None and sku is not None
    now = utcnow()
    po = PurchaseOrder(number="PO-TEST-1", vendor_id=vendor.id, state="approved", approved_at=now,
                       expected_at=(now + timedelta(days=10)).date(), total_cents=24 * 4500)
    db_session.add(po)
    db_session.flush()
    db_session.add(PurchaseOrderLine(purchase_order_id=po.id, sku_id=sku.id, quantity=24, unit_cost_cents=4500))
    db_session.commit()
    assert send.apply(args=[po.id]).get() == "sent"
    db_session.expire_all()  # the send ran in its own session
    yield po.id
    get_settings.cache_clear()


def _link(session: Session, po_id: int) -> str:
    email = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == f"po:{po_id}:email"))
    assert email is not None
    match = re.search(r"https://shop\.example(/po/[A-Za-z0-9_\-.]+)", str(email.context))
    assert match, "the vendor email carries the signed page link"
    return match.group(1)


def test_sent_po_is_watched_and_the_vendor_confirms_on_the_page(db_session: Session, sent_po: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.web import create_app

    db_session.expire_all()
    kinds = sorted(db_session.scalars(select(Timer.kind).where(Timer.subject_id == sent_po, Timer.state == "pending")))
    assert kinds == [vendor_loop.ACK_DUE, vendor_loop.ASN_DUE]
    # a customer waiting for the SKU hears when the vendor's date moves the ETA
    shop = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    record_batch(db_session, shop, [StockRecord(external_id="v", sku=SKU, location_external_id="655441491",  # type: ignore[arg-type]
                                                available=0, on_hand=0)])
    [backorder_id] = record_orders(db_session, shop, [OrderRecord(  # type: ignore[arg-type]
        external_id="77", number="#77", placed_at=utcnow(), email="ana@example.com", phone=None,
        customer_name="Ana", lines=[OrderLineRecord(external_id="77-1", sku=SKU, quantity=1, price_cents=12900)])
    ]).backorder_ids
    customer_journey.offer(db_session, backorder_id, runtime_settings.current())
    db_session.commit()
    client = TestClient(create_app(), raise_server_exceptions=False)
    link = _link(db_session, sent_po)
    page = client.get(link)
    assert page.status_code == 200 and SKU in page.text and "PO-TEST-1" in page.text
    later = (utcnow() + timedelta(days=30)).date().isoformat()
    done = client.post(link, data={f"date_{SKU}": later})
    assert done.status_code == 200 and later in done.text
    db_session.expire_all()
    po = db_session.get(PurchaseOrder, sent_po)
    assert po is not None and po.state == "acknowledged" and po.acknowledged_at is not None
    assert db_session.scalar(select(Timer.state).where(Timer.subject_id == sent_po,
                                                       Timer.kind == vendor_loop.ACK_DUE)) == "cancelled"
    notices = db_session.scalars(select(OutboxMessage.template).where(
        OutboxMessage.idempotency_key.like(f"backorder:{backorder_id}:%"))).all()
    assert "backorder_renewed_notice" in notices or "backorder_eta_change" in notices
    assert client.get(link[:-3] + "xyz").status_code == 400, "a changed link is refused"


def _fire(session: Session) -> list[timers.FollowUp]:
    follow_ups: list[timers.FollowUp] = []
    for timer in timers.claim_due(session, now=utcnow()):
        follow_ups += timers.fire(session, timer)
    return follow_ups


def test_a_late_acknowledgement_escalates_once(db_session: Session, sent_po: int) -> None:
    for _ in range(2):
        db_session.execute(update(Timer).where(Timer.subject_id == sent_po, Timer.kind == vendor_loop.ACK_DUE)
                           .values(due_at=utcnow() - timedelta(seconds=1), state="pending"))
        _fire(db_session)
    escalations = db_session.scalars(select(OutboxMessage).where(OutboxMessage.template == "po_escalation")).all()
    assert len(escalations) == 1 and escalations[0].recipient == "wholesale@carolinacotton.example"
    assert escalations[0].context["lines"][0]["ask"] == "confirm the ship date for this line"
    assert db_session.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "po.late")) == 1
    assert db_session.scalar(select(func.count()).select_from(PurchaseOrderEvent).where(
        PurchaseOrderEvent.kind == "escalated")) == 1
    from domain.messaging.rendering import render_email

    rendered = render_email("po_escalation", escalations[0].context)
    assert "PO-TEST-1" in rendered.subject and SKU in rendered.text and "/po/" in rendered.html


def test_a_late_asn_escalates_once_and_an_asn_stops_it(db_session: Session, sent_po: int) -> None:
    vendor_loop.acknowledge(db_session, sent_po, {SKU: (utcnow() + timedelta(days=5)).date()})
    for _ in range(2):
        db_session.execute(update(Timer).where(Timer.subject_id == sent_po, Timer.kind == vendor_loop.ASN_DUE)
                           .values(due_at=utcnow() - timedelta(seconds=1), state="pending"))
        _fire(db_session)
    asks = db_session.scalars(select(OutboxMessage.context).where(OutboxMessage.template == "po_escalation")).all()
    assert [a["kind"] for a in asks] == ["asn"]
    vendor_loop.record_asn(db_session, sent_po, (utcnow() + timedelta(days=6)).date())
    line = db_session.scalar(select(PurchaseOrderLine).where(PurchaseOrderLine.purchase_order_id == sent_po))
    assert line is not None and line.shipped_qty == 24
    with pytest.raises(purchase_orders.PurchasingError):
        vendor_loop.record_asn(db_session, sent_po, (utcnow() + timedelta(days=6)).date(), {"NOPE": 1})
    assert os.environ["SECRET_KEY"]
