"""An auto-cancel is a lost sale: merchandising is alerted and the SKU's purchase order escalated."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core import timers
from domain.journey import customer_journey
from domain.messaging.rendering import render_email
from domain.purchasing import merchandising
from domain.core.models import (
    Alert,
    Backorder,
    OutboxMessage,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    Sku,
    Store,
    Vendor,
)
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SKU = "FUT-FRM-OAK-FULL"


@pytest.fixture
def settings(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> customer_journey.Settings:
    settings = customer_journey.Settings(config=catalog, public_base_url="https://shop.example", secret_key="k" * 40)
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    return settings


def _backorder(session: Session, settings: customer_journey.Settings, number: int, quantity: int = 2) -> int:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    record_batch(session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id=f"v-{SKU}", sku=SKU, location_external_id="655441491", available=0, on_hand=0, updated_at=NOW)])
    [backorder_id] = record_orders(session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id=str(number), number=f"#{number}", placed_at=NOW, email=f"c{number}@example.com", phone=None,
        customer_name="C", lines=[OrderLineRecord(external_id=f"{number}-1", sku=SKU, quantity=quantity,
                                                  price_cents=64900)])]).backorder_ids
    customer_journey.offer(session, backorder_id, settings, now=NOW)
    assert session.get(Backorder, backorder_id).consent_required  # type: ignore[union-attr]
    return backorder_id


def _sent_po(session: Session, state: str = "sent") -> PurchaseOrder:
    """A PO sent to Kyoto for the SKU, expected in 60 days: customers must consent to wait that long."""
    vendor = session.scalar(select(Vendor).where(Vendor.key == "kyoto-frames"))
    sku = session.scalar(select(Sku).where(Sku.code == SKU))
    assert vendor is not None and sku is not None
    eta = (NOW + timedelta(days=60)).date()
    po = PurchaseOrder(number="PO-20261120-1", vendor_id=vendor.id, state=state, sent_at=NOW - timedelta(days=5),
                       expected_at=eta, total_cents=10 * 18950)
    session.add(po)
    session.flush()
    session.add(PurchaseOrderLine(purchase_order_id=po.id, sku_id=sku.id, quantity=10, unit_cost_cents=18950,
                                  eta=eta))
    session.flush()
    return po


def _deadline(session: Session, backorder_id: int) -> list[timers.FollowUp]:
    follow_ups: list[timers.FollowUp] = []
    at = NOW + timedelta(days=5)
    for timer in timers.claim_due(session, now=at):
        follow_ups += timers.fire(session, timer, now=at)
    assert session.get(Backorder, backorder_id).state == "auto_cancelled"  # type: ignore[union-attr]
    return follow_ups


def test_auto_cancel_alerts_merchandising_and_escalates_the_open_po(db_session: Session,
                                                                    settings: customer_journey.Settings) -> None:
    po = _sent_po(db_session)
    backorder_id = _backorder(db_session, settings, 7001)

    follow_ups = _deadline(db_session, backorder_id)

    [event] = db_session.scalars(select(PurchaseOrderEvent).where(
        PurchaseOrderEvent.purchase_order_id == po.id, PurchaseOrderEvent.data["kind"].astext == "auto_cancelled"))
    assert event.kind == "escalated"
    assert {k: event.data[k] for k in ("sku", "order", "quantity", "reason")} == {
        "sku": SKU, "order": "#7001", "quantity": 2, "reason": "no answer by the deadline"}
    chase = db_session.scalar(select(OutboxMessage).where(
        OutboxMessage.idempotency_key == f"po:{po.id}:escalation:acknowledgement"))
    assert chase is not None and chase.recipient == "orders@kyotoframes.example", "the vendor is asked to acknowledge"
    alert = db_session.scalar(select(Alert).where(Alert.kind == "merchandising.auto_cancelled"))
    assert alert is not None and alert.dedupe_key == f"auto_cancelled:{backorder_id}"
    assert {k: alert.data[k] for k in ("sku", "order_number", "quantity", "reason", "purchase_order")} == {
        "sku": SKU, "order_number": "#7001", "quantity": 2, "reason": "no answer by the deadline",
        "purchase_order": "PO-20261120-1"}
    assert "asked again to acknowledge PO-20261120-1" in alert.message
    staff = db_session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"alert:{alert.id}:email:%")))
    assert staff is not None and (customer_journey.DELIVER, (staff.id,)) in follow_ups
    email = render_email("stock_alert", staff.context)
    assert "auto-cancelled" in email.subject and "Order #7001: 2 × FUT-FRM-OAK-FULL auto-cancelled" in email.text
    assert (merchandising.PLAN, ([db_session.scalar(select(Sku.id).where(Sku.code == SKU))],)) not in follow_ups

    second = _backorder(db_session, settings, 7002, quantity=1)
    _deadline(db_session, second)
    events = db_session.scalars(select(PurchaseOrderEvent).where(PurchaseOrderEvent.purchase_order_id == po.id,
                                                                 PurchaseOrderEvent.kind == "escalated")).all()
    assert sorted(e.data.get("order", "-") for e in events) == ["#7001", "#7002", "-"], \
        "one escalation row per cancelled order, and the vendor loop's own for its one email"
    assert db_session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.template == "po_escalation").order_by(OutboxMessage.id.desc()).limit(1)) == chase.id, \
        "the vendor is chased once per PO, however many customers cancel"


def test_an_acknowledged_po_without_asn_asks_the_vendor_for_it(db_session: Session,
                                                               settings: customer_journey.Settings) -> None:
    po = _sent_po(db_session, state="acknowledged")
    po.acknowledged_at = NOW - timedelta(days=1)
    backorder_id = _backorder(db_session, settings, 7101)
    _deadline(db_session, backorder_id)
    assert db_session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.idempotency_key == f"po:{po.id}:escalation:asn")) is not None


def test_auto_cancel_without_an_open_po_starts_purchasing_planning(db_session: Session,
                                                                   settings: customer_journey.Settings) -> None:
    db_session.execute(update(Sku).where(Sku.code == SKU).values(vendor_id=None))  # no date: consent needed
    backorder_id = _backorder(db_session, settings, 7201)
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))

    follow_ups = _deadline(db_session, backorder_id)

    assert (merchandising.PLAN, ([sku_id],)) in follow_ups
    assert (customer_journey.REFUND, (backorder_id,)) in follow_ups
    alert = db_session.scalar(select(Alert).where(Alert.kind == "merchandising.auto_cancelled"))
    assert alert is not None and alert.data["planning"] is True and "planning was started" in alert.message
    assert db_session.scalar(select(PurchaseOrderEvent.id)) is None
