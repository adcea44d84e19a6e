"""The ``rest`` connector, described by ``examples/warehouse-app.toml``, against the warehouse
stand-in over real HTTP: pages, the high-water cursor, 429s, write-back, orders and signatures."""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import tomllib
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from connectors.base import Capability, UnsupportedCapability, supports
from connectors.capabilities import declared, mismatches
from connectors.declarative import DeclarativeConnector, high_water, paginator, render
from connectors.errors import AuthError, MalformedPayloadError, PermanentError, SignatureError
from connectors.paging import LinkHeaderPaginator, OffsetPaginator, PageNumberPaginator
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, ListingRef
from domain.stock.apply_events import stored_payload
from tests.connectors.conftest import Admin, WebhookReceiver

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "warehouse-app.toml"
TOKEN = "wh_sandbox_token"
SECRET = "wh_webhook_secret"
SKUS = ["FUT-A", "FUT-B", "FUT-C"]


def example_options() -> dict[str, Any]:
    return copy.deepcopy(tomllib.loads(EXAMPLE.read_text())["stores"][0]["options"])


@pytest.fixture
def warehouse(admin_for: Callable[[str, str], Admin]) -> Admin:
    admin = admin_for("warehouse", f"wh-{uuid.uuid4().hex[:8]}")
    admin.post("clock", {"freeze": True})
    admin.post("seed", {"locations": ["main", "front"], "items": [
        {"sku": sku, "levels": {"main": 10 + n, "front": n}} for n, sku in enumerate(SKUS)]})
    return admin


def connect(admin: Admin, options: dict[str, Any] | None = None, sleeps: list[float] | None = None,
            token: str = TOKEN) -> Any:
    opts = example_options() if options is None else options
    opts["stock"]["pagination"]["page_size"] = 2
    return build_connector("rest", ConnectorConfig(
        store_key="warehouse-app", base_url=f"{admin.root}/api", credentials={"token": token},
        webhook_secret=SECRET, options=opts, timeout_s=5.0), sleep=(sleeps if sleeps is not None else []).append)


def test_a_full_read_pages_by_number_and_only_the_last_page_moves_the_cursor(warehouse: Admin) -> None:
    pages = list(connect(warehouse).fetch_stock(None))
    assert [len(p.records) for p in pages] == [2, 2, 2]
    newest = max(r.updated_at for p in pages for r in p.records)
    assert [p.cursor for p in pages] == [None, None, newest.isoformat()]
    record = next(r for p in pages for r in p.records if r.sku == "FUT-B" and r.location_external_id == "main")
    assert (record.external_id, record.available, record.on_hand) == ("itm_00002", 11, 11)
    assert [r["query"].get("page") for r in warehouse.requests_log("GET", "/stock")] == ["1", "2", "3"]


def test_an_incremental_read_sends_the_cursor_and_gets_what_changed_since(warehouse: Admin) -> None:
    """``updated_since`` is inclusive: the cursor's own second is read again (the upsert absorbs it)."""
    connector = connect(warehouse)
    cursor = list(connector.fetch_stock(None))[-1].cursor
    warehouse.post("clock", {"advance_s": 60})
    warehouse.post("set_stock", {"sku": "FUT-C", "location": "front", "available": 0, "notify": False})
    moved = list(connector.fetch_stock(cursor))[-1].cursor
    assert moved is not None and cursor is not None and moved > cursor
    warehouse.post("clock", {"advance_s": 60})
    warehouse.post("set_stock", {"sku": "FUT-A", "location": "main", "available": 2, "notify": False})
    pages = list(connector.fetch_stock(moved))
    assert [(r.sku, r.location_external_id, r.available) for p in pages for r in p.records] == [
        ("FUT-C", "front", 0), ("FUT-A", "main", 2)]
    assert [r["query"]["updated_since"] for r in warehouse.requests_log("GET", "/stock")[-2:]] == [cursor, moved]


def test_a_429_is_waited_out_as_retry_after_asks(warehouse: Admin) -> None:
    warehouse.post("faults", {"status": 429, "retry_after": "1", "path_contains": "/stock", "count": 1})
    sleeps: list[float] = []
    pages = list(connect(warehouse, sleeps=sleeps).fetch_stock(None))
    assert sum(len(p.records) for p in pages) == 6 and sleeps == [1.0]
    assert [r["status"] for r in warehouse.requests_log("GET", "/stock")][:2] == [429, 200]


