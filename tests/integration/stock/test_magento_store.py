"""A Magento store with Multi-Source Inventory beside Shopify, configured from the example file,
with real parts only: the product's web app and a real Celery worker against real PostgreSQL and
Redis, both platforms played by their stand-ins over HTTP.

The Magento store is polled per source; its observer module's signed webhook is stored once (a
redelivery is a duplicate, a tampered copy is refused); and a sell-out across both (Magento's
showroom shelf by its webhook, Shopify's warehouse by its own) reaches Shopify as a policy and
Magento as a backorder setting and a quantity per source.
"""
from __future__ import annotations

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
MAGENTO = "magento-trade"


@pytest.fixture
def stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Iterator[Stack]:
    with running_stack(db_session, monkeypatch, tmp_path, {"shopify", "magento"}) as running:
        yield running


def _admin(stack: Stack, platform: str, store: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{stack.sandbox}/{platform}/{store}/_admin/{path}"
    response = requests.post(url, json=body, timeout=10) if body is not None else requests.get(url, timeout=10)
    response.raise_for_status()
    return response.json()


def _levels(session: Session, store_key: str) -> dict[str, int]:
    session.expire_all()
    rows = session.execute(select(Location.key, StockLevel.available).join(Location, Location.id == StockLevel.location_id)
                           .join(Sku, Sku.id == StockLevel.sku_id).join(Store, Store.id == StockLevel.store_id)
                           .where(Sku.code == SKU, Store.key == store_key))
    return dict(rows.tuples().all())


def test_magento_is_polled_per_source_takes_its_webhook_once_and_hears_of_a_sell_out(
        stack: Stack, celery_worker: object, db_session: Session) -> None:
    from tasks.polling import poll_store

    assert sorted(s.key for s in stack.config.stores) == [MAGENTO, "shopify-main"]
    for store in stack.config.stores:
        poll_store.delay(db_session.scalar(select(Store.id).where(Store.key == store.key)), True)
    wait_for(lambda: db_session.expire_all() or all(db_session.scalars(select(Store.last_full_sync_at.is_not(None)))),
             timeout_s=60)
    assert _levels(db_session, MAGENTO) == {"warehouse": 50, "showroom": 50}

    # the observer module posts a source changed in Magento's admin: stored once
    changed = _admin(stack, "magento", MAGENTO, "set_stock", {"sku": SKU, "source_code": "brooklyn", "quantity": 7})
    assert [hook["status"] for hook in changed["webhooks"]] == [200]
    wait_for(lambda: _levels(db_session, MAGENTO).get("showroom") == 7)
    assert _admin(stack, "magento", MAGENTO, "redeliver", {"index": -1, "times": 2})["statuses"] == [200, 200]
    delivery = _admin(stack, "magento", MAGENTO, "webhooks")["deliveries"][-1]
    stored = db_session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.source == MAGENTO, InboxEvent.dedupe_key == f"magento:{delivery['headers']['X-Magento-Webhook-Id']}"))
    assert stored == 1
    tampered = delivery["body"].replace('"quantity": 7.0', '"quantity": 70.0')
    assert tampered != delivery["body"]
    refused = requests.post(f"{stack.web}/webhooks/{MAGENTO}", data=tampered.encode(), headers=delivery["headers"],
                            timeout=10)
    assert refused.status_code == 401
    assert _levels(db_session, MAGENTO).get("showroom") == 7

    # the latest figure anywhere is the truth: Magento's showroom shelf sells out (its webhook), then
    # Shopify's warehouse; both storefronts are told (Magento: backorders on, every source at 0)
    shelf = _admin(stack, "magento", MAGENTO, "set_stock", {"sku": SKU, "source_code": "brooklyn", "quantity": 0})
    assert [hook["status"] for hook in shelf["webhooks"]] == [200]
    wait_for(lambda: _levels(db_session, MAGENTO).get("showroom") == 0)
    # Shopify stamps its levels to the second and a reading without a stamp (Magento's poll) ranks
    # by when it arrived: the sale is a moment after the poll, not in the poll's own second
    _admin(stack, "shopify", "shopify-main", "clock", {"advance_s": 2})
    sold = _admin(stack, "shopify", "shopify-main", "set_stock", {"sku": SKU, "available": 0})
    assert [hook["status"] for hook in sold["webhooks"]] == [200]
    wait_for(lambda: db_session.expire_all() or db_session.scalar(select(Sku.state).where(Sku.code == SKU)) == "BACKORDER",
             timeout_s=30)
    def told() -> dict[str, Any] | None:
        item = _admin(stack, "magento", MAGENTO, f"state/items?skus={SKU}")["items"][0]
        return item if item["backorders"] == 2 and item["sources"] == {"default": 0, "brooklyn": 0} else None

    assert wait_for(told, timeout_s=30)["use_config_backorders"] is False  # type: ignore[index]
    wait_for(lambda: _admin(stack, "shopify", "shopify-main", f"state/items?skus={SKU}")["items"][0]
             ["inventory_policy"] == "continue")
