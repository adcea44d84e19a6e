"""Shopify connector against the Shopify stand-in, over real HTTP."""
from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import pytest
import requests

from connectors.base import Connector, utc_iso
from connectors.errors import AuthError, OutcomeUnknownError, SignatureError, TransientError
from connectors.registry import build_connector
from connectors.shopify import ShopifyConnector
from connectors.types import ConnectorConfig, ListingRef

Admin = Any  # tests/connectors/conftest.py::Admin (conftest is not importable: no package here)
WebhookReceiver = Any



def connector(config: ConnectorConfig, sleeps: list[float]) -> ShopifyConnector:
    built = build_connector("shopify", config, sleep=sleeps.append)
    assert isinstance(built, ShopifyConnector)
    return built


def test_registry_builds_a_connector_that_meets_the_interface(shop_config: ConnectorConfig) -> None:
    built = build_connector("shopify", shop_config)
    assert isinstance(built, Connector)
    with pytest.raises(ValueError, match="unknown platform"):
        build_connector("nope", shop_config)


def test_full_fetch_streams_pages_and_keeps_large_ids_exact(shop: Admin, shop_config: ConnectorConfig,
                                                            sleeps: list[float]) -> None:
    seeded = shop.post("seed", {"count": 5, "items": [
        {"sku": "FUTON-QUEEN", "available": 4, "inventory_policy": "continue"}]})
    futon = seeded["items"][0]
    assert int(futon["inventory_item_id"]) > 2**53

    pages = list(connector(shop_config, sleeps).fetch_stock(None))

    assert [len(p.records) for p in pages] == [3, 3]
    assert pages[0].cursor is None, "a full walk must not move the cursor before it finishes"
    assert pages[-1].cursor is not None
    by_sku = {r.sku: r for p in pages for r in p.records}
    assert len(by_sku) == 6
    record = by_sku["FUTON-QUEEN"]
    assert record.inventory_item_id == futon["inventory_item_id"]
    assert record.external_id == futon["variant_id"]
    assert record.parent_external_id == futon["product_id"]
    assert record.available == 4 and record.backorders_allowed is True
    assert record.location_external_id == futon["location_id"]
    # Shopify's page_info rule: only limit and fields may travel with page_info.
    followups = [r for r in shop.requests_log("GET", "products.json") if "page_info" in r["query"]]
    assert followups and all(set(r["query"]) <= {"page_info", "limit", "fields"} for r in followups)


def test_incremental_fetch_reads_only_changed_levels_across_pages(shop: Admin, shop_config: ConnectorConfig,
                                                                  sleeps: list[float]) -> None:
    shop.post("seed", {"count": 8})
    shop.post("clock", {"advance_s": 60})
    shop.post("set_stock", {"sku": "SKU-000000", "available": 1})
    conn = connector(shop_config, sleeps)
    cursor = [p.cursor for p in conn.fetch_stock(None)][-1]
    shop.post("clock", {"advance_s": 60})
    changed = {f"SKU-{i:06d}": i for i in (1, 3, 4, 6)}
    for sku, qty in changed.items():
        shop.post("set_stock", {"sku": sku, "available": qty})

    pages = list(conn.fetch_stock(cursor))

    assert [len(p.records) for p in pages] == [3, 2]
    assert pages[0].cursor == cursor, "intermediate pages keep the previous cursor"
    assert pages[-1].cursor is not None and pages[-1].cursor > cursor
    records = {r.inventory_item_id: r.available for p in pages for r in p.records}
    expected = {shop.item(sku)["inventory_item_id"]: qty for sku, qty in changed.items()}
    # updated_at_min is inclusive: the item changed at the old cursor's second is re-read, not lost.
    expected[shop.item("SKU-000000")["inventory_item_id"]] = 1
    assert records == expected
    assert all(r.sku is None for p in pages for r in p.records)
    assert {r.inventory_item_id for p in conn.fetch_stock(pages[-1].cursor) for r in p.records} == {
        shop.item(sku)["inventory_item_id"] for sku in changed}


