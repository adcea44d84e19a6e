"""A sell-out on any one of the five storefronts shows on the other four.

Real parts only: the product's web app and a real Celery worker against real PostgreSQL and Redis;
Shopify, WooCommerce, BigCommerce, Magento (Multi-Source Inventory) and the Lightspeed POS played by
their stand-ins over HTTP, configured from the example file. Every store sells from the warehouse
here, so one figure is the truth for all five. For each storefront in turn, the last units are
taken in that store's own admin, which tells us by its webhook (all five send one); the other four
must end up showing 0, and the origin must still show 0 with nothing but 0 written to it.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import AuditLog, ChannelPush, InboxEvent, Sku, Store
from tests.conftest import wait_for
from tests.stack import Stack, running_stack

SKU = "FUT-FRM-OAK-FULL"
OUTLET = "0a1b2c3d-4e5f-11ef-9a6b-0242ac120002"
START = 6


@dataclass(frozen=True)
class Front:
    """One storefront: where it lives, how its own admin sells the last unit, what it shows."""

    platform: str
    key: str
    sell_out: dict[str, Any]
    shows: Callable[[dict[str, Any]], int]


FRONTS = {
    "shopify": Front("shopify", "shopify-main", {"available": 0}, lambda item: int(item["available"])),
    "woocommerce": Front("woocommerce", "woo-outlet", {"stock_quantity": 0}, lambda item: int(item["stock_quantity"])),
    "bigcommerce": Front("bigcommerce", "bigcommerce-trade", {"quantity": 0},
                         lambda item: int(sum(item["levels"].values()))),
    "magento": Front("magento", "magento-trade", {"source_code": "default", "quantity": 0},
                     lambda item: int(sum(item["sources"].values()))),
    "lightspeed": Front("lightspeed", "showroom-pos", {"current_amount": 0, "outlet_id": OUTLET},
                        lambda item: int(sum(item["inventory"].values()))),
}


def _all_at_the_warehouse(text: str) -> str:
    """Each storefront sells from the warehouse alone (one truth for all five)."""
    text = text.replace('locations = { "655441491" = "warehouse", "655441492" = "showroom" }',
                        'locations = { "655441491" = "warehouse" }')
    text = text.replace('locations = { "default" = "warehouse", "brooklyn" = "showroom" }',
                        'locations = { "default" = "warehouse" }')
    return text.replace(f'locations = {{ "{OUTLET}" = "showroom" }}', f'locations = {{ "{OUTLET}" = "warehouse" }}')


@pytest.fixture
def stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Iterator[Stack]:
    monkeypatch.setenv("PUSH_DEBOUNCE_S", "0.2")
    with running_stack(db_session, monkeypatch, tmp_path, set(FRONTS), available=START,
                       edit=_all_at_the_warehouse) as running:
        yield running


def _shows(stack: Stack, front: Front) -> int:
    response = requests.get(f"{stack.sandbox}/{front.platform}/{front.key}/_admin/state/items",
                            params={"skus": SKU}, timeout=5)
    response.raise_for_status()
    return front.shows(response.json()["items"][0])


def _idle(session: Session) -> bool:
    session.expire_all()
    pending = session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.state == "pending"))
    busy = session.scalar(select(func.count()).select_from(ChannelPush).where(
        (ChannelPush.due_at.is_not(None)) | (ChannelPush.lease_until.is_not(None))))
    return pending == 0 and busy == 0


def _pushes_to(session: Session, sku_id: int, store: str, after_id: int) -> list[dict[str, Any]]:
    session.expire_all()
    return [row.data for row in session.scalars(select(AuditLog).where(
        AuditLog.action == "channel.push", AuditLog.subject_id == str(sku_id), AuditLog.id > after_id)
        .order_by(AuditLog.id)) if row.data.get("store") == store]


@pytest.mark.parametrize("origin", list(FRONTS))
def test_a_sell_out_on_one_storefront_shows_on_the_other_four(
        origin: str, stack: Stack, celery_worker: object, db_session: Session) -> None:
    from tasks.polling import poll_store

    assert sorted(s.platform for s in stack.config.stores) == sorted(FRONTS)
    for store in stack.config.stores:
        poll_store.delay(db_session.scalar(select(Store.id).where(Store.key == store.key)), True)
    wait_for(lambda: db_session.expire_all() or all(db_session.scalars(select(Store.last_full_sync_at.is_not(None)))),
             timeout_s=60)
    wait_for(lambda: _idle(db_session), timeout_s=60)
    assert {name: _shows(stack, front) for name, front in FRONTS.items()} == dict.fromkeys(FRONTS, START)
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))
    last_audit = db_session.scalar(select(func.coalesce(func.max(AuditLog.id), 0)))

    front = FRONTS[origin]
    # the sale is a moment after the first sync (a reading without the platform's stamp ranks by arrival)
    # (the Lightspeed stand-in keeps no clock of its own: a real second passes instead)
    clock = requests.post(f"{stack.sandbox}/{front.platform}/{front.key}/_admin/clock", json={"advance_s": 2},
                          timeout=5)
    if clock.status_code == 404:
        time.sleep(1.1)
    else:
        clock.raise_for_status()
    sold = requests.post(f"{stack.sandbox}/{front.platform}/{front.key}/_admin/set_stock",
                         json={"sku": SKU, **front.sell_out}, timeout=10)
    sold.raise_for_status()
    assert sold.json()["webhooks"] and all(hook["status"] == 200 for hook in sold.json()["webhooks"]), sold.json()

    others = {name: other for name, other in FRONTS.items() if name != origin}
    shown = wait_for(lambda: (now := {name: _shows(stack, other) for name, other in others.items()})
                     and not any(now.values()) and now, timeout_s=30)
    assert shown == dict.fromkeys(others, 0)
    wait_for(lambda: _idle(db_session), timeout_s=30)
    for name, other in others.items():
        written = _pushes_to(db_session, sku_id, other.key, last_audit)
        assert written and written[-1]["available"] == 0, f"{name}: {written}"
    assert _shows(stack, front) == 0, "the origin keeps its own 0"
    back = _pushes_to(db_session, sku_id, front.key, last_audit)
    assert all(push["available"] == 0 for push in back), f"written back to {origin}: {back}"
