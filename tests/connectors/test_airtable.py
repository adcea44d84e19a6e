"""Airtable connector against the Airtable stand-in over real HTTP: the inventory table per SKU and
location, increments by the mapped fields' modification time, the status written back, the
rate limit and its penalty, and webhooks (MAC-verified pings, then payloads by cursor)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from connectors.airtable import AirtableConnector
from connectors.capabilities import Capability, supports
from connectors.errors import SignatureError
from connectors.registry import build_connector, store_problems
from connectors.types import ConnectorConfig, ListingRef, StockRecord
from sandbox.airtable import DEFAULT_TOKEN

Admin = Any  # tests/connectors/conftest.py::Admin
BASE = "appSandboxBase001"
FIELDS = {"sku": "SKU", "quantity": "Quantity", "location": "Location", "committed": "Committed",
          "backorder_status": "Backorder status"}
ROWS = [{"SKU": "FUT-OAK", "Quantity": 12, "Location": "Showroom", "Committed": 3},
        {"SKU": "FUT-OAK", "Quantity": 4, "Location": "Warehouse"},
        {"SKU": "FUT-PINE", "Quantity": 0, "Location": "Warehouse"},
        {"Quantity": 9, "Location": "Warehouse"}]  # no SKU: not a stock row


@pytest.fixture
def admin(admin_for: Callable[[str, str], Admin]) -> Admin:
    instance = admin_for("airtable", f"at-{uuid.uuid4().hex[:8]}")
    instance.post("seed", {"rows": ROWS})
    instance.post("config", {"per_second": 1000})
    return instance


def connector(admin: Admin, sleep: Callable[[float], None] = lambda _s: None, secret: str | None = None,
              **options: Any) -> AirtableConnector:
    config = ConnectorConfig(store_key="futon-airtable", base_url=admin.root, credentials={"token": DEFAULT_TOKEN},
                             webhook_secret=secret, timeout_s=5.0,
                             options={"base_id": BASE, "table": "Inventory", "fields": FIELDS, "page_size": 2,
                                      "backorder_on": "Backordered", "backorder_off": "In stock", **options})
    built = build_connector("airtable", config, sleep=sleep)
    assert isinstance(built, AirtableConnector)
    return built


def figures(records: list[StockRecord]) -> dict[tuple[str | None, str | None], tuple[int | None, ...]]:
    return {(r.sku, r.location_external_id): (r.on_hand, r.committed, r.available) for r in records}


def test_full_read_maps_the_named_fields_per_sku_and_location(admin: Admin) -> None:
    pages = list(connector(admin).fetch_stock(None))
    assert [p.cursor is None for p in pages] == [True, False]  # pageSize 2: two pages, the cursor on the last
    assert figures([r for p in pages for r in p.records]) == {
        ("FUT-OAK", "Showroom"): (12, 3, 9), ("FUT-OAK", "Warehouse"): (4, 0, 4), ("FUT-PINE", "Warehouse"): (0, 0, 0)}
    [first, *_] = admin.requests_log("GET")
    assert first["query"]["pageSize"] == "2" and first["query"]["fields[]"] in FIELDS.values()


def test_increment_reads_rows_whose_mapped_fields_changed_not_our_status_write(admin: Admin) -> None:
    airtable = connector(admin, lookback_s=0)
    time.sleep(2.1)  # times have a second's precision (and the server's Date may lag one): seeded rows are older
    cursor = [p.cursor for p in airtable.fetch_stock(None)][-1]
    time.sleep(1.1)
    oak = next(r for r in airtable.fetch_stock(None) for r in r.records if r.location_external_id == "Showroom")
    airtable.write_backorder_status(ListingRef(sku="FUT-OAK", external_id=oak.external_id), True)
    admin.post("rows", {"edits": [{"match": {"SKU": "FUT-PINE"}, "fields": {"Quantity": 6}}]})
    later = list(airtable.fetch_stock(cursor))
    assert figures([r for p in later for r in p.records]) == {("FUT-PINE", "Warehouse"): (6, 0, 6)}
    assert "LAST_MODIFIED_TIME" in admin.requests_log("GET")[-1]["query"]["filterByFormula"]


def test_backorder_status_is_written_to_its_field(admin: Admin) -> None:
    airtable = connector(admin)
    assert supports(airtable, Capability.BACKORDER_STATUS)
    row = next(r for p in airtable.fetch_stock(None) for r in p.records if r.sku == "FUT-PINE")
    assert airtable.write_backorder_status(ListingRef(sku="FUT-PINE", external_id=row.external_id), True).ok
    assert airtable.write_backorder_status(ListingRef(sku="FUT-PINE", external_id=row.external_id), True).ok
    stored = {r["id"]: r["fields"] for r in admin.get("state/rows")["rows"]}
    assert stored[row.external_id]["Backorder status"] == "Backordered"
    airtable.write_backorder_status(ListingRef(sku="FUT-PINE", external_id=row.external_id), False)
    assert {r["id"]: r["fields"] for r in admin.get("state/rows")["rows"]}[row.external_id]["Backorder status"] == "In stock"
    [patch, *_] = admin.requests_log("PATCH")
    assert len(patch["body"]["records"]) <= 10


def test_a_429_waits_the_penalty_before_the_retry(admin: Admin) -> None:
    admin.post("config", {"per_second": 1, "penalty_s": 0.4})
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    airtable = connector(admin, sleep=sleep, max_retry_after_s=0.4, bucket_size=1000, leak_rate=1000)
    records = [r for p in airtable.fetch_stock(None) for r in p.records]
    assert len(records) == 3 and 0.4 in waits
    statuses = [r["status"] for r in admin.requests_log("GET")]
    assert 429 in statuses and statuses[-1] == 200


def test_the_default_penalty_is_thirty_seconds_on_a_fake_clock(admin: Admin) -> None:
    admin.post("config", {"per_second": 1, "penalty_s": 3600})
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the fake clock: the penalty is over once it is waited out
        waits.append(seconds)
        if seconds >= 30:
            admin.post("config", {"penalty_until": 0, "per_second": 1000})

    airtable = connector(admin, sleep=sleep, bucket_size=1000, leak_rate=1000)
    assert len([r for p in airtable.fetch_stock(None) for r in p.records]) == 3
    assert 30.0 in waits


def test_client_pacing_keeps_five_requests_a_second(admin: Admin) -> None:
    waits: list[float] = []
    airtable = connector(admin, sleep=waits.append, page_size=1)
    list(airtable.fetch_stock(None))  # four pages: one request past the bucket of five is not reached
    list(airtable.fetch_stock(None))
    assert waits and all(0 < w <= 1 for w in waits)


def test_connectors_of_one_base_share_its_pacing(admin: Admin) -> None:
    waits: list[float] = []
    first, second = connector(admin, sleep=waits.append), connector(admin, sleep=waits.append)
    assert first.pacer is second.pacer
    for airtable in (first, second, first):  # two requests each: six against one bucket of five
        list(airtable.fetch_stock(None))
    assert waits


def signed(secret: str, body: bytes) -> dict[str, str]:
    mac = hmac.new(base64.b64decode(secret), body, hashlib.sha256).hexdigest()
    return {"X-Airtable-Content-MAC": f"hmac-sha256={mac}"}


def test_webhook_created_then_pings_verified_and_payloads_read_once(admin: Admin, webhook_receiver: Any) -> None:
    airtable = connector(admin)
    [made] = airtable.ensure_subscriptions(webhook_receiver.url, None, False)
    assert made.outcome == "created" and made.secret and made.expires_at is not None
    [again] = airtable.ensure_subscriptions(webhook_receiver.url, made.secret, False)
    assert again.outcome == "renewed" and again.external_id == made.external_id
    admin.post("rows", {"edits": [{"match": {"SKU": "FUT-PINE"}, "fields": {"Quantity": 2}}]})
    [ping] = webhook_receiver.received
    hooked = connector(admin, secret=made.secret)
    hooked.verify_webhook(ping.headers, ping.body)
    event = hooked.parse_webhook(ping.headers, ping.body)
    assert hooked.parse_webhook(ping.headers, ping.body).dedupe_key == event.dedupe_key
    assert event.kind == "inventory_update" and not event.stock and hooked.thin_webhooks
    assert figures(hooked.resolve_webhook(event).stock) == {("FUT-PINE", "Warehouse"): (2, 0, 2)}
    later = connector(admin, secret=made.secret)  # another task's connector in the same process
    assert later.resolve_webhook(event).stock == []  # the cursor moved past that payload


def test_forged_pings_are_refused(admin: Admin) -> None:
    secret = base64.b64encode(b"k" * 32).decode()
    body = json.dumps({"base": {"id": BASE}, "webhook": {"id": "achX"}, "timestamp": "2026-01-01T00:00:00.000Z"}).encode()
    airtable = connector(admin, secret=secret)
    airtable.verify_webhook(signed(secret, body), body)
    for headers in ({}, signed(base64.b64encode(b"x" * 32).decode(), body), {"X-Airtable-Content-MAC": "sha256=00"}):
        with pytest.raises(SignatureError):
            airtable.verify_webhook(headers, body)
    with pytest.raises(SignatureError):
        airtable.verify_webhook(signed(secret, body), body + b" ")
    with pytest.raises(SignatureError, match="not base64"):  # a secret pasted wrong is a refusal, not a crash
        connector(admin, secret="not base64!").verify_webhook(signed(secret, body), body)


def test_config_check_accepts_the_mapping_and_names_a_bad_base() -> None:
    good = {"options": {"base_id": BASE, "table": "Inventory", "fields": FIELDS}}
    assert store_problems("airtable", good) == []
    assert [k for k, _ in store_problems("airtable", {"options": {**good["options"], "base_id": "nope"}})] == [
        "options.base_id"]


def test_config_check_names_a_missing_table_and_an_incomplete_mapping() -> None:
    problems = dict(store_problems("airtable", {"options": {"base_id": BASE, "fields": {"sku": "SKU", "qty": "Q"}}}))
    assert problems["options.table"] == "missing (required)"
    assert "qty (one of" in problems["options.fields"] and "quantity: missing" in problems["options.fields"]


def test_the_status_goes_to_every_row_of_the_sku_ten_rows_a_request(admin: Admin) -> None:
    admin.post("seed", {"rows": [{"SKU": "FUT-ASH", "Quantity": 1, "Location": f"Shelf {n}"} for n in range(12)]})
    airtable = connector(admin)
    some = next(r for p in airtable.fetch_stock(None) for r in p.records)
    assert airtable.write_backorder_status(ListingRef(sku="FUT-ASH", external_id=some.external_id), True).ok
    assert [len(p["body"]["records"]) for p in admin.requests_log("PATCH")] == [10, 2]
    assert {r["fields"]["Backorder status"] for r in admin.get("state/rows")["rows"]} == {"Backordered"}


def test_discover_surveys_the_tables_locations_and_skus(admin: Admin) -> None:
    from connectors.discovery import is_back_office, survey

    airtable = connector(admin)
    found = survey(airtable)
    assert is_back_office(airtable)
    assert [(p.external_id, p.name) for p in found.locations] == [("Showroom", "Showroom"), ("Warehouse", "Warehouse")]
    assert found.items == 2 and "SKUs" in found.counted
