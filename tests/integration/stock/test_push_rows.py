"""Pending pushes as rows (coalesced, one in flight, retried, swept) and the echo of our own
writes, on the real database; the worker-driven flow is in test_channel_push.py."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import StockRecord
from domain.core.models import ChannelPush, PushedLevel, Sku, StockHistory, StockLevel, Store, StoreSyncLag
from domain.stock import propagation, pushes
from domain.stock.levels import record_batch

NOW = datetime.now(UTC).replace(microsecond=0)
CODE = "FUT-FRM-OAK-FULL"


def _ids(session: Session) -> tuple[int, int, int, int]:
    sku = session.scalar(select(Sku.id).where(Sku.code == CODE))
    shop = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    woo = session.scalar(select(Store.id).where(Store.key == "woo-outlet"))
    netsuite = session.scalar(select(Store.id).where(Store.key == "netsuite-erp"))
    return sku, shop, woo, netsuite  # type: ignore[return-value]


def _listed(session: Session) -> tuple[int, int, int]:
    """The SKU listed on Shopify (11 at the warehouse), WooCommerce (12) and the ERP (read-only), whose
    newer count of 10 is the truth: both channels are due its figure."""
    sku, shop, woo, netsuite = _ids(session)
    record_batch(session, shop, [StockRecord(external_id="v1", sku=CODE, inventory_item_id="i1",
                                             location_external_id="655441491", available=11, updated_at=NOW)])
    record_batch(session, woo, [StockRecord(external_id="p1", sku=CODE, on_hand=12, available=12, updated_at=NOW)])
    record_batch(session, netsuite, [StockRecord(external_id="n1", sku=CODE, location_external_id="1", on_hand=10,
                                                 available=10, updated_at=NOW + timedelta(seconds=1))])
    session.commit()
    return sku, shop, woo


def test_changes_coalesce_into_one_due_row_per_selling_store(db_session: Session, catalog: Any) -> None:
    sku, shop, woo = _listed(db_session)
    first = pushes.schedule(db_session, [sku], NOW, timedelta(seconds=1))
    assert [(d.store_id, d.due_at) for d in first] == [(shop, NOW + timedelta(seconds=1)),
                                                       (woo, NOW + timedelta(seconds=1))], "not the ERP"
    for n in range(1, 50):
        pushes.schedule(db_session, [sku], NOW + timedelta(milliseconds=10 * n), timedelta(seconds=1))
    rows = db_session.scalars(select(ChannelPush).where(ChannelPush.sku_id == sku)).all()
    assert len(rows) == 2 and {r.due_at for r in rows} == {NOW + timedelta(seconds=1)}, "the first change sets when"
    assert {r.dirty_since for r in rows} == {NOW}

    assert pushes.claim(db_session, sku, shop, NOW) is None, "not due yet"
    claimed = pushes.claim(db_session, sku, shop, NOW + timedelta(seconds=1))
    assert claimed is not None and claimed.covering_since == NOW
    assert pushes.claim(db_session, sku, shop, NOW + timedelta(seconds=2)) is None, "one push in flight"
    during = pushes.schedule(db_session, [sku], NOW + timedelta(seconds=2), timedelta(seconds=1))
    assert [d.store_id for d in during] == [woo], "the push in flight sends the next one itself"
    next_at = pushes.finish(db_session, claimed, NOW + timedelta(seconds=4), writes=2, backorder=False)
    assert next_at == NOW + timedelta(seconds=3), "a change arrived while it ran: due again"
    lag = db_session.get(StoreSyncLag, shop)
    assert lag is not None and lag.delay_s == 4.0 and lag.samples == 1, "first change recorded → acknowledged"
    again = pushes.claim(db_session, sku, shop, NOW + timedelta(seconds=3))
    assert again is not None and again.covering_since == NOW + timedelta(seconds=2)
    assert pushes.finish(db_session, again, NOW + timedelta(seconds=3), 1, False) is None
    db_session.expire_all()
    lag = db_session.get(StoreSyncLag, shop)
    assert lag is not None and lag.samples == 2 and lag.last_s == 1.0
    assert lag.delay_s == pytest.approx(4.0 + pushes.LAG_SMOOTHING * (1.0 - 4.0)), "smoothed, not replaced"


def test_failures_back_off_and_the_sweeper_finds_lost_messages(db_session: Session, catalog: Any) -> None:
    sku, shop, woo = _listed(db_session)
    pushes.schedule(db_session, [sku], NOW, timedelta(0))
    claimed = pushes.claim(db_session, sku, shop, NOW)
    assert claimed is not None
    due_at, attempts = pushes.fail(db_session, claimed, NOW, "TransientError: 503", retry=True)
    assert attempts == 1 and due_at == NOW + timedelta(seconds=2)
    row = db_session.scalar(select(ChannelPush).where(ChannelPush.sku_id == sku, ChannelPush.store_id == shop))
    assert row is not None and row.last_error == "TransientError: 503" and row.dirty_since == NOW
    assert pushes.stranded(db_session, NOW + timedelta(seconds=5)) == [], "not overdue yet"
    overdue = NOW + pushes.STRANDED_AFTER + timedelta(seconds=5)
    assert sorted(pushes.stranded(db_session, overdue)) == [(sku, shop), (sku, woo)]
    held = pushes.claim(db_session, sku, woo, NOW)
    assert held is not None
    assert pushes.stranded(db_session, overdue) == [(sku, shop)], "a push in flight is not stranded"
    assert (sku, woo) in pushes.stranded(db_session, NOW + pushes.LEASE + timedelta(seconds=1)), "until its lease ends"


def test_sweeper_task_resends_stranded_rows(db_session: Session, catalog: Any, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    from tasks.channels import sweep

    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr("tasks.base.send_all", lambda messages: sent.extend(
        (task.name, tuple(args)) for task, args, _options in messages))
    sku, shop, woo = _listed(db_session)
    pushes.schedule(db_session, [sku], NOW - timedelta(minutes=5), timedelta(0))
    db_session.commit()
    assert sweep.apply(throw=True).result == 2
    assert sorted(sent) == [("tasks.channels.push_store", (shop,)), ("tasks.channels.push_store", (woo,))]


def test_our_own_echo_is_recorded_once_and_is_never_news(db_session: Session, catalog: Any) -> None:
    sku, _shop, woo = _listed(db_session)
    warehouse = db_session.scalar(select(StockLevel.location_id).where(StockLevel.store_id == woo))
    pushes.expect_echo(db_session, sku, woo, [(warehouse, 7, 3)], NOW)
    echo = StockRecord(external_id="p1", sku=CODE, on_hand=7, available=7, updated_at=NOW + timedelta(seconds=1))
    assert record_batch(db_session, woo, [echo]).changed_sku_ids == [], "the webhook may beat the push's answer"
    pushes.save_levels(db_session, sku, woo, [(warehouse, 7, 3)], NOW + timedelta(seconds=1))
    polled = StockRecord(external_id="p1", sku=CODE, on_hand=7, available=7, updated_at=NOW + timedelta(seconds=1))
    assert record_batch(db_session, woo, [polled]).changed_sku_ids == [], "a poll reading it again"

    def woo_level() -> int:
        db_session.expire_all()
        return db_session.scalar(select(StockLevel.available).where(StockLevel.store_id == woo))  # type: ignore[return-value]

    assert woo_level() == 12, "an echo is not a reading of the truth"
    history = db_session.execute(select(StockHistory.available, StockHistory.echo).where(
        StockHistory.store_id == woo).order_by(StockHistory.id)).all()
    assert [tuple(h) for h in history] == [(12, False), (7, True)], "the echo is in history once, marked"

    sale = StockRecord(external_id="p1", sku=CODE, on_hand=6, available=6, updated_at=NOW + timedelta(seconds=5))
    assert woo_level() == 12
    assert record_batch(db_session, woo, [sale]).changed_sku_ids == [sku]
    assert woo_level() == 6 + 3, "a sale on the channel counts down from what we wrote, 3 short of the truth"
    back = StockRecord(external_id="p1", sku=CODE, on_hand=7, available=7, updated_at=NOW + timedelta(seconds=9))
    assert record_batch(db_session, woo, [back]).changed_sku_ids == [sku], "after a real reading, 7 is real too"
    level = db_session.get(PushedLevel, (sku, woo, warehouse))
    assert level is not None and level.live is False and level.awaiting == []


def test_a_write_that_never_happened_does_not_swallow_a_real_reading(db_session: Session, catalog: Any) -> None:
    """A worker killed between registering the echo it expects and sending the write leaves that
    figure awaited; once the store reports anything else there, a later real reading equal to it
    is real (a stale expectation once swallowed the newest figure of a webhook storm)."""
    sku, _shop, woo = _listed(db_session)
    warehouse = db_session.scalar(select(StockLevel.location_id).where(StockLevel.store_id == woo))
    pushes.expect_echo(db_session, sku, woo, [(warehouse, 7, 0)], NOW)  # the write was never sent
    sale = StockRecord(external_id="p1", sku=CODE, on_hand=9, available=9, updated_at=NOW + timedelta(seconds=2))
    assert record_batch(db_session, woo, [sale]).changed_sku_ids == [sku]
    level = db_session.get(PushedLevel, (sku, woo, warehouse))
    assert level is not None and level.awaiting == [], "the store moved past our writes"
    real = StockRecord(external_id="p1", sku=CODE, on_hand=7, available=7, updated_at=NOW + timedelta(seconds=4))
    assert record_batch(db_session, woo, [real]).changed_sku_ids == [sku]
    db_session.expire_all()
    assert db_session.scalar(select(StockLevel.available).where(StockLevel.store_id == woo)) == 7


def test_a_burst_of_pushes_may_overtake_its_echoes(db_session: Session, catalog: Any) -> None:
    sku, _shop, woo = _listed(db_session)
    warehouse = db_session.scalar(select(StockLevel.location_id).where(StockLevel.store_id == woo))
    for figure in (9, 8, 7):
        pushes.expect_echo(db_session, sku, woo, [(warehouse, figure, 1)], NOW)
        pushes.save_levels(db_session, sku, woo, [(warehouse, figure, 1)], NOW)
    for n, figure in enumerate((9, 8, 7)):
        late = StockRecord(external_id="p1", sku=CODE, on_hand=figure, available=figure,
                           updated_at=NOW + timedelta(seconds=n))
        assert record_batch(db_session, woo, [late]).changed_sku_ids == [], f"the echo of {figure}, late"
    assert db_session.scalar(select(StockLevel.available).where(StockLevel.store_id == woo)) == 12


def test_sellable_is_available_less_the_buffer(db_session: Session, catalog: Any) -> None:
    sku, shop, woo = _listed(db_session)
    store = db_session.get(Store, woo)
    assert store is not None
    store.options = {**store.options, "buffer_floor": 2}
    pushes.record_lag(db_session, woo, 30.0, NOW)
    db_session.flush()
    planned = propagation.plan_store(db_session, sku, woo, NOW)
    assert planned is not None
    buffer = planned.buffer
    assert buffer.floor == 2 and buffer.delay_s == 30.0
    assert buffer.units == buffer.lag_units + 2
    [push] = planned.pushes
    assert (push.before_buffer, push.available, push.withheld) == (10, 10 - buffer.units, buffer.units)
    assert planned.buffer.as_dict()["rule"].startswith("ceil(")


@pytest.mark.parametrize(("velocity", "delay", "floor", "units"), [
    ("0", 30.0, 0, 0), ("10", None, 1, 1), ("10", 3.0, 0, 1), ("86400", 2.5, 0, 3), ("43200", 2.0, 2, 3),
])
def test_the_buffer_rounds_the_units_sold_during_the_lag_up(velocity: str, delay: float | None, floor: int,
                                                            units: int) -> None:
    assert propagation.Buffer(Decimal(velocity), delay, 1, floor).units == units


def test_buffer_floor_option() -> None:
    assert propagation.buffer_floor({"buffer_floor": 3}) == 3
    assert propagation.buffer_floor({}) == 0
    assert propagation.buffer_floor(None) == 0


def test_a_store_alone_at_its_locations_already_shows_the_truth(db_session: Session, catalog: Any) -> None:
    """One channel, nothing else at its location, no floor, no promised units: nothing to write."""
    sku, shop, _woo, _netsuite = _ids(db_session)
    record_batch(db_session, shop, [StockRecord(external_id="v1", sku=CODE, inventory_item_id="i1",
                                                location_external_id="655441491", available=10, updated_at=NOW,
                                                backorders_allowed=False)])
    assert pushes.schedule(db_session, [sku], NOW) == []
    db_session.execute(Sku.__table__.update().where(Sku.id == sku).values(state="BACKORDER"))
    assert [d.store_id for d in pushes.schedule(db_session, [sku], NOW)] == [shop], "its backorder mode must change"


def test_stores_showing_the_latest_figure_with_no_lag_measured_need_nothing(db_session: Session,
                                                                            catalog: Any) -> None:
    sku, shop, woo = _listed(db_session)
    db_session.execute(ChannelPush.__table__.delete())
    for store_id in (shop, woo):
        db_session.execute(Store.__table__.update().where(Store.id == store_id).values(options={}))
    record_batch(db_session, shop, [StockRecord(external_id="v1", sku=CODE, inventory_item_id="i1",
                                                location_external_id="655441491", available=10,
                                                updated_at=NOW, backorders_allowed=False)])
    record_batch(db_session, woo, [StockRecord(external_id="p1", sku=CODE, on_hand=10, available=10, updated_at=NOW,
                                               backorders_allowed=False)])
    assert pushes.schedule(db_session, [sku], NOW) == [], "every channel already shows the warehouse's 10"
    record_batch(db_session, shop, [StockRecord(external_id="v1", sku=CODE, inventory_item_id="i1",
                                                location_external_id="655441491", available=9,
                                                updated_at=NOW + timedelta(seconds=5))])
    assert [d.store_id for d in pushes.schedule(db_session, [sku], NOW)] == [woo], "a Shopify sale: Woo shows 10"
    db_session.execute(ChannelPush.__table__.delete())
    pushes.record_lag(db_session, shop, 2.0, NOW)
    assert [d.store_id for d in pushes.schedule(db_session, [sku], NOW)] == [shop, woo], "a measured lag may buffer"


def test_a_burst_of_changes_wakes_one_drain_per_store(db_session: Session, catalog: Any) -> None:
    from domain.core import coalesce
    from tasks.base import UnitOfWork
    from tasks.channels import enqueue_due, wake_key

    _sku, shop, woo = _listed(db_session)
    for store_id in (shop, woo):
        coalesce.clear(wake_key(store_id))
    due = [pushes.Due(sku_id, store_id, NOW + timedelta(seconds=1)) for sku_id in range(1, 31) for store_id in (shop, woo)]
    uow = UnitOfWork(db_session)
    enqueue_due(uow, due, NOW)
    assert [(task.name, args, options) for task, args, options in uow.after_commit] == [
        ("tasks.channels.push_store", (shop,), {"countdown": 1.0}),
        ("tasks.channels.push_store", (woo,), {"countdown": 1.0})], "60 due rows, one drain per store"
    again = UnitOfWork(db_session)
    enqueue_due(again, due, NOW)
    assert again.after_commit == [], "a drain is on its way"
    for store_id in (shop, woo):
        coalesce.clear(wake_key(store_id))


def test_a_push_that_cannot_start_is_kept_on_its_row_and_alerted(db_session: Session, catalog: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """WooCommerce's credentials are not set: the row keeps the error, staff get one alert."""
    from domain.core.models import Alert, DeadLetter
    from tasks.channels import push_due

    monkeypatch.setattr("tasks.base.send_all", lambda messages: None)
    monkeypatch.delenv("WOO_CONSUMER_KEY", raising=False)
    sku, _shop, woo = _listed(db_session)
    pushes.schedule(db_session, [sku], datetime.now(UTC) - timedelta(seconds=5), timedelta(0))
    db_session.commit()
    assert push_due.apply(args=[sku, woo], throw=True).result == 0
    db_session.expire_all()
    row = db_session.scalar(select(ChannelPush).where(ChannelPush.sku_id == sku, ChannelPush.store_id == woo))
    assert row is not None and row.attempts == 1 and row.lease_until is None and row.due_at is None
    assert "WOO_CONSUMER_KEY" in (row.last_error or "")
    [alert] = db_session.scalars(select(Alert).where(Alert.kind == "channel.push_failed")).all()
    assert alert.sku_id == sku and alert.store_id == woo and "WOO_CONSUMER_KEY" in alert.message
    [dead] = db_session.scalars(select(DeadLetter)).all()
    assert (dead.task_name, dead.args) == ("tasks.channels.push", [sku, woo]), "re-driven as a push"


def test_a_push_that_died_in_flight_is_drained_again(db_session: Session, catalog: Any) -> None:
    sku, shop, _woo = _listed(db_session)
    pushes.schedule(db_session, [sku], NOW, timedelta(0))
    assert pushes.claim(db_session, sku, shop, NOW) is not None
    assert sku not in pushes.due_for_store(db_session, shop, NOW + timedelta(seconds=1), 10), "in flight"
    later = NOW + pushes.LEASE + timedelta(seconds=1)
    assert pushes.due_for_store(db_session, shop, later, 10) == [sku], "its worker died: the lease ran out"
    again = pushes.claim(db_session, sku, shop, later)
    assert again is not None and again.covering_since == NOW, "the lost push's changes are still covered"
