"""Demand counted once, on the real database: one sale reported by every store that sees a
location (and echoed back after our own push) is one unit sold; recorded order lines come first;
a negative figure becomes demand already promised, never a negative number on a PO line."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core.models import Location, Sku, StockHistory, Store
from domain.purchasing import demand, purchase_orders
from domain.purchasing.reorder import weighted_velocity
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
DAY = timedelta(days=1)
OAK = "FUT-FRM-OAK-FULL"
#: Each store's own id for the warehouse (the example file maps it in three stores).
WAREHOUSE = {"netsuite-erp": "1", "shopify-main": "655441491", "woo-outlet": "default"}


def _store_id(session: Session, key: str) -> int:
    store_id = session.scalar(select(Store.id).where(Store.key == key))
    assert store_id is not None
    return store_id


def _sku_id(session: Session, code: str = OAK) -> int:
    sku_id = session.scalar(select(Sku.id).where(Sku.code == code))
    assert sku_id is not None
    return sku_id


def _report(session: Session, store: str, on_hand: int, at: datetime) -> None:
    """A store reports the warehouse's figure through the normal recording path."""
    record_batch(session, _store_id(session, store), [StockRecord(  # type: ignore[arg-type]
        external_id=f"{store}-{OAK}", sku=OAK, location_external_id=WAREHOUSE[store], available=on_hand,
        on_hand=on_hand, updated_at=at)])


def _echo(session: Session, store: str, on_hand: int, at: datetime) -> None:
    """A store repeating a figure we pushed to it (marked as such when it is recorded)."""
    location_id = session.scalar(select(Location.id).where(Location.key == "warehouse"))
    session.add(StockHistory(sku_id=_sku_id(session), location_id=location_id, store_id=_store_id(session, store),
                             on_hand=on_hand, available=on_hand, source_updated_at=at, recorded_at=at, echo=True))
    session.flush()


def _pace(session: Session, at: datetime = NOW) -> demand.Pace:
    return demand.paces(session, [_sku_id(session)], at)[_sku_id(session)]


@pytest.mark.parametrize("record_store", ["netsuite-erp", "shopify-main"])
def test_one_sale_reported_by_three_stores_and_echoed_back_is_one_unit(db_session: Session, catalog: Any,
                                                                       record_store: str) -> None:
    if record_store != "netsuite-erp":  # no ERP: the lowest-id store mapping the warehouse is its record
        db_session.execute(update(Store).where(Store.key == "netsuite-erp").values(enabled=False))
    for store in WAREHOUSE:  # a week ago every store agreed: 10 in the warehouse
        _report(db_session, store, 10, NOW - 7 * DAY)
    # Today one frame sells: the ERP books it, Shopify sold it, WooCommerce shows it too ...
    _report(db_session, "netsuite-erp", 9, NOW - 2 * DAY)
    _report(db_session, "shopify-main", 9, NOW - 2 * DAY + timedelta(seconds=3))
    _report(db_session, "woo-outlet", 9, NOW - 2 * DAY + timedelta(seconds=5))
    # ... and the figure we pushed to the record store comes back to us as an echo (a different
    # figure, pushed when the store lagged): not a sale, not a restock.
    _echo(db_session, record_store, 6, NOW - 2 * DAY + timedelta(seconds=9))
    _echo(db_session, "woo-outlet", 9, NOW - 2 * DAY + timedelta(seconds=9))
    pace = _pace(db_session)
    assert (pace.source, pace.units) == ("on_hand_history", 1)
    assert pace.record_stores == {"warehouse": record_store}
    # 1 unit two days before today, over the 7 days since the first reading (half-life 7 days)
    expected = weighted_velocity({(NOW - DAY * offset).date(): 1 if offset == 2 else 0 for offset in range(7)})
    assert pace.velocity == expected == Decimal("0.1547")
    assert demand.velocities(db_session, [_sku_id(db_session)], NOW) == {_sku_id(db_session): expected}


def test_a_locations_owner_is_its_record_when_no_erp_maps_it(db_session: Session, catalog: Any) -> None:
    record = {key: store for _, key, store in demand.record_stores(db_session).values()}
    assert record == {"warehouse": "netsuite-erp", "showroom": "netsuite-erp"}  # the ERP maps both
    db_session.execute(update(Store).where(Store.key == "netsuite-erp").values(enabled=False))
    record = {key: store for _, key, store in demand.record_stores(db_session).values()}
    assert record == {"warehouse": "shopify-main", "showroom": "shopify-main"}  # lowest id mapping each
    db_session.execute(update(Location).where(Location.key == "showroom")
                       .values(owner_store_id=_store_id(db_session, "showroom-pos")))
    record = {key: store for _, key, store in demand.record_stores(db_session).values()}
    assert record == {"warehouse": "shopify-main", "showroom": "showroom-pos"}  # the TOML's owner


