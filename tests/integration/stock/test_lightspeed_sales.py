"""Lightspeed X-Series sales as demand, end to end: the stand-in's till rings up a sale over HTTP,
its signed ``sale.update`` reaches our web receiver (real HTTP, stored in the inbox of the real
PostgreSQL), the drain applies it, and the poll reads ``/api/2.0/sales`` by version.

A sale counts once however it arrives (webhook, redelivered webhook, poll); a voided sale is
demand no more; a sale beyond the outlet's stock leaves the outlet negative, which detection reads
as a backorder; the outlet's reorder point and restock level become the showroom's threshold.
"""
from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connectors.registry import build_connector
from connectors.types import ConnectorConfig
from domain.core.clock import utcnow
from domain.core.db import get_sessionmaker
from domain.core.env_settings import get_settings
from domain.core.models import (
    Backorder, InboxEvent, Location, LocationThreshold, Order, OrderLine, Sku, SkuTransition, StockLevel, Store,
)
from domain.purchasing.demand import Pace, paces
from domain.stock import detection, webhook_inbox
from flows import poll as sync
from flows.inbound import apply_events
from sandbox.lightspeed import DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN
from sandbox.server import SandboxServer

OUTLET = "0a1b2c3d-4e5f-11ef-9a6b-0242ac120002"  # the showroom POS outlet in the example
STORE = "showroom-pos"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    app = FastAPI()
    for name in ("sandbox.control", "sandbox.lightspeed"):
        importlib.import_module(name).install(app)
    with SandboxServer(app=app) as server:
        yield server


