"""A webhook body is parsed once: the edge stores the records it parsed beside the raw body, and
the drain applies them without calling the connector's parser; a row without readable records
is parsed from its body, once."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import webhook_records
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, StockRecord
from demo.scenario import PLATFORM_SECRETS
from domain.core.models import InboxEvent, StockLevel, Store
from domain.stock import webhook_inbox
from domain.stock.apply_events import stored_payload
from domain.stock.levels import learn_listings
from flows.inbound import apply_events

SECRET = PLATFORM_SECRETS["SHOPIFY_WEBHOOK_SECRET"]
TOPIC = {"X-Shopify-Topic": "inventory_levels/update"}


def _level(item: str, available: int) -> bytes:
    return json.dumps({"inventory_item_id": int(item), "location_id": 655441491, "available": available,
                       "updated_at": "2026-11-25T10:00:00-05:00"}).encode()


class CountingParser:
    """The Shopify connector, counting the bodies it is asked to parse."""

    def __init__(self) -> None:
        self.inner = build_connector("shopify", ConnectorConfig(store_key="shopify-main", base_url="http://unused",
                                                                webhook_secret="unused"))
        self.parsed = 0

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> Any:
        self.parsed += 1
        return self.inner.parse_webhook(headers, body)


@pytest.fixture
def client(db_session: Session, catalog: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for key, value in PLATFORM_SECRETS.items():
        monkeypatch.setenv(key, value)
    from workers import webhook_stores
    from workers.web import create_app

    webhook_stores.forget()
    yield TestClient(create_app(), raise_server_exceptions=False)
    webhook_stores.forget()


@pytest.fixture
def shop(db_session: Session, catalog: object) -> int:
    shop = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    assert shop is not None
    learn_listings(db_session, shop, [StockRecord(external_id="v1", sku="MAT-HYB-KING", inventory_item_id="111"),
                                      StockRecord(external_id="v2", sku="MAT-HYB-QUEEN", inventory_item_id="222")])
    db_session.commit()
    return shop


def test_the_edge_stores_the_parsed_records_and_the_drain_applies_them_unparsed(
        client: TestClient, db_session: Session, shop: int) -> None:
    body = _level("111", 4)
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    answer = client.post("/webhooks/shopify-main", content=body, headers={
        **TOPIC, "X-Shopify-Hmac-Sha256": digest, "X-Shopify-Event-Id": "evt-once", "Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"

    stored = db_session.scalar(select(InboxEvent).where(InboxEvent.dedupe_key == "shopify:evt-once"))
    assert stored is not None and stored.payload["body"] == body.decode(), "the raw body is kept exactly"
    [record] = stored.payload[webhook_records.PAYLOAD_KEY]["stock"]
    assert record["inventory_item_id"] == "111" and record["available"] == 4

    parser = CountingParser()
    result = apply_events(db_session, shop, parser, webhook_inbox.claim_pending(db_session, "shopify-main"))  # type: ignore[arg-type]
    assert parser.parsed == 0, "the drain does not parse a body the edge parsed"
    assert result.done == 1 and result.quarantined == []
    assert list(db_session.scalars(select(StockLevel.available))) == [4]


def test_a_row_without_readable_records_is_parsed_from_its_body_once(db_session: Session, shop: int) -> None:
    without = stored_payload(TOPIC, _level("111", 2))
    unreadable = {**stored_payload(TOPIC, _level("222", 3)), webhook_records.PAYLOAD_KEY: {"v": -1}}
    for key, payload in (("plain", without), ("unreadable", unreadable)):
        webhook_inbox.accept(db_session, source="shopify-main", dedupe_key=key, kind="inventory_update",
                     topic="inventory_levels/update", occurred_at=None, payload=payload)
    parser = CountingParser()
    result = apply_events(db_session, shop, parser, webhook_inbox.claim_pending(db_session, "shopify-main"))  # type: ignore[arg-type]
    assert parser.parsed == 2 and result.done == 2
    assert sorted(db_session.scalars(select(StockLevel.available))) == [2, 3]