#: A record-store history: (days before now, figure). Other stores repeat these figures late or
#: early; echoes carry any figure at all.
histories = st.lists(st.tuples(st.integers(0, 27), st.integers(-5, 40)), min_size=1, max_size=12)
noise = st.lists(st.tuples(st.sampled_from(["shopify-main", "woo-outlet", "netsuite-erp"]),
                           st.integers(0, 27), st.integers(0, 11), st.booleans(), st.integers(-5, 40)),
                 max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories, extra=noise)
def test_echoes_and_duplicate_reports_never_change_velocity(db_session: Session, catalog: Any,
                                                            history: list[tuple[int, int]],
                                                            extra: list[tuple[str, int, int, bool, int]]) -> None:
    savepoint = db_session.begin_nested()
    try:
        sku_id, location_id = _sku_id(db_session), db_session.scalar(
            select(Location.id).where(Location.key == "warehouse"))
        stores = {key: _store_id(db_session, key) for key in WAREHOUSE}
        readings = sorted(history)
        for days, figure in readings:
            db_session.add(StockHistory(sku_id=sku_id, location_id=location_id, store_id=stores["netsuite-erp"],
                                        on_hand=figure, available=figure, source_updated_at=NOW - days * DAY,
                                        recorded_at=NOW - days * DAY))
        db_session.flush()
        before = _pace(db_session)
        for store, index, seconds, is_echo, figure in extra:
            # an echo (any store, any figure) or another store repeating one of the record's figures
            days, repeated = readings[index % len(readings)]
            if store == "netsuite-erp" and not is_echo:
                continue  # that would be a new reading of the record itself, not a repeat
            db_session.add(StockHistory(
                sku_id=sku_id, location_id=location_id, store_id=stores[store],
                on_hand=figure if is_echo else repeated, available=figure if is_echo else repeated,
                source_updated_at=NOW - days * DAY + timedelta(seconds=seconds), recorded_at=NOW, echo=is_echo))
        db_session.flush()
        after = _pace(db_session)
        assert after == before
    finally:
        savepoint.rollback()


def _orders(session: Session, store: str, placed: list[tuple[datetime, int]]) -> None:
    records = [OrderRecord(  # type: ignore[arg-type]
        external_id=f"{store}-{n}", number=f"#{n}", placed_at=at, email=f"c{n}@example.com", phone=None,
        customer_name=f"Customer {n}",
        lines=[OrderLineRecord(external_id=f"{store}-{n}-1", sku=OAK, quantity=quantity, title="Oak futon frame",
                               price_cents=64900)]) for n, (at, quantity) in enumerate(placed)]
    record_orders(session, _store_id(session, store), records)


def test_recorded_order_lines_come_first(db_session: Session, catalog: Any) -> None:
    for store in WAREHOUSE:  # plenty in stock, and the ERP's figures show 20 gone ...
        _report(db_session, store, 50, NOW - 20 * DAY)
    _report(db_session, "netsuite-erp", 30, NOW - 5 * DAY)
    assert _pace(db_session).units == 20
    # ... but the orders we recorded are the sales: 3 on Shopify, 2 at the outlet, one too old to count
    _orders(db_session, "shopify-main", [(NOW - 40 * DAY, 9), (NOW - 10 * DAY, 2), (NOW - 3 * DAY, 1)])
    _orders(db_session, "woo-outlet", [(NOW - 3 * DAY + timedelta(hours=2), 2)])
    pace = _pace(db_session)
    assert (pace.source, pace.units, pace.window_days) == ("order_lines", 5, 29)
    start = (NOW - 28 * DAY).date()  # orders have been recorded for longer than the window
    sales = {start + timedelta(days=n): 0 for n in range(29)}
    sales[(NOW - 10 * DAY).date()] += 2
    sales[(NOW - 3 * DAY).date()] += 3
    assert pace.velocity == weighted_velocity(sales)
    assert (pace.since, pace.until) == (start, date(2026, 11, 25))


