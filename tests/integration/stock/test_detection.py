"""Detection over the database: one transition per change, the numbers stored with it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core.models import Sku, SkuTransition, Store
from domain.stock.detection import evaluate
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _set(session: Session, store_key: str, sku: str, location: str, available: int, minutes: int) -> list[int]:
    store_id = session.scalar(select(Store.id).where(Store.key == store_key))
    result = record_batch(session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id=f"{store_key}-{sku}", sku=sku, location_external_id=location, available=available,
        on_hand=available, updated_at=T0 + timedelta(minutes=minutes))])
    return result.changed_sku_ids


def test_sell_out_then_restock(db_session: Session, catalog: object) -> None:
    sku_ids = _set(db_session, "shopify-main", "FUT-FRM-OAK-FULL", "655441491", 10, 0)
    assert evaluate(db_session, sku_ids) == []
    _set(db_session, "shopify-main", "FUT-FRM-OAK-FULL", "655441491", 0, 1)
    [out] = evaluate(db_session, sku_ids)
    assert (out.from_state, out.to_state, out.event, out.needs_push) == ("IN_STOCK", "BACKORDER",
                                                                        "stock.backorder", True)
    assert evaluate(db_session, sku_ids) == [], "evaluating again changes nothing"
    _set(db_session, "shopify-main", "FUT-FRM-OAK-FULL", "655441491", 4, 2)
    [back] = evaluate(db_session, sku_ids)
    assert back.to_state == "RESTOCKED"
    stored = db_session.scalars(select(SkuTransition).order_by(SkuTransition.id)).all()
    assert [t.to_state for t in stored] == ["BACKORDER", "RESTOCKED"]
    assert stored[0].numbers["available"] == 0 and stored[0].numbers["threshold"] == 3


def test_latest_figure_per_location_wins_and_locations_add_up(db_session: Session, catalog: object) -> None:
    sku_ids = _set(db_session, "shopify-main", "MAT-LATEX-QUEEN", "655441491", 1, 0)
    _set(db_session, "shopify-main", "MAT-LATEX-QUEEN", "655441492", 1, 0)
    [low] = evaluate(db_session, sku_ids)
    assert low.to_state == "LOW" and low.numbers.available == 2
    _set(db_session, "showroom-pos", "MAT-LATEX-QUEEN", "showroom-outlet", 0, 5)
    [still_low] = evaluate(db_session, sku_ids) or [None]
    assert still_low is None or still_low.to_state == "LOW"
    assert db_session.scalar(select(Sku.state).where(Sku.id == sku_ids[0])) == "LOW"


def test_oversell_risk_and_atp_drift_raise_once(db_session: Session, catalog: object) -> None:
    sku_ids = _set(db_session, "shopify-main", "BED-DUVET-KING", "655441491", 20, 0)
    _set(db_session, "netsuite-erp", "BED-DUVET-KING", "1", 30, 0)
    shop = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    record_orders(db_session, shop, [OrderRecord(  # type: ignore[arg-type]
        external_id="1001", number="#1001", placed_at=T0, email="a@example.com", phone=None, customer_name="A",
        lines=[OrderLineRecord(external_id="l1", sku="BED-DUVET-KING", quantity=45)])])
    events = sorted(t.to_state for t in evaluate(db_session, sku_ids))
    assert events == ["ATP_DRIFT", "OVERSELL_RISK"]
    assert evaluate(db_session, sku_ids) == [], "flags raise once until they clear"