@dataclass
class Pos:
    """One retailer on the stand-in, wired to the example's ``showroom-pos`` store."""

    root: str
    store_id: int
    connector: Any

    def admin(self, path: str, body: dict[str, Any]) -> Any:
        response = requests.post(f"{self.root}/_admin/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def ring_up(self, code: str, quantity: int, status: str = "CLOSED") -> dict[str, Any]:
        return self.admin("create_order", {"status": status, "lines": [{"sku": code, "quantity": quantity,
                                                                        "price": "450.00"}]})

    def poll(self, full: bool) -> sync.PollReport:
        with get_sessionmaker()() as session:
            store = session.get(Store, self.store_id)
            assert store is not None
            cursors = store.stock_cursor, store.order_cursor
        return sync.poll(get_sessionmaker(), self.connector, self.store_id, "test-poll", full=full,
                         stock_cursor=cursors[0], order_cursor=cursors[1], on_changed=lambda ids: None)

    def drain(self) -> Any:
        with get_sessionmaker()() as session, session.begin():
            return apply_events(session, self.store_id, self.connector, webhook_inbox.claim_pending(session, STORE))


@pytest.fixture
def pos(sandbox: SandboxServer, db_session: Session, catalog: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pos]:
    """A fresh retailer (the showroom outlet: MAT-MEM-TWIN 1 with reorder point 2 and restock level
    5, MAT-MEM-FULL 8), the store pointed at it, and its ``sale.update`` and ``inventory.update``
    webhooks going to our web receiver."""
    from workers.web import create_app

    root = f"{sandbox.base_url}/lightspeed/pos-{uuid.uuid4().hex[:8]}"
    requests.post(f"{root}/_admin/seed", timeout=10, json={"outlet_ids": [OUTLET], "items": [
        {"sku": "MAT-MEM-TWIN", "current_amount": 1, "reorder_point": 2, "reorder_amount": 5},
        {"sku": "MAT-MEM-FULL", "current_amount": 8}]}).raise_for_status()
    store_id = int(db_session.scalar(select(Store.id).where(Store.key == STORE)))  # type: ignore[arg-type]
    db_session.execute(update(Store).where(Store.id == store_id).values(base_url=root))
    db_session.commit()
    monkeypatch.setenv("LIGHTSPEED_TOKEN", DEFAULT_TOKEN)
    monkeypatch.setenv("LIGHTSPEED_WEBHOOK_SECRET", DEFAULT_CLIENT_SECRET)
    get_settings.cache_clear()
    connector = build_connector("lightspeed", ConnectorConfig(
        store_key=STORE, base_url=root, credentials={"access_token": DEFAULT_TOKEN},
        webhook_secret=DEFAULT_CLIENT_SECRET, timeout_s=5.0))
    with SandboxServer(app=create_app(), health_path="/readyz") as web:
        requests.post(f"{root}/_admin/webhooks", timeout=10, json={
            "url": f"{web.base_url}/webhooks/{STORE}", "types": ["sale.update", "inventory.update"]}).raise_for_status()
        yield Pos(root, store_id, connector)
    get_settings.cache_clear()


def sku_id(session: Session, code: str) -> int:
    return int(session.scalar(select(Sku.id).where(Sku.code == code)))  # type: ignore[arg-type]


def demand(session: Session, code: str) -> Pace:
    return paces(session, [sku_id(session, code)], utcnow())[sku_id(session, code)]


def showroom_on_hand(session: Session, code: str) -> int | None:
    showroom = session.scalar(select(Location.id).where(Location.key == "showroom"))
    return session.scalar(select(StockLevel.on_hand).where(
        StockLevel.sku_id == sku_id(session, code), StockLevel.location_id == showroom))


def test_a_till_sale_counts_as_demand_once_by_webhook_redelivery_and_poll(pos: Pos, db_session: Session) -> None:
    """Two units of MAT-MEM-TWIN sold with one on the shelf: X-Series goes to -1. The sale is
    demand of two units, once; nothing is allocated again (the till already took the units); the
    negative outlet is a backorder to detection."""
    pos.poll(full=True)  # learns the listings the sale's product ids are resolved through
    sale = pos.ring_up("MAT-MEM-TWIN", 2)
    assert [(h["topic"], h["status"]) for h in sale["webhooks"]] == [("sale.update", 200), ("inventory.update", 200)]

    drained = pos.drain()
    assert drained.quarantined == [] and len(drained.order_ids) == 1
    db_session.expire_all()
    [order] = db_session.scalars(select(Order).where(Order.store_id == pos.store_id)).all()
    assert (order.external_id, order.status) == (sale["sale"]["id"], "closed")
    [line] = db_session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    assert (line.sku_id, line.quantity) == (sku_id(db_session, "MAT-MEM-TWIN"), 2), "product id → the SKU's listing"
    assert (line.allocated_qty, line.backordered_qty) == (0, 0), "the till took the units: nothing held twice"
    assert showroom_on_hand(db_session, "MAT-MEM-TWIN") == -1
    pace = demand(db_session, "MAT-MEM-TWIN")
    assert (pace.source, pace.units) == ("order_lines", 2)

    assert pos.admin("redeliver", {"index": 0, "times": 2})["statuses"] == [200, 200]
    assert pos.drain().done == 0, "a redelivered sale.update is a duplicate: nothing new stored"
    report = pos.poll(full=False)
    assert report.orders == 1, "the poll reads the same sale by version"
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Order).where(Order.store_id == pos.store_id)) == 1
    assert db_session.scalar(select(func.count()).select_from(OrderLine)) == 1
    assert db_session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.source == STORE)) == 2
    assert demand(db_session, "MAT-MEM-TWIN").units == 2, "counted once"
    assert db_session.scalar(select(func.count()).select_from(Backorder)) == 0

    with get_sessionmaker()() as session, session.begin():
        detection.evaluate(session, [sku_id(session, "MAT-MEM-TWIN")])
    db_session.expire_all()
    assert db_session.scalar(select(Sku.state).where(Sku.code == "MAT-MEM-TWIN")) == "BACKORDER"
    numbers = db_session.scalar(select(SkuTransition.numbers).where(SkuTransition.to_state == "BACKORDER"))
    assert (numbers["available"], numbers["oversold"]) == (0, 1), "one unit sold beyond the shelf"


