"""WooCommerce connector against the WooCommerce stand-in, over real HTTP."""
from __future__ import annotations

import email.utils
import hashlib
import time
from dataclasses import replace
from typing import Any

import pytest
import requests

from connectors.errors import AuthError, MalformedPayloadError, PermanentError, SignatureError, TransientError
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, ListingRef
from connectors.woocommerce import WooCommerceConnector

Admin = Any  # tests/connectors/conftest.py::Admin (conftest is not importable: no package here)
WebhookReceiver = Any

CATALOG = {"count": 4, "items": [
    {"sku": "FUTON", "type": "variable", "manage_stock": False, "variations": [
        {"sku": "FUTON-TWIN", "stock_quantity": 3}, {"sku": "FUTON-QUEEN", "stock_quantity": 0}]},
    {"sku": "COVER", "stock_quantity": 7, "backorders": "notify"},
]}


def connector(config: ConnectorConfig, sleeps: list[float]) -> WooCommerceConnector:
    built = build_connector("woocommerce", config, sleep=sleeps.append)
    assert isinstance(built, WooCommerceConnector)
    return built


def test_full_fetch_pages_products_and_expands_variations(woo: Admin, woo_config: ConnectorConfig,
                                                          sleeps: list[float]) -> None:
    woo.post("seed", CATALOG)

    pages = list(connector(woo_config, sleeps).fetch_stock(None))

    assert len(pages) == 2
    assert pages[0].cursor is None and pages[-1].cursor is not None
    records = {r.sku: r for p in pages for r in p.records}
    assert set(records) == {"SKU-000010", "SKU-000011", "SKU-000012", "SKU-000013", "FUTON-TWIN", "FUTON-QUEEN",
                            "COVER"}
    parent = woo.item("FUTON")
    assert records["FUTON-TWIN"].parent_external_id == parent["id"]
    assert records["FUTON-TWIN"].available == 3
    assert records["COVER"].backorders_allowed is True and records["COVER"].parent_external_id is None
    first = woo.requests_log("GET", "/products")[0]["query"]
    assert first["per_page"] == "3" and first["page"] == "1" and first["orderby"] == "id"


def test_incremental_fetch_uses_modified_after_in_gmt(woo: Admin, woo_config: ConnectorConfig,
                                                     sleeps: list[float]) -> None:
    woo.post("seed", CATALOG)
    woo.post("clock", {"advance_s": 60})
    woo.post("set_stock", {"sku": "COVER", "stock_quantity": 6})
    conn = connector(woo_config, sleeps)
    cursor = [p.cursor for p in conn.fetch_stock(None)][-1]
    woo.post("clock", {"advance_s": 60})
    for sku in ("SKU-000010", "SKU-000012", "SKU-000013"):
        woo.post("set_stock", {"sku": sku, "stock_quantity": 1})

    pages = list(conn.fetch_stock(cursor))

    assert [len(p.records) for p in pages] == [3, 1]
    # modified_after is strict and per second: the connector looks back 1 s, so COVER (changed in the
    # cursor's own second) is re-read rather than risked.
    assert {r.sku for p in pages for r in p.records} == {"SKU-000010", "SKU-000012", "SKU-000013", "COVER"}
    assert pages[-1].cursor > cursor
    query = woo.requests_log("GET", "/products")[-1]["query"]
    assert query["dates_are_gmt"] == "true" and "+" not in query["modified_after"]


def test_fetch_orders_maps_billing_and_lines(woo: Admin, woo_config: ConnectorConfig, sleeps: list[float]) -> None:
    woo.post("seed", CATALOG)
    for n in range(4):
        woo.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 1, "price": "249.50"}],
                                  "billing": {"email": f"c{n}@example.com", "first_name": "Grace"}})

    pages = list(connector(woo_config, sleeps).fetch_orders(None))

    orders = [o for p in pages for o in p.records]
    assert [len(p.records) for p in pages] == [3, 1]
    assert orders[0].email == "c0@example.com" and orders[0].customer_name == "Grace Lovelace"
    line = orders[0].lines[0]
    assert line.sku == "FUTON-QUEEN" and line.price_cents == 24950
    assert line.variant_external_id == woo.item("FUTON-QUEEN")["id"]


def test_wrong_key_is_an_auth_error_with_woocommerces_message(woo_config: ConnectorConfig,
                                                             sleeps: list[float]) -> None:
    config = replace(woo_config, credentials={"consumer_key": "ck_wrong", "consumer_secret": "cs_sandbox"})
    with pytest.raises(AuthError) as caught:
        list(connector(config, sleeps).fetch_stock(None))
    assert caught.value.status_code == 401
    assert "woocommerce_rest_authentication_error: Consumer key is invalid." in str(caught.value)