def test_fields_is_sent_again_on_every_page_and_the_stand_in_honours_it(
        shop: Admin, shop_config: ConnectorConfig, sleeps: list[float]) -> None:
    shop.post("seed", {"count": 7})

    pages = list(connector(shop_config, sleeps).fetch_stock(None))

    assert sum(len(p.records) for p in pages) == 7
    requests_made = shop.requests_log("GET", "products.json")
    assert len(requests_made) == 3 and sum("page_info" in r["query"] for r in requests_made) == 2
    assert all(r["query"].get("fields") == "id,variants" for r in requests_made), requests_made

    url = f"{shop.root}/admin/api/2025-01/products.json"
    headers = {"X-Shopify-Access-Token": "shpat_sandbox"}
    first = requests.get(url, params={"limit": 3, "fields": "id,variants"}, headers=headers, timeout=5)
    assert set(first.json()["products"][0]) == {"id", "variants"}
    next_url = first.links["next"]["url"]
    assert "fields" not in next_url, "the link carries page_info and limit, as the documented syntax shows"
    narrowed = requests.get(next_url, params={"fields": "id,variants"}, headers=headers, timeout=5)
    assert [set(p) for p in narrowed.json()["products"]] == [{"id", "variants"}] * 3
    whole = requests.get(next_url, headers=headers, timeout=5)
    assert "title" in whole.json()["products"][0], "without fields a page answers every field"
    for extra in ({"updated_at_min": "2020-01-01T00:00:00Z"}, {"status": "any"}):
        refused = requests.get(next_url, params=extra, headers=headers, timeout=5)
        assert refused.status_code == 400 and "page_info" in refused.json()["errors"]


def test_55_locations_are_polled_incrementally_50_ids_at_a_time(
        shop: Admin, shop_config: ConnectorConfig, sleeps: list[float]) -> None:
    shop.post("seed", {"count": 4})
    locations = shop.post("locations", {"count": 54})["location_ids"]
    assert len(locations) == 55
    conn = connector(shop_config, sleeps)
    cursor = [p.cursor for p in conn.fetch_stock(None)][-1]
    assert cursor is not None
    shop.post("clock", {"advance_s": 60})
    main, first_chunk, second_chunk = locations[0], locations[20], locations[53]
    shop.post("set_stock", {"sku": "SKU-000001", "available": 7})
    for n, sku in enumerate(("SKU-000000", "SKU-000002", "SKU-000003")):
        shop.post("set_stock", {"sku": sku, "available": 10 + n, "location_id": first_chunk})
    shop.post("clock", {"advance_s": 60})
    shop.post("set_stock", {"sku": "SKU-000002", "available": 3, "location_id": second_chunk})

    pages = list(conn.fetch_stock(cursor))

    got = {(r.inventory_item_id, r.location_external_id): r.available for p in pages for r in p.records}
    item = {sku: shop.item(sku)["inventory_item_id"] for sku in ("SKU-000000", "SKU-000001", "SKU-000002",
                                                               "SKU-000003")}
    # The seeded levels sit on the old cursor's second: updated_at_min is inclusive, so they come again.
    boundary = {(item[sku], main): 10 for sku in ("SKU-000000", "SKU-000002", "SKU-000003")}
    assert got == {**boundary, (item["SKU-000001"], main): 7, (item["SKU-000000"], first_chunk): 10,
                   (item["SKU-000002"], first_chunk): 11, (item["SKU-000003"], first_chunk): 12,
                   (item["SKU-000002"], second_chunk): 3}
    sent = [r["query"] for r in shop.requests_log("GET", "inventory_levels.json") if "updated_at_min" in r["query"]]
    chunks = [q["location_ids"].split(",") for q in sent]
    assert [len(c) for c in chunks] == [50, 5] and sorted(sum(chunks, [])) == sorted(locations)
    assert all(p.cursor == cursor for p in pages[:-1]), "no chunk but the last may move the cursor"
    newest = max(r.updated_at for p in pages for r in p.records if r.updated_at is not None)
    assert len(pages) == 4 and pages[-1].cursor == utc_iso(newest) and pages[-1].cursor > cursor
    assert list(conn.fetch_stock(pages[-1].cursor))[-1].cursor == pages[-1].cursor


def test_the_stand_in_refuses_more_than_50_ids_in_either_list(shop: Admin) -> None:
    shop.post("seed", {"count": 1})
    locations = shop.post("locations", {"count": 50})["location_ids"]
    url = f"{shop.root}/admin/api/2025-01/inventory_levels.json"
    headers = {"X-Shopify-Access-Token": "shpat_sandbox"}
    for name, ids in (("location_ids", locations), ("inventory_item_ids", [str(2**53 + n) for n in range(51)])):
        refused = requests.get(url, params={name: ",".join(ids)}, headers=headers, timeout=5)
        assert refused.status_code == 422 and name in refused.json()["errors"], refused.text
        allowed = requests.get(url, params={name: ",".join(ids[:50])}, headers=headers, timeout=5)
        assert allowed.status_code == 200