def test_a_voided_sale_is_demand_no_more(pos: Pos, db_session: Session) -> None:
    """Voided at the till: the poll reads it back cancelled, its units return to the outlet, and it
    leaves the SKU's demand; the webhook copy of the void changes nothing more."""
    pos.poll(full=True)
    sale = pos.ring_up("MAT-MEM-FULL", 3)
    pos.drain()
    assert demand(db_session, "MAT-MEM-FULL").units == 3

    voided = pos.admin("update_sale", {"id": sale["sale"]["id"], "status": "VOIDED"})
    assert [(h["topic"], h["status"]) for h in voided["webhooks"]] == [("sale.update", 200), ("inventory.update", 200)]
    pos.poll(full=False)
    db_session.expire_all()
    assert db_session.scalar(select(Order.status).where(Order.external_id == sale["sale"]["id"])) == "cancelled"
    assert demand(db_session, "MAT-MEM-FULL").units == 0
    assert showroom_on_hand(db_session, "MAT-MEM-FULL") == 8, "the units are back"

    assert pos.drain().quarantined == []
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Order)) == 1
    assert demand(db_session, "MAT-MEM-FULL").units == 0


def test_sales_are_read_incrementally_by_version(pos: Pos, db_session: Session) -> None:
    """Each poll asks for the sales after the version it saved and gets only those; a layby is
    demand that is still open at the till, under its own status."""
    pos.poll(full=True)
    first = pos.ring_up("MAT-MEM-FULL", 1)
    assert pos.poll(full=False).orders == 1
    db_session.expire_all()
    saved = db_session.scalar(select(Store.order_cursor).where(Store.id == pos.store_id))
    assert saved == str(first["sale"]["version"])

    pos.ring_up("MAT-MEM-FULL", 3)
    layby = pos.ring_up("MAT-MEM-FULL", 1, status="LAYBY")
    assert pos.poll(full=False).orders == 2, "only the two new sales"
    assert pos.poll(full=False).orders == 0, "nothing after the last version"
    asked = [r["query"].get("after") for r in requests.get(
        f"{pos.root}/_admin/requests", params={"path_contains": "/2.0/sales"}, timeout=10).json()["requests"]]
    newest = str(layby["sale"]["version"])
    assert asked[-3:] == [saved, newest, newest], "after the saved version, then after the page's version.max"

    db_session.expire_all()
    statuses = sorted(db_session.scalars(select(Order.status).where(Order.store_id == pos.store_id)))
    assert statuses == ["closed", "closed", "layby"]
    assert db_session.scalar(select(Order.status).where(Order.external_id == layby["sale"]["id"])) == "layby"
    assert demand(db_session, "MAT-MEM-FULL").units == 5
    assert db_session.scalar(select(func.count()).select_from(Backorder)) == 0


def test_the_outlets_reorder_point_and_restock_level_become_the_showrooms_threshold(
        pos: Pos, db_session: Session) -> None:
    """Reorder point 2 and restock level 5 at the showroom outlet: the poll imports both; the
    showroom's LOW alert shows the restock level; the back office clearing it clears it here."""
    pos.poll(full=True)
    twin, showroom = sku_id(db_session, "MAT-MEM-TWIN"), db_session.scalar(
        select(Location.id).where(Location.key == "showroom"))
    row = db_session.scalar(select(LocationThreshold).where(LocationThreshold.sku_id == twin,
                                                            LocationThreshold.location_id == showroom))
    assert row is not None and (row.imported_threshold, row.imported_restock_level) == (2, 5)
    assert row.imported_from_store_id == pos.store_id

    with get_sessionmaker()() as session, session.begin():
        detection.evaluate(session, [twin])
    low = db_session.scalar(select(SkuTransition.numbers).where(SkuTransition.to_state == "LOCATION_LOW"))
    assert low is not None and low["location"]["available"] == 1
    assert (low["location"]["threshold"], low["location"]["restock_level"]) == (2, 5)

    changed = pos.admin("set_stock", {"sku": "MAT-MEM-TWIN", "reorder_amount": 0})
    assert [h["status"] for h in changed["webhooks"]] == [200]
    assert pos.drain().quarantined == []
    db_session.expire_all()
    assert (row.imported_threshold, row.imported_restock_level) == (2, None), "0 there is none here"