def test_a_negative_figure_is_promised_demand_and_no_reason_shows_a_negative(db_session: Session,
                                                                           catalog: Any) -> None:
    _report(db_session, "netsuite-erp", 0, NOW - DAY)
    _report(db_session, "shopify-main", -2, NOW - timedelta(minutes=5))  # sold 2 it does not have
    [need] = purchase_orders.needs_for(db_session, [_sku_id(db_session)], NOW)
    assert (need.on_hand, need.reported_shortfall, need.open_backorders, need.promised, need.position) == (0, 2, 0, 2, 0)
    [result] = [purchase_orders.plan(db_session, need.vendor_id, [need], catalog.policy, NOW)]
    line = purchase_orders.open_po_lines(db_session, need.vendor_id)[need.sku_id][0]
    reason = line.reason
    # need = reorder point 5 + 2 promised − 0 on hand − 0 on order = 7 (the usual lot is 6)
    assert (reason["on_hand"], reason["reported_shortfall"], reason["promised"], reason["need"]) == (0, 2, 2, 7)
    assert (line.quantity, reason["position"], reason["reorder_point"]) == (7, 0, 5)
    assert (reason["demand"]["source"], reason["demand"]["units"]) == ("on_hand_history", 0)
    assert result.added_sku_ids == [need.sku_id]

    def numbers(value: Any) -> list[int | Decimal]:
        if isinstance(value, dict):
            return [n for item in value.values() for n in numbers(item)]
        if isinstance(value, list):
            return [n for item in value for n in numbers(item)]
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        return []

    assert numbers(reason) and min(numbers(reason)) >= 0


def test_config_apply_records_a_locations_owner(db_session: Session, catalog: Any) -> None:
    from dataclasses import replace

    from domain.stock.catalog import apply_config

    owned = replace(catalog, locations=tuple(replace(loc, owner="netsuite-erp") if loc.key == "showroom" else loc
                                             for loc in catalog.locations))
    apply_config(db_session, owned)
    owners = dict(db_session.execute(select(Location.key, Location.owner_store_id)).tuples().all())
    assert owners == {"warehouse": None, "showroom": _store_id(db_session, "netsuite-erp")}
    apply_config(db_session, catalog)  # the key removed from the file: back to the default rule
    owners = dict(db_session.execute(select(Location.key, Location.owner_store_id)).tuples().all())
    assert owners == {"warehouse": None, "showroom": None}


def test_goods_received_after_an_oversell_are_counted_from_zero(db_session: Session, catalog: Any) -> None:
    _report(db_session, "shopify-main", -2, NOW - timedelta(minutes=5))  # 2 sold beyond stock
    [need] = purchase_orders.needs_for(db_session, [_sku_id(db_session)], NOW)
    result = purchase_orders.plan(db_session, need.vendor_id, [need], catalog.policy, NOW)
    purchase_orders.close_due_windows(db_session, NOW + timedelta(hours=1), catalog.policy,
                                 routes=catalog.notifications.routes)
    assert result.purchase_order_id is not None
    received = purchase_orders.receive(db_session, result.purchase_order_id, None, NOW + timedelta(days=21))
    # 7 arrive (reorder point 5 + 2 promised): 7 on hand, from which the 2 promised are then served,
    # not 5 (−2 + 7) from which they would be served again
    levels = db_session.execute(select(StockHistory.on_hand).where(StockHistory.store_id == _store_id(
        db_session, "netsuite-erp")).order_by(StockHistory.id.desc()).limit(1)).scalar_one()
    assert (received.received, levels) == ({OAK: 7}, 7)


@pytest.mark.parametrize("arrival", [("netsuite-erp", "shopify-main", "woo-outlet"),
                                     ("woo-outlet", "shopify-main", "netsuite-erp")])
def test_the_same_history_gives_the_same_pace_whichever_store_reports_first(db_session: Session, catalog: Any,
                                                                            arrival: tuple[str, ...]) -> None:
    for store in arrival:  # the stores' messages arrive in either order; their own clocks agree
        _report(db_session, store, 12, NOW - 9 * DAY)
        _report(db_session, store, 9, NOW - 4 * DAY)
        _report(db_session, store, 8, NOW - DAY)
    pace = _pace(db_session)
    assert (pace.source, pace.units, pace.window_days, pace.record_stores) == (
        "on_hand_history", 4, 9, {"warehouse": "netsuite-erp"})
    [need] = purchase_orders.needs_for(db_session, [_sku_id(db_session)], NOW)
    assert (need.on_hand, need.velocity) == (8, pace.velocity)