def test_fetch_orders_pages_and_maps_lines(shop: Admin, shop_config: ConnectorConfig, sleeps: list[float]) -> None:
    shop.post("seed", {"items": [{"sku": "FUTON-QUEEN", "available": 10}]})
    for n in range(4):
        shop.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": n + 1, "price": "199.00"}],
                                   "email": f"c{n}@example.com"})

    pages = list(connector(shop_config, sleeps).fetch_orders(None))

    assert [len(p.records) for p in pages] == [3, 1]
    orders = [o for p in pages for o in p.records]
    assert int(orders[0].external_id) > 2**53
    assert orders[1].lines[0].sku == "FUTON-QUEEN" and orders[1].lines[0].quantity == 2
    assert orders[1].lines[0].price_cents == 19900 and orders[1].total_cents == 39800
    assert pages[-1].cursor is not None


def test_429_waits_the_retry_after_the_platform_asked_for(shop: Admin, shop_config: ConnectorConfig,
                                                         sleeps: list[float]) -> None:
    shop.post("seed", {"count": 2})
    shop.post("faults", {"status": 429, "count": 1, "retry_after": "2.0",
                         "body": {"errors": "Exceeded 2 calls per second for api client."}})

    pages = list(connector(shop_config, sleeps).fetch_stock(None))

    assert sum(len(p.records) for p in pages) == 2
    assert sleeps == [2.0]


