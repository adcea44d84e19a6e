"""Two WooCommerce stock figures in one second are two events, and a repeated delivery is one.

WooCommerce stamps ``date_modified`` to the second and derives ``X-WC-Webhook-Delivery-ID`` from
the webhook id and the current second, so both deliveries below carry the same date and the same
delivery id. Real parts: the product's web app and a Celery worker against PostgreSQL and Redis,
the WooCommerce stand-in delivering its webhooks over HTTP.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import InboxEvent, Location, Sku, StockLevel, Store
from tests.conftest import wait_for
from tests.stack import Stack, running_stack

SKU = "FUT-FRM-OAK-FULL"
STORE = "woo-outlet"


@pytest.fixture
def stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Iterator[Stack]:
    with running_stack(db_session, monkeypatch, tmp_path, {"woocommerce"}) as running:
        yield running


def _admin(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(f"{stack.sandbox}/woocommerce/{STORE}/_admin/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def _woo_figure(session: Session) -> int | None:
    session.expire_all()
    return session.scalar(
        select(StockLevel.available).join(Sku, Sku.id == StockLevel.sku_id)
        .join(Store, Store.id == StockLevel.store_id).join(Location, Location.id == StockLevel.location_id)
        .where(Sku.code == SKU, Store.key == STORE, Location.key == "warehouse"))


def _settled(session: Session) -> bool:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.state == "pending")) == 0


def test_two_figures_in_one_second_are_both_applied_and_a_repeat_is_not(
        stack: Stack, celery_worker: object, db_session: Session) -> None:
    from tasks.polling import poll_store

    store_id = db_session.scalar(select(Store.id).where(Store.key == STORE))
    poll_store.delay(store_id, True)
    wait_for(lambda: db_session.scalar(select(Store.last_full_sync_at).where(Store.id == store_id))
             or db_session.expire_all(), timeout_s=60)
    assert _woo_figure(db_session) == 50

    _admin(stack, "clock", {"freeze": True})
    first = _admin(stack, "set_stock", {"sku": SKU, "stock_quantity": 7})["webhooks"]
    # Applied before the next one arrives, so the order of the two is the order of delivery, not
    # the luck of two drains racing for the same row.
    wait_for(lambda: _woo_figure(db_session) == 7)
    second = _admin(stack, "set_stock", {"sku": SKU, "stock_quantity": 4})["webhooks"]

    [first_hook], [second_hook] = first, second
    assert first_hook["status"] == second_hook["status"] == 200
    bodies = [json.loads(first_hook["body"]), json.loads(second_hook["body"])]
    assert bodies[0]["date_modified_gmt"] == bodies[1]["date_modified_gmt"], "one second, as WooCommerce stamps it"
    assert first_hook["headers"]["X-WC-Webhook-Delivery-ID"] == second_hook["headers"]["X-WC-Webhook-Delivery-ID"]
    assert [b["stock_quantity"] for b in bodies] == [7, 4]

    wait_for(lambda: _settled(db_session))
    stored = db_session.scalars(select(InboxEvent).where(InboxEvent.source == STORE,
                                                         InboxEvent.topic == "product.updated")
                                .order_by(InboxEvent.id)).all()
    assert len(stored) == 2, [e.dedupe_key for e in stored]
    assert all(e.state == "done" for e in stored)
    assert _woo_figure(db_session) == 4, "the later delivery wins"

    # The same delivery again, byte for byte (a retry): stored once, changes nothing.
    again = requests.post(second_hook["address"], data=second_hook["body"].encode(),
                          headers=second_hook["headers"], timeout=10)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert db_session.scalar(select(func.count()).select_from(InboxEvent)
                             .where(InboxEvent.source == STORE, InboxEvent.topic == "product.updated")) == 2