def test_write_back_sends_the_described_request(warehouse: Admin) -> None:
    connector = connect(warehouse)
    result = connector.push_availability(ListingRef("FUT-A", "itm_00001", location_external_id="front"), 4, True)
    assert result.ok and result.levels == {"front": 4}
    [write] = warehouse.get("writes")["writes"]
    assert write["body"] == {"location": "front", "quantity": 4, "allow_backorder": True}
    assert write["item_id"] == "itm_00001"
    [row] = [r for r in warehouse.get("state/items", skus="FUT-A")["items"] if r["location"]["code"] == "front"]
    assert row["quantity"]["available"] == 4


def test_orders_follow_the_next_link_in_the_body(warehouse: Admin) -> None:
    for n in range(3):
        warehouse.post("orders", {"id": f"o-{n}", "customer": {"email": f"c{n}@example.com", "name": "Kim"},
                                  "total": "19.90", "lines": [{"sku": "FUT-A", "qty": n + 1, "unit_price": "9.95"}]})
    options = example_options()
    options["orders"]["pagination"]["page_size"] = 2
    pages = list(connect(warehouse, options).fetch_orders(None))
    assert [[o.external_id for o in p.records] for p in pages] == [["o-0", "o-1"], ["o-2"]]
    order = pages[1].records[0]
    assert (order.email, order.customer_name, order.total_cents, order.number) == ("c2@example.com", "Kim", 1990,
                                                                                   "WH-1003")
    assert [(line.sku, line.quantity, line.price_cents, line.external_id) for line in order.lines] == \
        [("FUT-A", 3, 995, "o-2:0")]
    assert pages[-1].cursor == order.updated_at.isoformat()


def test_a_delivered_webhook_verifies_and_a_tampered_one_does_not(warehouse: Admin,
                                                                   webhook_receiver: WebhookReceiver) -> None:
    warehouse.post("webhooks", {"address": webhook_receiver.url, "secret": SECRET, "topics": ["stock.updated"]})
    warehouse.post("set_stock", {"sku": "FUT-B", "location": "main", "available": 3})
    [delivery] = webhook_receiver.received
    connector = connect(warehouse)
    connector.verify_webhook(delivery.headers, delivery.body)
    event = connector.parse_webhook(delivery.headers, delivery.body)
    assert (event.kind, event.topic, event.dedupe_key) == (
        "inventory_update", "stock.updated", f"rest:{delivery.headers['X-Warehouse-Delivery']}")
    assert [(r.sku, r.location_external_id, r.available) for r in event.stock] == [("FUT-B", "main", 3)]
    # the web process stores only the headers parsing needs again: the described ones are kept
    assert connector.webhook_headers == ("X-Warehouse-Topic", "X-Warehouse-Delivery")
    stored = stored_payload(delivery.headers, delivery.body, connector.webhook_headers)
    assert connector.parse_webhook(stored["headers"], stored["body"].encode()) == event
    with pytest.raises(SignatureError, match="does not match"):
        connector.verify_webhook(delivery.headers, delivery.body.replace(b'"available": 3', b'"available": 9'))
    bare = {**delivery.headers, "X-Warehouse-Signature": delivery.headers["X-Warehouse-Signature"][7:]}
    with pytest.raises(SignatureError, match="sha256="):
        connector.verify_webhook(bare, delivery.body)


def test_base64_signatures_without_a_prefix_and_a_topic_in_the_body() -> None:
    options = example_options()
    options["webhooks"] = {"signature_header": "X-Sig", "encoding": "base64", "topic_field": "event",
                           "records": "data", "topics": {"stock.updated": "inventory_update", "hello": "ping"}}
    connector = build_connector("rest", ConnectorConfig("s", "http://127.0.0.1:9", {"token": "t"}, SECRET, options))
    body = json.dumps({"event": "hello"}).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    connector.verify_webhook({"x-sig": signature}, body)
    assert connector.parse_webhook({}, body).kind == "ping"
    with pytest.raises(MalformedPayloadError, match="no record"):
        connector.parse_webhook({}, json.dumps({"event": "stock.updated", "data": []}).encode())


