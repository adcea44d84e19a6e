"""Orders from any channel, stored once per platform id; their lines are the demand detection sees.

A line names its SKU by code, or only by the platform's own product id (a Lightspeed X-Series sale
line carries ``product_id`` alone): then the SKU is the one whose listing on that store has that id
(``channel_listings``, learned on the last full stock read), as stock records without a code are
resolved in ``domain.stock.levels``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, null, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connectors.types import OrderRecord, PaymentRisk
from domain.core.clock import utcnow
from domain.core.db import any_text
from domain.core.models import ChannelListing, Order, OrderLine, OrderPayment, Sku
from domain.stock.allocation import allocate_orders

OPEN_STATUSES = {"open", "pending", "processing", "on-hold", "unfulfilled", "partially_fulfilled"}


def normalise_status(status: str) -> str:
    """Platforms name states differently; we only need open vs. not."""
    return "open" if status.lower() in OPEN_STATUSES else status.lower()[:32]


#: Order columns that hold what fraud hints read (``connectors.types.PaymentRisk``).
RISK_COLUMNS = ("customer_ip", "avs_result", "cvv_result", "card_fingerprint", "billing_country", "shipping_country",
                "billing_address", "shipping_address")


def risk_values(risk: PaymentRisk | None) -> dict[str, Any]:
    """The risk columns of one order, cut to their widths; SQL NULL for what the platform did not say
    (``null()`` for the JSON columns, where a bare None would be stored as JSON ``null``)."""
    risk = risk or PaymentRisk()
    return {"customer_ip": _cut(risk.customer_ip, 45), "avs_result": _cut(risk.avs_result, 16),
            "cvv_result": _cut(risk.cvv_result, 16), "card_fingerprint": _cut(risk.card, 128),
            "billing_country": risk.billing_country, "shipping_country": risk.shipping_country,
            "billing_address": risk.billing_address or null(), "shipping_address": risk.shipping_address or null()}


def _cut(value: str | None, width: int) -> str | None:
    return value[:width] if value else None


@dataclass
class RecordedOrders:
    """What changed: orders stored, SKUs whose demand moved, backorders created by allocation."""

    order_ids: list[int] = field(default_factory=list)
    sku_ids: list[int] = field(default_factory=list)
    backorder_ids: list[int] = field(default_factory=list)
    #: Lines that name no SKU code and no product this store lists (their platform ids).
    unplaced: list[str] = field(default_factory=list)


def listed_products(session: Session, store_id: int, records: Sequence[OrderRecord], known: set[str]) -> dict[str, int]:
    """The store's product ids → SKU ids, for the lines whose code is not one of ``known``."""
    ids = {line.variant_external_id for record in records for line in record.lines
           if line.variant_external_id and line.sku not in known}
    if not ids:
        return {}
    return dict(session.execute(select(ChannelListing.external_id, ChannelListing.sku_id).where(
        ChannelListing.store_id == store_id, ChannelListing.external_id == any_text("ids", sorted(ids)))).tuples().all())


def record_payment(session: Session, order_id: int, record: OrderRecord) -> None:
    """How the order was paid, when its platform says (a refund of it may be paid back at the
    provider: ``domain.payments``); a later reading with a reference wins."""
    if record.payment_method or record.payment_ref:
        statement = insert(OrderPayment).values(order_id=order_id, method=record.payment_method,
                                                reference=record.payment_ref)
        session.execute(statement.on_conflict_do_update(index_elements=["order_id"], set_={
            "method": statement.excluded.method, "reference": statement.excluded.reference, "updated_at": utcnow()}))


def record_orders(session: Session, store_id: int, records: Sequence[OrderRecord]) -> RecordedOrders:
    """Upsert orders and their lines, then allocate every new line of an open order (the rest is
    backordered). A line's SKU is its code's, else its product's listing on this store."""
    if not records:
        return RecordedOrders()
    codes = {line.sku for record in records for line in record.lines if line.sku}
    sku_ids = dict(session.execute(select(Sku.code, Sku.id).where(Sku.code == any_text("codes", sorted(codes)))).all()) if codes else {}
    by_product = listed_products(session, store_id, records, set(sku_ids))
    unplaced: list[str] = []
    touched: set[int] = set()
    order_ids: list[int] = []
    for record in records:
        statement = insert(Order).values(
            store_id=store_id, external_id=record.external_id, number=record.number[:64],
            customer_name=record.customer_name[:200], email=record.email, phone=record.phone,
            status=normalise_status(record.status), currency=record.currency, total_cents=record.total_cents,
            placed_at=record.placed_at or utcnow(), **risk_values(record.risk),
        )
        order_id = session.execute(statement.on_conflict_do_update(
            constraint="uq_orders_store_external",
            set_={"status": statement.excluded.status, "email": statement.excluded.email,
                  "phone": statement.excluded.phone,
                  # a payload that omits the payment's facts (a webhook, say) keeps what an earlier one gave
                  **{name: func.coalesce(getattr(statement.excluded, name), getattr(Order, name))
                     for name in RISK_COLUMNS}},
        ).returning(Order.id)).scalar_one()
        order_ids.append(order_id)
        record_payment(session, order_id, record)
        for line in record.lines:
            if line.quantity <= 0:
                continue
            sku_id = sku_ids.get(line.sku) if line.sku else None
            if sku_id is None and line.variant_external_id:
                sku_id = by_product.get(line.variant_external_id)
            if sku_id is None and not line.sku:
                unplaced.append(line.variant_external_id or line.external_id)
            session.execute(insert(OrderLine).values(
                order_id=order_id, sku_id=sku_id, external_id=line.external_id, quantity=line.quantity,
                price_cents=line.price_cents, title=line.title[:300],
            ).on_conflict_do_nothing(constraint="uq_order_lines_order_external"))
            if sku_id is not None:
                touched.add(sku_id)
    allocation = allocate_orders(session, order_ids)
    return RecordedOrders(order_ids, sorted(touched | allocation.sku_ids), allocation.backorder_ids, unplaced)
