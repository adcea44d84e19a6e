"""An order that says how it was paid keeps the gateway's reference on the order itself, so a
provider's dispute about that payment finds its order (``domain.chargebacks.intake``)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.payments.contract import DisputeNotice
from connectors.types import OrderLineRecord, OrderRecord
from domain.chargebacks import intake
from domain.core.business_config import BusinessConfig
from domain.core.models import Dispute, Order, OrderPayment, Store
from domain.stock.orders import record_orders


def _record(payment_ref: str | None, status: str = "processing") -> OrderRecord:
    return OrderRecord(external_id="7301", number="7301", placed_at=datetime.now(UTC) - timedelta(days=2),
                       email="ana@example.com", phone=None, customer_name="Ana Lima", total_cents=12_000,
                       status=status, lines=[OrderLineRecord(external_id="730100", sku=None, quantity=1,
                                                             price_cents=12_000, title="Cotton futon cover")],
                       payment_method="stripe" if payment_ref else None, payment_ref=payment_ref)


def test_the_payment_reference_is_kept_on_the_order_and_a_dispute_finds_it(
        db_session: Session, catalog: BusinessConfig) -> None:
    store_id = db_session.scalar(select(Store.id).where(Store.key == "woo-outlet"))
    assert store_id is not None
    [order_id] = record_orders(db_session, store_id, [_record("pi_0001demo")]).order_ids
    record_orders(db_session, store_id, [_record(None, status="completed")])  # a later payload without it
    db_session.commit()
    order = db_session.get(Order, order_id)
    assert order is not None and order.payment_ref == "pi_0001demo" and order.status == "completed"
    assert db_session.get(OrderPayment, order_id).reference == "pi_0001demo"  # type: ignore[union-attr]

    notice = DisputeNotice("stripe", "evt_1", "dp_1", "pi_0001demo", "needs_response", reason_code="duplicate",
                           category="duplicate", amount_cents=12_000, currency="USD",
                           due_by=datetime.now(UTC) + timedelta(days=7))
    intake.receive(db_session, "stripe-main", notice, catalog)
    db_session.commit()
    dispute = db_session.scalar(select(Dispute).where(Dispute.dispute_ref == "dp_1"))
    assert dispute is not None and dispute.order_id == order_id
