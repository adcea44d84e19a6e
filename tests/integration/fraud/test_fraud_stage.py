"""Scoring is its own stage after the order is stored: the inbox drain stores a Shopify order with
what it said about the payment and queues ``tasks.fraud.score`` for it after its commit; nothing is
scored inside the drain. The poll hands each stored orders page on the same way."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.registry import build_connector
from connectors.types import ConnectorConfig
from domain.core.business_config import BusinessConfig
from domain.core.db import get_sessionmaker
from domain.core.models import FraudScore, InboxEvent, Order, Store
from domain.stock import webhook_inbox
from domain.stock.apply_events import stored_payload
from tests.connectors.test_order_risk import SHOPIFY_ORDER
from flows import poll as sync
from sandbox.server import SandboxServer
from tests.integration.fraud.conftest import FRAME


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, celery_app: object) -> list[tuple[str, tuple[Any, ...]]]:
    """What tasks queue after their commits, instead of the broker (nothing consumes it here); the
    product's Celery app is loaded, as in a worker (its metrics directory included)."""
    queued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr("tasks.base.send_all", lambda messages: queued.extend(
        (task.name, tuple(args)) for task, args, _options in messages))
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_test")
    monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", "unused")
    return queued


def test_the_drain_stores_the_order_and_queues_its_scoring(db_session: Session, catalog: BusinessConfig,
                                                           journey_settings: Any,
                                                           sent: list[tuple[str, tuple[Any, ...]]]) -> None:
    from tasks.fraud import score
    from tasks.inbound import drain

    payload = {**SHOPIFY_ORDER, "line_items": [{"id": 1, "sku": FRAME, "quantity": 1, "title": "Oak frame",
                                                "price": "899.00", "variant_id": 77}]}
    webhook_inbox.accept(db_session, source="shopify-main", dedupe_key="order-1", kind="order_created",
                         topic="orders/create", occurred_at=None,
                         payload=stored_payload({"X-Shopify-Topic": "orders/create"}, json.dumps(payload).encode()))
    db_session.commit()
    drain.apply(args=["shopify-main"], throw=True)
    db_session.expire_all()
    assert db_session.scalar(select(InboxEvent.state)) == "done"
    order = db_session.scalar(select(Order))
    assert order is not None and (order.avs_result, order.customer_ip, order.shipping_country) == ("N", "203.0.113.7",
                                                                                                    "CA")
    assert [args for name, args in sent if name == "tasks.fraud.score"] == [([order.id],)]
    assert db_session.scalar(select(func.count()).select_from(FraudScore)) == 0, "not scored inside the drain"

    score.apply(args=[[order.id]], throw=True)
    db_session.expire_all()
    row = db_session.scalar(select(FraudScore))
    assert row is not None and row.order_id == order.id
    fired = {s["name"]: s["points"] for s in row.signals if s["state"] == "fired"}
    # AVS N; billing US, shipping CA; a new customer's 899.00 order (high value from 750.00)
    assert fired == {"avs_mismatch": 30, "country_mismatch": 20, "new_customer_high_value": 20}
    assert (row.score, row.verdict) == (70, "review")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


def test_the_poll_hands_each_stored_orders_page_to_the_fraud_stage(sandbox: SandboxServer, db_session: Session,
                                                                   catalog: BusinessConfig) -> None:
    """``flows.poll`` gives ``on_orders`` each orders page's stored ids once that page has committed
    (the Shopify stand-in over HTTP; ``tasks.polling.poll_store`` sends them to ``tasks.fraud.score``)."""
    base = f"{sandbox.base_url}/shopify/fraud-{time.monotonic_ns()}"
    requests.post(f"{base}/_admin/seed", json={"reset": True, "items": [{"sku": FRAME, "available": 9}]},
                  timeout=10).raise_for_status()
    for n in range(5):
        requests.post(f"{base}/_admin/create_order", json={"lines": [{"sku": FRAME, "quantity": 1, "price": "10.00"}],
                                                           "email": f"c{n}@example.com"}, timeout=10).raise_for_status()
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    assert store_id is not None
    connector = build_connector("shopify", ConnectorConfig(
        store_key="shopify-main", base_url=base, credentials={"access_token": "shpat_sandbox"},
        options={"page_size": 3, "location_ids": ["655441491"]}))
    handed: list[tuple[list[int], int]] = []
    make_session = get_sessionmaker()

    def on_orders(order_ids: list[int]) -> None:
        with make_session() as other:  # another connection: the page is committed by now
            handed.append((order_ids, int(other.scalar(select(func.count()).where(Order.id.in_(order_ids))) or 0)))

    sync.poll(make_session, connector, store_id, "fraud-test", full=True, stock_cursor=None,  # type: ignore[arg-type]
              order_cursor=None, on_changed=lambda _: None, on_orders=on_orders)
    assert [len(ids) for ids, _ in handed] == [3, 2] and [seen for _, seen in handed] == [3, 2]
    db_session.expire_all()
    assert sorted(i for ids, _ in handed for i in ids) == sorted(db_session.scalars(select(Order.id)))
