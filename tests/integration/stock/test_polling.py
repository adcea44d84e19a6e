"""Polling: pages stored with cursors saved, one poll per store at a time, each slot dispatched once."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connectors.registry import build_connector
from connectors.types import ConnectorConfig
from domain.stock import poll_schedule
from flows import poll as sync
from domain.core.clock import utcnow
from domain.core.db import get_sessionmaker
from domain.core.models import Location, Sku, StockLevel, Store, StoreLocation
from sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def shop(sandbox: SandboxServer, db_session: Session, catalog: object) -> tuple[int, str]:
    codes = list(db_session.scalars(select(Sku.code).order_by(Sku.code)))
    base = f"{sandbox.base_url}/shopify/poll-{time.monotonic_ns()}"
    requests.post(f"{base}/_admin/seed", json={"reset": True, "items": [
        {"sku": code, "available": 7} for code in codes]}, timeout=10).raise_for_status()
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    db_session.execute(update(Store).where(Store.id == store_id).values(base_url=base))
    db_session.commit()
    return store_id, base  # type: ignore[return-value]


def _connector(base: str, slow_s: float = 0.0) -> object:
    connector = build_connector("shopify", ConnectorConfig(
        store_key="shopify-main", base_url=base, credentials={"access_token": "shpat_sandbox"},
        options={"page_size": 4, "location_ids": ["655441491"]}))
    if slow_s:
        original = connector.fetch_stock

        def slow(since: str | None) -> Iterator[object]:
            for page in original(since):
                time.sleep(slow_s)
                yield page

        connector.fetch_stock = slow  # type: ignore[method-assign]
    return connector


def test_full_poll_stores_every_page_and_saves_the_cursor(shop: tuple[int, str], db_session: Session) -> None:
    store_id, base = shop
    changed: list[int] = []
    report = sync.poll(get_sessionmaker(), _connector(base), store_id, "test-owner", full=True,  # type: ignore[arg-type]
                       stock_cursor=None, order_cursor=None, on_changed=changed.extend)
    assert report.pages >= 8 and report.records == 30 and len(set(changed)) == 30
    assert db_session.scalar(select(func.count()).select_from(StockLevel)) == 30
    store = db_session.get(Store, store_id)
    assert store is not None and store.stock_cursor and store.lease_owner is None
    assert store.last_full_sync_at is not None


def test_two_polls_of_one_store_never_overlap(shop: tuple[int, str]) -> None:
    store_id, base = shop
    reports: list[sync.PollReport] = []

    def run(owner: str) -> None:
        reports.append(sync.poll(get_sessionmaker(), _connector(base, slow_s=0.05), store_id, owner,  # type: ignore[arg-type]
                                 full=True, stock_cursor=None, order_cursor=None, on_changed=lambda _: None))

    threads = [threading.Thread(target=run, args=(f"owner-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.skipped for r in reports) == [False, True], "exactly one poll ran"


def test_an_expired_lease_is_taken_over(shop: tuple[int, str], db_session: Session) -> None:
    store_id, _ = shop
    assert poll_schedule.acquire_lease(db_session, store_id, "crashed-poll")
    assert not poll_schedule.acquire_lease(db_session, store_id, "second")
    db_session.execute(update(Store).where(Store.id == store_id)
                       .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert poll_schedule.acquire_lease(db_session, store_id, "second")
    assert not poll_schedule.renew_lease(db_session, store_id, "crashed-poll"), "the old owner must stop"


def test_each_due_slot_is_dispatched_once(db_session: Session, catalog: object) -> None:
    barrier = threading.Barrier(4)
    claimed: list[int] = []

    def dispatcher() -> None:
        barrier.wait()
        with get_sessionmaker()() as session, session.begin():
            claimed.extend(due.store_id for due in poll_schedule.claim_due(session))

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(db_session.scalars(select(Store.id)))
    with get_sessionmaker()() as session, session.begin():
        assert poll_schedule.claim_due(session) == [], "nothing is due again before the interval passes"


def test_a_shop_with_55_locations_still_polls_incrementally(shop: tuple[int, str], db_session: Session) -> None:
    store_id, base = shop
    locations = requests.post(f"{base}/_admin/locations", json={"count": 54}, timeout=10).json()["location_ids"]
    assert len(locations) == 55
    # The showroom is the shop's 55th location: its levels come back in the second chunk of 50 ids.
    db_session.execute(update(StoreLocation).where(StoreLocation.store_id == store_id,
                                                   StoreLocation.external_id == "655441492")
                       .values(external_id=locations[-1]))
    db_session.commit()
    connector = build_connector("shopify", ConnectorConfig(
        store_key="shopify-main", base_url=base, credentials={"access_token": "shpat_sandbox"},
        options={"page_size": 50}))
    sync.poll(get_sessionmaker(), connector, store_id, "full", full=True, stock_cursor=None,  # type: ignore[arg-type]
              order_cursor=None, on_changed=lambda _: None)
    db_session.expire_all()
    cursor = db_session.scalar(select(Store.stock_cursor).where(Store.id == store_id))
    assert cursor is not None
    codes = list(db_session.scalars(select(Sku.code).order_by(Sku.code)))[:2]
    requests.post(f"{base}/_admin/clock", json={"advance_s": 60}, timeout=10).raise_for_status()
    requests.post(f"{base}/_admin/set_stock", json={"sku": codes[0], "available": 2}, timeout=10).raise_for_status()
    requests.post(f"{base}/_admin/set_stock", json={"sku": codes[1], "available": 5, "location_id": locations[-1]},
                  timeout=10).raise_for_status()

    report = sync.poll(get_sessionmaker(), connector, store_id, "incremental", full=False,  # type: ignore[arg-type]
                       stock_cursor=cursor, order_cursor=None, on_changed=lambda _: None)

    db_session.expire_all()
    figures = dict(db_session.execute(
        select(Sku.code + "@" + Location.key, StockLevel.available).join(Sku, Sku.id == StockLevel.sku_id)
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.store_id == store_id, Sku.code.in_(codes))).all())
    assert figures == {f"{codes[0]}@warehouse": 2, f"{codes[1]}@warehouse": 7, f"{codes[1]}@showroom": 5}
    assert report.records >= 2 and report.unknown == 0
    assert db_session.scalar(select(Store.stock_cursor).where(Store.id == store_id)) > cursor