def test_real_bucket_overflow_answers_429_with_retry_after(shop: Admin, shop_config: ConnectorConfig,
                                                          sleeps: list[float]) -> None:
    shop.post("config", {"bucket_size": 2, "leak_rate": 0.001})
    url = f"{shop.root}/admin/api/2025-01/locations.json"
    headers = {"X-Shopify-Access-Token": "shpat_sandbox"}
    answers = [requests.get(url, headers=headers, timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].headers["X-Shopify-Shop-Api-Call-Limit"] == "2/2"
    assert answers[2].headers["Retry-After"] == "2.0"

    config = replace(shop_config, options={**shop_config.options, "max_retries": 1, "bucket_size": 100})
    with pytest.raises(TransientError) as caught:
        connector(config, sleeps).location_ids()
    assert caught.value.status_code == 429 and caught.value.retry_after_s == 2.0
    # The Retry-After wait, then the pacer's own wait: the 429's "2/2" header resized its bucket.
    assert sleeps[0] == 2.0 and len(sleeps) == 2 and sleeps[1] > 0


def test_5xx_is_retried_then_succeeds(shop: Admin, shop_config: ConnectorConfig, sleeps: list[float]) -> None:
    shop.post("seed", {"count": 2})
    shop.post("faults", {"status": 503, "count": 2})

    pages = list(connector(shop_config, sleeps).fetch_stock(None))

    assert sum(len(p.records) for p in pages) == 2
    assert len(sleeps) == 2 and all(0 < s <= 30 for s in sleeps)


def test_5xx_beyond_the_retry_budget_raises_transient(shop: Admin, shop_config: ConnectorConfig,
                                                     sleeps: list[float]) -> None:
    shop.post("faults", {"status": 500, "count": 10})
    with pytest.raises(TransientError) as caught:
        list(connector(shop_config, sleeps).fetch_stock(None))
    assert caught.value.status_code == 500
    assert len(sleeps) == 3


def test_wrong_token_is_an_auth_error_with_shopifys_message(shop_config: ConnectorConfig,
                                                           sleeps: list[float]) -> None:
    config = replace(shop_config, credentials={"access_token": "shpat_wrong"})
    with pytest.raises(AuthError) as caught:
        list(connector(config, sleeps).fetch_stock(None))
    assert caught.value.status_code == 401
    assert "Invalid API key or access token" in str(caught.value)
    assert sleeps == []


def test_write_back_sets_backorder_policy_and_clamped_quantity(shop: Admin, shop_config: ConnectorConfig,
                                                               sleeps: list[float]) -> None:
    item = shop.post("seed", {"items": [{"sku": "FUTON-QUEEN", "available": 2}]})["items"][0]
    listing = ListingRef(sku="FUTON-QUEEN", external_id=item["variant_id"],
                         inventory_item_id=item["inventory_item_id"], location_external_id=item["location_id"])
    conn = connector(shop_config, sleeps)

    result = conn.push_availability(listing, available=-3, backorder=True)

    assert result.ok and result.status_code == 200
    state = shop.item("FUTON-QUEEN")
    assert state["inventory_policy"] == "continue" and state["available"] == 0
    [set_call] = shop.requests_log("POST", "inventory_levels/set.json")
    assert set_call["body"] == {"location_id": int(item["location_id"]),
                                "inventory_item_id": int(item["inventory_item_id"]), "available": 0}
    [put_call] = shop.requests_log("PUT", "/variants/")
    assert str(put_call["body"]["variant"]["id"]) == item["variant_id"]

    conn.push_availability(listing, available=5, backorder=False)
    state = shop.item("FUTON-QUEEN")
    assert state["inventory_policy"] == "deny" and state["available"] == 5


def test_read_timeout_on_a_write_is_outcome_unknown(shop: Admin, shop_config: ConnectorConfig,
                                                   sleeps: list[float]) -> None:
    item = shop.post("seed", {"items": [{"sku": "FUTON-QUEEN", "available": 2}]})["items"][0]
    shop.post("faults", {"status": 200, "count": 1, "delay_s": 1.0, "path_contains": "set.json",
                         "body": {"inventory_level": {}}})
    config = replace(shop_config, timeout_s=0.3)
    listing = ListingRef(sku="FUTON-QUEEN", external_id=item["variant_id"],
                         inventory_item_id=item["inventory_item_id"], location_external_id=item["location_id"])
    with pytest.raises(OutcomeUnknownError):
        connector(config, sleeps).push_availability(listing, available=1, backorder=False)
    assert sleeps == [], "an unknown outcome is reconciled, never blindly resent"


def test_pacer_slows_down_when_the_call_limit_header_says_full(shop: Admin, shop_config: ConnectorConfig,
                                                              sleeps: list[float]) -> None:
    shop.post("config", {"bucket_size": 40, "leak_rate": 2, "bucket_level": 39})
    conn = connector(replace(shop_config, options={**shop_config.options}), sleeps)

    conn.location_ids()
    assert conn.pacer.level == pytest.approx(40, abs=0.1), "the header resynced the client bucket"
    assert sleeps == []

    shop.post("config", {"bucket_level": 0})
    conn.get_json("locations.json")
    assert len(sleeps) == 1 and 1.0 < sleeps[0] <= 1.5


def test_webhooks_are_verified_and_parsed(shop: Admin, shop_config: ConnectorConfig, sleeps: list[float],
                                          webhook_receiver: WebhookReceiver, webhook_secret: str) -> None:
    item = shop.post("seed", {"items": [{"sku": "FUTON-QUEEN", "available": 5}]})["items"][0]
    shop.post("webhooks", {"address": webhook_receiver.url, "secret": webhook_secret,
                           "topics": ["inventory_levels/update", "orders/create", "products/update"]})
    conn = connector(shop_config, sleeps)

    answer = shop.post("set_stock", {"sku": "FUTON-QUEEN", "available": 0, "inventory_policy": "continue"})
    assert [h["status"] for h in answer["webhooks"]] == [200, 200]
    level_hook, product_hook = webhook_receiver.received
    conn.verify_webhook(level_hook.headers, level_hook.body)
    event = conn.parse_webhook(level_hook.headers, level_hook.body)
    assert event.kind == "inventory_update" and event.topic == "inventory_levels/update"
    assert event.stock[0].inventory_item_id == item["inventory_item_id"] and event.stock[0].available == 0
    assert event.dedupe_key == f"shopify:{level_hook.headers['X-Shopify-Event-Id']}"
    assert event.occurred_at is not None

    product_event = conn.parse_webhook(product_hook.headers, product_hook.body)
    assert product_event.kind == "sku_modified"
    assert product_event.stock[0].sku == "FUTON-QUEEN" and product_event.stock[0].backorders_allowed is True

    shop.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 2}]})
    order_hook = webhook_receiver.received[2]
    conn.verify_webhook(order_hook.headers, order_hook.body)
    order_event = conn.parse_webhook(order_hook.headers, order_hook.body)
    assert order_event.kind == "order_created" and order_event.orders[0].lines[0].sku == "FUTON-QUEEN"
    assert int(order_event.orders[0].external_id) > 2**53


