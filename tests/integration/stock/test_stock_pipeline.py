"""Issue acceptance: a sell-out arriving by webhook flips every channel and tells staff once.

Real parts only: the product's web app and a real Celery worker against real PostgreSQL and
Redis, the platforms and providers played by the sandbox over HTTP.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig
from domain.core.models import AuditLog, ChannelListing, InboxEvent, Sku, SkuTransition, Store
from demo import scenario
from tests.conftest import wait_for
from tests.stack import running_stack

SKU = "FUT-FRM-OAK-FULL"


@pytest.fixture
def stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Iterator[dict[str, Any]]:
    with running_stack(db_session, monkeypatch, tmp_path, set(scenario.ALL_PLATFORMS)) as running:
        yield {"sandbox": running.sandbox, "web": running.web, "config": running.config}


def _messages(sandbox: str, provider: str) -> list[dict[str, Any]]:
    response = requests.get(f"{sandbox}/_sandbox/messaging/messages", params={"provider": provider}, timeout=5)
    return response.json()["messages"]


def _item(sandbox: str, platform: str, store: str) -> dict[str, Any]:
    response = requests.get(f"{sandbox}/{platform}/{store}/_admin/state/items", params={"skus": SKU}, timeout=5)
    return response.json()["items"][0]


def _settled(session: Session) -> bool:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.state == "pending")) == 0


def test_sell_out_by_webhook_flips_every_channel_and_alerts_once(
        stack: dict[str, Any], celery_worker: object, db_session: Session) -> None:
    from tasks.polling import poll_store

    sandbox, config = stack["sandbox"], stack["config"]
    assert isinstance(config, BusinessConfig)
    selling = [s.key for s in config.stores if s.sells]
    assert sorted(selling) == ["bigcommerce-trade", "shopify-main", "showroom-pos", "woo-outlet"]
    for store in config.stores:
        poll_store.delay(db_session.scalar(select(Store.id).where(Store.key == store.key)), True)

    def all_polled() -> bool:
        db_session.expire_all()
        return all(db_session.scalars(select(Store.last_full_sync_at.is_not(None))))

    wait_for(all_polled, timeout_s=60)
    assert db_session.scalar(select(func.count()).select_from(ChannelListing)) == 30 * len(config.stores)

    outlet = next(s for s in config.stores if s.key == "showroom-pos").locations
    showroom_sale = requests.post(f"{sandbox}/lightspeed/showroom-pos/_admin/set_stock", timeout=10, json={
        "sku": SKU, "current_amount": 0, "outlet_id": next(iter(outlet))}).json()
    assert [hook["status"] for hook in showroom_sale["webhooks"]] == [200]
    wait_for(lambda: _settled(db_session))
    assert db_session.scalar(select(Sku.state).where(Sku.code == SKU)) == "IN_STOCK", "the warehouse still has 50"

    sold_out = requests.post(f"{sandbox}/shopify/shopify-main/_admin/set_stock",
                             json={"sku": SKU, "available": 0}, timeout=10).json()
    assert [hook["status"] for hook in sold_out["webhooks"]] == [200]

    wait_for(lambda: db_session.scalar(select(Sku.state).where(Sku.code == SKU)) == "BACKORDER"
             or db_session.expire_all())
    wait_for(lambda: _item(sandbox, "shopify", "shopify-main")["inventory_policy"] == "continue")
    wait_for(lambda: _item(sandbox, "woocommerce", "woo-outlet")["stock_status"] == "onbackorder")
    wait_for(lambda: _item(sandbox, "bigcommerce", "bigcommerce-trade")["availability"] == "preorder")
    assert _item(sandbox, "bigcommerce", "bigcommerce-trade")["availability_description"] == \
        "Backordered: ships in 2-3 weeks"
    wait_for(lambda: len(_messages(sandbox, "slack")) >= 1 and len(_messages(sandbox, "mailgun")) >= 1)
    wait_for(lambda: _settled(db_session))

    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))
    transition = db_session.scalars(select(SkuTransition).where(SkuTransition.sku_id == sku_id,
                                                                SkuTransition.to_state == "BACKORDER")).one()
    assert (transition.from_state, transition.to_state) == ("IN_STOCK", "BACKORDER")
    assert transition.numbers["available"] == 0 and transition.numbers["threshold"] == 3
    audited = db_session.scalars(select(AuditLog).where(AuditLog.action == "stock.transition",
                                                        AuditLog.subject_id == str(sku_id))).all()
    assert [(a.data["to_state"], a.data["available"], a.data["threshold"]) for a in audited
            if a.data["to_state"] == "BACKORDER"] == [("BACKORDER", 0, 3)]
    def pushes() -> list[AuditLog]:
        db_session.expire_all()
        return list(db_session.scalars(select(AuditLog).where(AuditLog.action == "channel.push",
                                                               AuditLog.subject_id == str(sku_id))))

    # the platform answers before the push task commits its audit row: wait for the rows. The
    # showroom POS already shows 0 (its own sale) and X-Series has no backorder flag: nothing to write.
    wait_for(lambda: {p.data["store"] for p in pushes()} == set(selling) - {"showroom-pos"})
    assert all(p.data["backorder"] is True and p.data["ok"] for p in pushes())
    assert not any(w["sku"] == SKU for w in requests.get(
        f"{sandbox}/lightspeed/showroom-pos/_admin/writes", timeout=5).json()["writes"])

    redelivered = requests.post(f"{sandbox}/shopify/shopify-main/_admin/redeliver",
                                json={"index": 0, "times": 3}, timeout=10).json()
    assert redelivered["statuses"] == [200, 200, 200]
    time.sleep(2)
    wait_for(lambda: _settled(db_session))
    assert len(_messages(sandbox, "slack")) == 1, [m.get("text") or m for m in _messages(sandbox, "slack")]
    assert len(_messages(sandbox, "mailgun")) == 1, "exactly one email"
    assert db_session.scalar(select(func.count()).select_from(SkuTransition)
                             .where(SkuTransition.sku_id == sku_id, SkuTransition.to_state == "BACKORDER")) == 1
    assert db_session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.dedupe_key == f"shopify:{redelivered['event_id']}")) == 1