def test_abilities_follow_the_description(warehouse: Admin) -> None:
    full = connect(warehouse)
    assert declared(full) == {Capability.STOCK_READ, Capability.STOCK_WRITE, Capability.ORDERS, Capability.WEBHOOKS}
    options = example_options()
    for key in ("write", "orders", "webhooks"):
        del options[key]
    reader = connect(warehouse, options)
    assert isinstance(reader, DeclarativeConnector) and declared(reader) == {Capability.STOCK_READ}
    assert mismatches(type(reader)) == [] and mismatches(type(full)) == []
    assert not supports(reader, Capability.STOCK_WRITE) and list(reader.fetch_orders(None)) == []
    with pytest.raises(UnsupportedCapability, match="rest: writing stock is not supported"):
        reader.push_availability(ListingRef("FUT-A", "itm_00001", location_external_id="main"), 1, False)
    with pytest.raises(SignatureError, match="not described"):
        reader.verify_webhook({}, b"{}")
    assert warehouse.get("writes")["writes"] == []


def test_a_refused_token_is_an_auth_error(warehouse: Admin) -> None:
    with pytest.raises(AuthError, match="401"):
        list(connect(warehouse, token="wrong").fetch_stock(None))


def test_a_stored_description_that_no_longer_reads_is_refused_by_name() -> None:
    options = example_options()
    options["stock"]["pagination"]["style"] = "cursor"
    with pytest.raises(PermanentError, match=r"options.stock.pagination.style: unknown style 'cursor'"):
        build_connector("rest", ConnectorConfig("s", "http://127.0.0.1:9", {"token": "t"}, None, options))


def test_a_body_template_keeps_types_where_a_placeholder_stands_alone() -> None:
    values = {"available": 7, "backorder": False, "sku": "A/1", "location": None}
    assert render({"q": "{available}", "b": ["{backorder}"], "note": "sku {sku} at {location}", "n": 1}, values) == \
        {"q": 7, "b": [False], "note": "sku A/1 at ", "n": 1}


def test_an_order_webhook_carries_the_mapped_order(warehouse: Admin, webhook_receiver: WebhookReceiver) -> None:
    warehouse.post("webhooks", {"address": webhook_receiver.url, "secret": SECRET, "topics": ["order.created"]})
    warehouse.post("orders", {"id": "o-9", "customer": {"email": "kim@example.com", "name": "Kim"},
                              "lines": [{"sku": "FUT-C", "qty": 2, "unit_price": "5.00"}]})
    [delivery] = webhook_receiver.received
    connector = connect(warehouse)
    connector.verify_webhook(delivery.headers, delivery.body)
    event = connector.parse_webhook(delivery.headers, delivery.body)
    assert (event.kind, [o.external_id for o in event.orders], event.resource_ids) == ("order_created", ["o-9"], ["o-9"])
    assert [(line.sku, line.quantity, line.price_cents) for line in event.orders[0].lines] == [("FUT-C", 2, 500)]


def test_each_pagination_style_builds_the_base_paginator_it_names() -> None:
    def built(pagination: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        options = example_options()
        options["stock"]["pagination"] = pagination
        connector = build_connector("rest", ConnectorConfig("s", "http://127.0.0.1:9", {"token": "t"}, None, options))
        return paginator(connector.spec.stock)

    links, size = built({"style": "link_header", "size_param": "limit", "page_size": 25})
    assert isinstance(links, LinkHeaderPaginator) and size == {"limit": 25}
    offset, size = built({"style": "offset", "offset_param": "skip", "limit_param": "take", "limit": 40,
                          "total_field": "count"})
    assert isinstance(offset, OffsetPaginator) and size == {}
    assert (offset.offset_param, offset.limit_param, offset.limit, offset.total_key) == ("skip", "take", 40, "count")
    numbered, _ = built({"style": "page_number"})
    assert isinstance(numbered, PageNumberPaginator) and numbered.total_pages_header is None
    assert built({"style": "none"}) == (None, {})


def test_an_epoch_cursor_travels_as_seconds() -> None:
    options = example_options()
    options["stock"]["cursor"] = {"field": "changed", "param": "since", "format": "epoch_seconds"}
    del options["stock"]["fields"]["updated_at"]  # the cursor's field fills it, read as epoch seconds
    connector = build_connector("rest", ConnectorConfig("s", "http://127.0.0.1:9", {"token": "t"}, None, options))
    record = connector.stock_record({"sku": "A", "quantity": {"available": 1}, "changed": 1767225600})
    assert record.updated_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    water = high_water(connector.spec.stock)
    assert water is not None and water.format(record.updated_at) == "1767225600"
    assert water.parse("1767225600") == record.updated_at