def test_bad_webhook_signatures_are_refused(shop: Admin, shop_config: ConnectorConfig, sleeps: list[float],
                                            webhook_receiver: WebhookReceiver, webhook_secret: str) -> None:
    shop.post("seed", {"items": [{"sku": "FUTON-QUEEN", "available": 5}]})
    shop.post("webhooks", {"address": webhook_receiver.url, "secret": webhook_secret,
                           "topics": ["inventory_levels/update"]})
    shop.post("set_stock", {"sku": "FUTON-QUEEN", "available": 1})
    [hook] = webhook_receiver.received
    conn = connector(shop_config, sleeps)

    flipped = bytearray(hook.body)
    flipped[len(flipped) // 2] ^= 0x01
    with pytest.raises(SignatureError):
        conn.verify_webhook(hook.headers, bytes(flipped))
    with pytest.raises(SignatureError):
        connector(replace(shop_config, webhook_secret="other-secret"), sleeps).verify_webhook(hook.headers, hook.body)
    with pytest.raises(SignatureError):
        conn.verify_webhook({k: v for k, v in hook.headers.items() if "Hmac" not in k}, hook.body)
    forged = base64.b64encode(b"\0" * 32).decode()
    with pytest.raises(SignatureError):
        conn.verify_webhook({**hook.headers, "X-Shopify-Hmac-Sha256": forged}, hook.body)


def test_ids_above_2_53_survive_inventory_webhooks_as_strings(shop_config: ConnectorConfig,
                                                              sleeps: list[float]) -> None:
    body = (b'{"inventory_item_id":271878346596884015,"location_id":24826418,"available":null,'
            b'"updated_at":"2024-01-01T10:00:00-05:00"}')
    event = connector(shop_config, sleeps).parse_webhook(
        {"X-Shopify-Topic": "inventory_levels/update", "X-Shopify-Webhook-Id": "w-1"}, body)
    assert event.stock[0].inventory_item_id == "271878346596884015"
    assert event.stock[0].available is None
    assert event.dedupe_key == "shopify:w-1"


def test_a_100k_catalog_is_served_page_by_page(shop: Admin) -> None:
    shop.post("seed", {"count": 100_000})
    url = f"{shop.root}/admin/api/2025-01/products.json"
    headers = {"X-Shopify-Access-Token": "shpat_sandbox"}
    first = requests.get(url, params={"limit": 250, "fields": "id,variants"}, headers=headers, timeout=10)
    assert len(first.json()["products"]) == 250 and "next" in first.links
    second = requests.get(first.links["next"]["url"], headers=headers, timeout=10)
    assert second.json()["products"][0]["variants"][0]["sku"] == "SKU-000250"
    assert "previous" in second.links
    rejected = requests.get(first.links["next"]["url"] + "&status=active", headers=headers, timeout=10)
    assert rejected.status_code == 400 and "page_info" in rejected.json()["errors"]
    assert shop.item("SKU-099999")["available"] == 10


def test_a_write_back_sets_the_policy_once_and_each_location(shop: Admin, shop_config: ConnectorConfig,
                                                            sleeps: list[float]) -> None:
    """Shopify's REST ``set`` is per location, the policy is per variant: 1 + N calls, not 2 × N."""
    item = shop.post("seed", {"items": [{"sku": "FUTON-QUEEN", "available": 2}]})["items"][0]
    listing = ListingRef(sku="FUTON-QUEEN", external_id=item["variant_id"], inventory_item_id=item["inventory_item_id"])
    conn = connector(shop_config, sleeps)

    [result] = conn.push_levels(listing, {item["location_id"]: 6}, backorder=True)

    assert conn.write_calls({"1": 1, "2": 2}) == 3
    assert len(shop.requests_log("PUT", "/variants/")) == 1
    [set_call] = shop.requests_log("POST", "inventory_levels/set.json")
    assert set_call["body"]["available"] == 6 and result.levels == {item["location_id"]: 6}
    assert shop.item("FUTON-QUEEN")["available"] == 6 and shop.item("FUTON-QUEEN")["inventory_policy"] == "continue"
