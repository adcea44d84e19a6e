"""A read-only store: refunds are held back as rows, and switching it on makes held-back pushes due."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core.models import Backorder, BlockedWrite, ChannelPush, OutboxMessage, Sku, Store
from domain.stock.catalog import apply_config
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SKU = "FUT-FRM-OAK-FULL"


def _read_only(config: Any, on: bool) -> Any:
    stores = tuple(dataclasses.replace(s, read_only=on) if s.key == "shopify-main" else s for s in config.stores)
    return dataclasses.replace(config, stores=stores)


def test_a_refund_on_a_read_only_store_is_held_back_not_made(db_session: Session, catalog: Any) -> None:
    from tasks.followups import offer, refund

    apply_config(db_session, _read_only(catalog, True))
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    assert store_id is not None
    record_batch(db_session, store_id, [StockRecord(external_id="v-1", sku=SKU, location_external_id="655441491",
                                                    available=0, on_hand=0, updated_at=NOW)])
    [backorder_id] = record_orders(db_session, store_id, [OrderRecord(
        external_id="77", number="#77", placed_at=NOW, email="c@example.com", phone=None, customer_name="C",
        lines=[OrderLineRecord(external_id="77-1", sku=SKU, quantity=1, price_cents=64900)])]).backorder_ids
    db_session.commit()
    # no journey starts for a store under observation: the offer is held back, once however often it comes
    for _ in range(2):
        assert offer.apply(args=(backorder_id,), throw=True).get() == 0
    db_session.expire_all()
    assert db_session.scalar(select(OutboxMessage.id)) is None
    assert db_session.get(Backorder, backorder_id).state == "open"  # type: ignore[union-attr]
    assert [(b.action, b.subject_id) for b in db_session.scalars(select(BlockedWrite))] == [
        ("backorder.offer", backorder_id)]
    db_session.execute(update(Backorder).where(Backorder.id == backorder_id)
                       .values(state="auto_cancelled", resolution="refund"))
    db_session.commit()
    # the store's credentials are not even set: a held-back refund never builds a connector
    assert refund.apply(args=(backorder_id,), throw=True).get() == "refund held back: store shopify-main is read-only"
    db_session.expire_all()
    [held] = db_session.scalars(select(BlockedWrite).where(BlockedWrite.action != "backorder.offer")).all()
    assert (held.action, held.subject_type, held.subject_id, held.reason) == (
        "backorder.refund", "backorder", backorder_id, "read-only")
    assert held.detail == {"amount_cents": 64900, "order": "#77"}
    assert db_session.get(Backorder, backorder_id).resolution_ref is None  # type: ignore[union-attr]


def test_switching_a_store_on_makes_its_held_back_pushes_due(db_session: Session, catalog: Any) -> None:
    apply_config(db_session, _read_only(catalog, True))
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))
    assert store_id is not None and sku_id is not None
    db_session.add(BlockedWrite(store_id=store_id, action="channel.push", subject_type="sku", subject_id=sku_id,
                                reason="read-only", detail={"levels": {"655441491": 0}, "backorder": True}))
    db_session.commit()
    apply_config(db_session, _read_only(catalog, True))  # still read-only: nothing becomes due
    assert db_session.scalar(select(ChannelPush.due_at).where(ChannelPush.store_id == store_id)) is None
    apply_config(db_session, _read_only(catalog, False))
    db_session.commit()
    due = db_session.execute(select(ChannelPush.sku_id, ChannelPush.due_at).where(ChannelPush.store_id == store_id)
                             ).all()
    assert [row.sku_id for row in due] == [sku_id] and due[0].due_at is not None
    assert db_session.scalar(select(Store.read_only).where(Store.id == store_id)) is False
