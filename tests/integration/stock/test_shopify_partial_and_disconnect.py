"""Shopify's ``orders/partially_fulfilled`` and ``inventory_levels/disconnect`` with a real worker:
the product's web app against the Shopify stand-in, which sends each signed. Each is stored once
(a redelivery is a duplicate), a tampered copy is refused 401, and each does what it says:

* an order of two backordered lines fulfilled in part: the customer of the shipped line hears it
  shipped, the other line's backorder keeps waiting, and hears so once the rest ships;
* an item disconnected from a location: its figure there stops counting at once (no restart),
  pushes no longer write there, a late older reading is dropped, and `backorders why sku` says why.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import requests
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.types import StockRecord
from domain.core.models import (AuditLog, Backorder, DisconnectedLevel, Location, Order, OutboxMessage,
                                Sku, StockLevel, Store)
from tests.conftest import wait_for
from tests.integration.stock.shopify_admin import STORE, admin, once_and_untampered, stored
from tests.stack import Stack

SKU, OTHER = "FUT-FRM-OAK-FULL", "FUT-FRM-WAL-FULL"

def _shipped_notices(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == "backorder_shipped")
                                .order_by(OutboxMessage.id)))


def _state(session: Session, backorder_id: int) -> str | None:
    session.expire_all()
    found = session.get(Backorder, backorder_id)
    return found.state if found is not None else None


def test_a_partial_fulfilment_tells_only_the_shipped_lines_customers(stack: Stack, db_session: Session) -> None:
    for sku in (SKU, OTHER):
        admin(stack, "set_stock", {"sku": sku, "available": 0})
    created = admin(stack, "create_order", {"lines": [{"sku": SKU, "quantity": 1, "price": "649.00"},
                                                      {"sku": OTHER, "quantity": 1, "price": "699.00"}],
                                            "email": "jamie@example.com", "phone": "+12015550123"})
    placed = created["order"]
    waiting = wait_for(lambda: db_session.expire_all() or (lambda rows: rows if len(rows) == 2 else None)(
        list(db_session.scalars(select(Backorder).where(Backorder.state == "notified").order_by(Backorder.id)))))
    by_sku = {db_session.get(Sku, one.sku_id).code: one.id for one in waiting}  # type: ignore[union-attr]

    partial = admin(stack, "fulfill", {"order_id": placed["id"], "tracking_company": "UPS",
                                       "tracking_number": "1Z999AA10123456784", "lines": [{"sku": SKU}]})
    assert partial["order"]["fulfillment_status"] == "partial"
    assert [hook["status"] for hook in partial["webhooks"]] == [200]
    wait_for(lambda: _state(db_session, by_sku[SKU]) == "shipped")
    once_and_untampered(stack, db_session, "orders/partially_fulfilled", ("1Z999AA10123456784", "1Z000000000000000"))
    notices = wait_for(lambda: (lambda rows: rows if len(rows) == 2 else None)(_shipped_notices(db_session)))
    assert {m.channel for m in notices} == {"email", "sms"}  # type: ignore[union-attr]
    assert all(m.context.get("sku") in (None, SKU) and m.context.get("tracking_number") == "1Z999AA10123456784"
               for m in notices)  # type: ignore[union-attr]
    db_session.expire_all()
    assert _state(db_session, by_sku[OTHER]) == "notified", "the unshipped line keeps waiting"

    rest = admin(stack, "fulfill", {"order_id": placed["id"], "tracking_company": "UPS",
                                    "tracking_number": "1Z999AA10123450000"})
    assert rest["order"]["fulfillment_status"] == "fulfilled"
    wait_for(lambda: _state(db_session, by_sku[OTHER]) == "shipped")
    later = wait_for(lambda: (lambda rows: rows if len(rows) == 4 else None)(_shipped_notices(db_session)))
    assert [m.context.get("tracking_number") for m in later[2:]] == ["1Z999AA10123450000"] * 2  # type: ignore[index]
    assert len(_shipped_notices(db_session)) == 4, "the line shipped first is not told again"
    order = db_session.scalar(select(Order).where(Order.external_id == placed["id"]))
    assert order is not None


def _level(session: Session, location_key: str, sku: str = SKU) -> int | None:
    session.expire_all()
    return session.scalar(select(StockLevel.available).join(Location, Location.id == StockLevel.location_id)
                          .join(Sku, Sku.id == StockLevel.sku_id).where(Sku.code == sku, Location.key == location_key))


def _writes_at(stack: Stack, location: str) -> list[dict[str, Any]]:
    return [r for r in admin(stack, "requests")["requests"]
            if r["method"] == "POST" and r["path"].endswith("inventory_levels/set.json")
            and str((r["body"] or {}).get("location_id")) == location]


def test_a_disconnected_location_stops_counting_and_being_written_without_a_restart(
        stack: Stack, db_session: Session) -> None:
    # one unit held back from Shopify from now on, taken from its fullest location: a figure to write there
    store = db_session.scalar(select(Store).where(Store.key == STORE))
    assert store is not None
    store.options = {**store.options, "buffer_floor": 1}
    db_session.commit()
    connected = admin(stack, "locations", {"count": 2})["location_ids"][-1]  # the first added is the showroom
    key = f"{STORE}-{connected}"
    admin(stack, "connect", {"sku": SKU, "location_id": int(connected), "available": 40})
    wait_for(lambda: _level(db_session, key) == 40)
    # the store's fullest location gives up the unit held back: 39 is written there
    wait_for(lambda: any(r["body"]["available"] == 39 for r in _writes_at(stack, connected)), timeout_s=30)
    total_before = db_session.scalar(select(func.sum(StockLevel.available)).join(Sku, Sku.id == StockLevel.sku_id)
                                     .where(Sku.code == SKU))
    writes_before = len(_writes_at(stack, connected))

    hooked = admin(stack, "disconnect", {"sku": SKU, "location_id": int(connected)})
    assert [hook["status"] for hook in hooked["webhooks"]] == [200]
    wait_for(lambda: _level(db_session, key) is None)
    once_and_untampered(stack, db_session, "inventory_levels/disconnect", (f'"location_id": {connected}',
                                                                            '"location_id": 1'))
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))
    mark = db_session.scalar(select(DisconnectedLevel).where(DisconnectedLevel.sku_id == sku_id))
    assert mark is not None and mark.available_before == 40
    total_after = db_session.scalar(select(func.sum(StockLevel.available)).join(Sku, Sku.id == StockLevel.sku_id)
                                    .where(Sku.code == SKU))
    assert total_after == total_before - 40, "the stock there no longer counts"
    [entry] = db_session.scalars(select(AuditLog).where(AuditLog.action == "store.location_disconnected"))
    assert entry.data["location"] == key and entry.data["available_before"] == 40

    # a sale at the main location is pushed back to Shopify: there, not at the disconnected one
    main_writes = len(_writes_at(stack, "655441491"))
    admin(stack, "set_stock", {"sku": SKU, "available": 3})
    wait_for(lambda: len(_writes_at(stack, "655441491")) > main_writes, timeout_s=30)
    assert len(_writes_at(stack, connected)) == writes_before, "nothing is written where the item is not stocked"

    # a reading there older than the disconnect (a late retry, a poll read before it) is dropped
    from domain.stock.levels import record_batch

    store_id = db_session.scalar(select(Store.id).where(Store.key == STORE))
    item = admin(stack, "state/items")["items"]
    iid = next(one["inventory_item_id"] for one in item if one["sku"] == SKU)
    stale = StockRecord(external_id=iid, inventory_item_id=iid, location_external_id=connected, available=40,
                        updated_at=mark.disconnected_at - timedelta(seconds=5))
    assert record_batch(db_session, store_id, [stale]).stored == 0  # type: ignore[arg-type]
    assert _level(db_session, key) is None

    from workers.cli import main
    why = CliRunner().invoke(main, ["why", "sku", SKU])
    assert why.exit_code == 0, why.output
    assert f"{STORE} disconnected it from location {key}" in why.output
    facts = json.loads(CliRunner().invoke(main, ["why", "sku", SKU, "--json"]).output)
    assert [(one["store"], one["location"]) for one in facts["facts"]["disconnected"]] == [(STORE, key)]

    # connected there again: counted from the new figure on, the mark gone
    admin(stack, "connect", {"sku": SKU, "location_id": int(connected), "available": 7})
    wait_for(lambda: _level(db_session, key) == 7)
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(DisconnectedLevel)) == 0