def test_invalid_parameter_is_a_permanent_error_with_the_message(woo_config: ConnectorConfig,
                                                                sleeps: list[float]) -> None:
    with pytest.raises(PermanentError) as caught:
        connector(woo_config, sleeps).get_json("products", {"per_page": 500})
    assert caught.value.status_code == 400 and "Invalid parameter(s): per_page" in str(caught.value)
    assert not isinstance(caught.value, AuthError)


def test_429_with_an_http_date_retry_after_is_honoured(woo: Admin, woo_config: ConnectorConfig,
                                                      sleeps: list[float]) -> None:
    woo.post("seed", CATALOG)
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    woo.post("faults", {"status": 429, "count": 1, "retry_after": when,
                        "body": {"code": "too_many_requests", "message": "Slow down", "data": {"status": 429}}})

    records = [r for p in connector(woo_config, sleeps).fetch_stock(None) for r in p.records]

    assert len(records) == 7
    assert len(sleeps) == 1 and 1.0 < sleeps[0] <= 5.0


def test_5xx_is_retried_then_succeeds(woo: Admin, woo_config: ConnectorConfig, sleeps: list[float]) -> None:
    woo.post("seed", CATALOG)
    woo.post("faults", {"status": 502, "count": 2, "path_contains": "/variations"})

    records = [r for p in connector(woo_config, sleeps).fetch_stock(None) for r in p.records]

    assert len(records) == 7 and len(sleeps) == 2


def test_write_in_progress_5xx_is_not_retried(woo: Admin, woo_config: ConnectorConfig, sleeps: list[float]) -> None:
    woo.post("seed", CATALOG)
    woo.post("faults", {"status": 500, "count": 1})
    listing = ListingRef(sku="COVER", external_id=woo.item("COVER")["id"])
    with pytest.raises(TransientError):
        connector(woo_config, sleeps).push_availability(listing, available=0, backorder=True)
    assert sleeps == [], "a failed write goes back to the task's retry, which re-checks state first"


def test_write_back_of_backorder_status_on_product_and_variation(woo: Admin, woo_config: ConnectorConfig,
                                                                 sleeps: list[float]) -> None:
    woo.post("seed", CATALOG)
    conn = connector(woo_config, sleeps)
    twin = woo.item("FUTON-TWIN")

    result = conn.push_availability(ListingRef(sku="FUTON-TWIN", external_id=twin["id"],
                                               parent_external_id=twin["parent_id"]), available=-2, backorder=True)

    assert result.ok and result.status_code == 200
    state = woo.item("FUTON-TWIN")
    assert (state["stock_quantity"], state["backorders"], state["stock_status"]) == (0, "notify", "onbackorder")
    [put] = woo.requests_log("PUT")
    assert put["path"].endswith(f"/products/{twin['parent_id']}/variations/{twin['id']}")
    assert put["body"] == {"stock_quantity": 0, "manage_stock": True, "backorders": "notify",
                           "stock_status": "onbackorder"}

    cover = woo.item("COVER")
    conn.push_availability(ListingRef(sku="COVER", external_id=cover["id"]), available=0, backorder=False)
    state = woo.item("COVER")
    assert (state["stock_quantity"], state["backorders"], state["stock_status"]) == (0, "no", "outofstock")


def test_ping_and_signed_webhooks(woo: Admin, woo_config: ConnectorConfig, sleeps: list[float],
                                  webhook_receiver: WebhookReceiver, webhook_secret: str) -> None:
    woo.post("seed", CATALOG)
    conn = connector(woo_config, sleeps)
    answer = woo.post("webhooks", {"address": webhook_receiver.url, "secret": webhook_secret,
                                   "topics": ["product.updated", "order.created"]})
    assert answer["ping"]["status"] == 200
    [ping] = webhook_receiver.received
    conn.verify_webhook(ping.headers, ping.body)
    assert conn.parse_webhook(ping.headers, ping.body).kind == "ping"

    woo.post("set_stock", {"sku": "FUTON-QUEEN", "stock_quantity": 0, "backorders": "notify"})
    hook = webhook_receiver.received[1]
    conn.verify_webhook(hook.headers, hook.body)
    event = conn.parse_webhook(hook.headers, hook.body)
    assert event.kind == "sku_modified" and event.topic == "product.updated"
    record = event.stock[0]
    assert record.sku == "FUTON-QUEEN" and record.backorders_allowed is True
    assert record.parent_external_id == woo.item("FUTON")["id"]
    payload_id = woo.item("FUTON-QUEEN")["id"]
    digest = hashlib.sha256(hook.body).hexdigest()[:32]
    assert event.dedupe_key == \
        f"woocommerce:product:{payload_id}:{woo.item('FUTON-QUEEN')['date_modified_gmt']}:{digest}"

    woo.post("create_order", {"lines": [{"sku": "COVER", "quantity": 2}]})
    order_hook = webhook_receiver.received[2]
    conn.verify_webhook(order_hook.headers, order_hook.body)
    order_event = conn.parse_webhook(order_hook.headers, order_hook.body)
    assert order_event.kind == "order_created" and order_event.orders[0].lines[0].quantity == 2


def test_bad_webhook_signatures_are_refused(woo: Admin, woo_config: ConnectorConfig, sleeps: list[float],
                                            webhook_receiver: WebhookReceiver, webhook_secret: str) -> None:
    woo.post("seed", CATALOG)
    woo.post("webhooks", {"address": webhook_receiver.url, "secret": webhook_secret, "topics": ["product.updated"],
                          "ping": False})
    woo.post("set_stock", {"sku": "COVER", "stock_quantity": 1})
    [hook] = webhook_receiver.received
    conn = connector(woo_config, sleeps)

    flipped = bytearray(hook.body)
    flipped[10] ^= 0x01
    with pytest.raises(SignatureError):
        conn.verify_webhook(hook.headers, bytes(flipped))
    with pytest.raises(SignatureError):
        connector(replace(woo_config, webhook_secret="other"), sleeps).verify_webhook(hook.headers, hook.body)
    unsigned = {k: v for k, v in hook.headers.items() if k.lower() != "x-wc-webhook-signature"}
    with pytest.raises(SignatureError):
        conn.verify_webhook(unsigned, hook.body)
    with pytest.raises(SignatureError):
        conn.verify_webhook(unsigned, b"webhook_id=1&stock_quantity=5")


def test_malformed_payloads_are_rejected(woo_config: ConnectorConfig, sleeps: list[float]) -> None:
    conn = connector(woo_config, sleeps)
    with pytest.raises(MalformedPayloadError):
        conn.parse_webhook({"X-WC-Webhook-Topic": "product.updated"}, b"{not json")
    with pytest.raises(MalformedPayloadError):
        conn.parse_webhook({}, b'{"id": 1}')


def test_sandbox_pagination_headers_follow_the_docs(woo: Admin) -> None:
    woo.post("seed", {"count": 250})
    response = requests.get(f"{woo.root}/wp-json/wc/v3/products", params={"per_page": 100, "page": 2},
                            auth=("ck_sandbox", "cs_sandbox"), timeout=5)
    assert response.headers["X-WP-Total"] == "250" and response.headers["X-WP-TotalPages"] == "3"
    assert "page=3" in response.links["next"]["url"] and "page=1" in response.links["prev"]["url"]
    assert len(response.json()) == 100
    missing = requests.get(f"{woo.root}/wp-json/wc/v3/products", timeout=5)
    assert missing.status_code == 401 and missing.json()["code"] == "woocommerce_rest_cannot_view"


def test_a_100k_catalog_is_served_page_by_page(woo: Admin) -> None:
    woo.post("seed", {"count": 100_000})
    response = requests.get(f"{woo.root}/wp-json/wc/v3/products",
                            params={"per_page": 100, "page": 1000, "orderby": "id", "order": "asc"},
                            auth=("ck_sandbox", "cs_sandbox"), timeout=10)
    assert response.headers["X-WP-TotalPages"] == "1000" and "next" not in response.links
    assert response.json()[-1]["sku"] == f"SKU-{100_009:06d}"


def test_a_write_back_is_one_product_update_per_sku_whatever_the_locations(
        woo: Admin, woo_config: ConnectorConfig, sleeps: list[float]) -> None:
    """WooCommerce holds one stock figure per product: two of our locations are one PUT of their sum."""
    woo.post("seed", CATALOG)
    conn = connector(woo_config, sleeps)
    cover = woo.item("COVER")

    [result] = conn.push_levels(ListingRef(sku="COVER", external_id=cover["id"]),
                                {"default": 4, "second": 3}, backorder=False)

    assert conn.write_calls({"default": 4, "second": 3}) == 1 and not conn.stock_per_location
    [put] = woo.requests_log("PUT")
    assert put["body"]["stock_quantity"] == 7 and result.levels == {None: 7}
    assert woo.item("COVER")["stock_quantity"] == 7
