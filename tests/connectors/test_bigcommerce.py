"""BigCommerce connector against the BigCommerce stand-in, over real HTTP."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest
import requests

from connectors.bigcommerce import SECRET_HEADER, BigCommerceConnector
from connectors.errors import AuthError, OutcomeUnknownError, PermanentError, SignatureError, TransientError
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, ListingRef, RefundRequest

Admin = Any  # tests/connectors/conftest.py::Admin (conftest is not importable: no package here)
WebhookReceiver = Any

CATALOG = {"locations": 1, "items": [
    {"sku": "COVER", "inventory_level": 7},
    {"sku": "FUTON", "variants": [{"sku": "FUTON-TWIN", "inventory_level": 3}, {"sku": "FUTON-QUEEN", "inventory_level": 0}]},
    {"sku": "PILLOW", "inventory_level": 4, "availability": "preorder"},
    {"sku": "GIFT", "tracking": "none"},
]}


def connector(config: ConnectorConfig, sleeps: list[float], **options: Any) -> BigCommerceConnector:
    built = build_connector("bigcommerce", replace(config, options={**config.options, **options}), sleep=sleeps.append)
    assert isinstance(built, BigCommerceConnector)
    return built


def records(conn: BigCommerceConnector, since: str | None = None) -> dict[tuple[str | None, str | None], Any]:
    return {(r.sku, r.location_external_id): r for page in conn.fetch_stock(since) for r in page.records}


def test_full_fetch_pages_products_with_their_variants_and_moves_the_cursor_on_the_last_page(
        bc: Admin, bc_config: ConnectorConfig, sleeps: list[float]) -> None:
    bc.post("seed", CATALOG)

    pages = list(connector(bc_config, sleeps).fetch_stock(None))

    assert [p.cursor is None for p in pages] == [True, False]
    found = {r.sku: r for p in pages for r in p.records}
    assert {sku: (r.available, r.location_external_id) for sku, r in found.items()} == {
        "COVER": (7, "1"), "FUTON-TWIN": (3, "1"), "FUTON-QUEEN": (0, "1"), "PILLOW": (4, "1"), "GIFT": (None, "1")}
    futon = bc.item("FUTON-TWIN")
    assert found["FUTON-TWIN"].parent_external_id == futon["product_id"] and found["COVER"].parent_external_id is None
    assert found["PILLOW"].backorders_allowed is True and found["COVER"].backorders_allowed is False
    first, second = bc.requests_log("GET", "/v3/catalog/products")
    assert first["query"] == {"include": "variants", "sort": "id", "limit": "2"}
    assert second["query"]["page"] == "2"


def test_incremental_fetch_asks_for_products_modified_since_the_cursor(bc: Admin, bc_config: ConnectorConfig,
                                                                       sleeps: list[float]) -> None:
    bc.post("seed", CATALOG)
    bc.post("clock", {"advance_s": 60})
    bc.post("set_stock", {"sku": "COVER", "quantity": 6})
    conn = connector(bc_config, sleeps)
    cursor = [p.cursor for p in conn.fetch_stock(None)][-1]
    bc.post("clock", {"advance_s": 60})
    bc.post("set_stock", {"sku": "FUTON-QUEEN", "quantity": 5})

    changed = records(conn, cursor)

    # COVER changed in the cursor's own second: read again rather than risked; PILLOW and GIFT are older.
    assert {sku for sku, _ in changed} == {"COVER", "FUTON-TWIN", "FUTON-QUEEN"}
    assert changed[("FUTON-QUEEN", "1")].available == 5
    query = bc.requests_log("GET", "/v3/catalog/products")[-1]["query"]
    assert query["date_modified:min"] < cursor, "one second back: the boundary is re-read, never lost"


def test_with_locations_the_figures_are_the_inventory_items_at_each_location(bc: Admin, bc_config: ConnectorConfig,
                                                                            sleeps: list[float]) -> None:
    bc.post("seed", CATALOG)
    bc.post("set_stock", {"sku": "FUTON-TWIN", "quantity": 9, "location_id": 2})

    found = records(connector(bc_config, sleeps, inventory_locations=True))

    assert found[("FUTON-TWIN", "1")].available == 3 and found[("FUTON-TWIN", "2")].available == 9
    assert ("COVER", "2") not in found, "no level set there"
    assert found[("GIFT", "1")].available is None, "untracked: listed, no figure"
    items = bc.requests_log("GET", "/v3/inventory/items")
    assert items and all(set(r["query"]["product_id:in"].split(",")) <= {bc.item(s)["product_id"] for s in
                                                                         ("COVER", "FUTON-TWIN", "PILLOW", "GIFT")}
                         for r in items)
    only_two = records(connector(bc_config, sleeps, inventory_locations=True, location_ids=[2]))
    assert set(only_two) == {("FUTON-TWIN", "2"), ("GIFT", "1")}


def test_write_back_sets_the_quantity_and_the_backorder_state_of_the_product(bc: Admin, bc_config: ConnectorConfig,
                                                                            sleeps: list[float]) -> None:
    bc.post("seed", CATALOG)
    conn = connector(bc_config, sleeps, backorder_message="Ships in 3 weeks")
    cover = bc.item("COVER")

    result = conn.push_availability(ListingRef(sku="COVER", external_id=cover["product_id"]), available=-2,
                                    backorder=True)

    assert result.ok and result.levels == {"1": 0}
    state = bc.item("COVER")
    assert (state["levels"], state["availability"], state["availability_description"]) == (
        {"1": 0}, "preorder", "Ships in 3 weeks")
    conn.push_availability(ListingRef(sku="COVER", external_id=cover["product_id"]), available=4, backorder=False)
    assert (bc.item("COVER")["levels"], bc.item("COVER")["availability"]) == ({"1": 4}, "available")


def test_write_back_with_locations_is_one_adjustment_for_every_location(bc: Admin, bc_config: ConnectorConfig,
                                                                       sleeps: list[float]) -> None:
    bc.post("seed", CATALOG)
    twin = bc.item("FUTON-TWIN")
    conn = connector(bc_config, sleeps, inventory_locations=True)
    listing = ListingRef(sku="FUTON-TWIN", external_id=twin["variant_id"], parent_external_id=twin["product_id"])

    [result] = conn.push_levels(listing, {"1": 2, "2": 6}, backorder=True)

    assert result.levels == {"1": 2, "2": 6} and conn.write_calls({"1": 2, "2": 6}) == 2
    [adjustment] = bc.requests_log("PUT", "/v3/inventory/adjustments/absolute")
    assert adjustment["body"]["items"] == [{"location_id": 1, "variant_id": int(twin["variant_id"]), "quantity": 2},
                                           {"location_id": 2, "variant_id": int(twin["variant_id"]), "quantity": 6}]
    assert bc.item("FUTON-TWIN")["levels"] == {"1": 2, "2": 6}
    assert bc.item("FUTON-QUEEN")["availability"] == "preorder", "availability is the product's"


def test_a_variant_id_for_a_product_tracked_by_product_is_refused_with_the_documented_title(
        bc: Admin, bc_config: ConnectorConfig, sleeps: list[float]) -> None:
    bc.post("seed", CATALOG)
    cover = bc.item("COVER")
    listing = ListingRef(sku="COVER", external_id=cover["variant_id"], parent_external_id=cover["product_id"])
    with pytest.raises(PermanentError) as caught:
        connector(bc_config, sleeps).push_availability(listing, 1, False)
    assert caught.value.status_code == 422
    assert f"[Item with variant_id {cover['variant_id']} is tracked by product, please update stock by product id]" \
        in str(caught.value)


def test_orders_are_read_with_their_lines_and_incrementally(bc: Admin, bc_config: ConnectorConfig,
                                                           sleeps: list[float]) -> None:
    bc.post("seed", CATALOG)
    for n in range(3):
        bc.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 2, "price": "249.50"}],
                                 "email": f"c{n}@example.com", "customer": {"first_name": "Ada", "last_name": "Byron"}})
    conn = connector(bc_config, sleeps)

    pages = list(conn.fetch_orders(None))

    assert [len(p.records) for p in pages] == [2, 1] and pages[0].cursor is None
    first = pages[0].records[0]
    assert (first.email, first.customer_name, first.status, first.total_cents) == (
        "c0@example.com", "Ada Byron", "open", 49900)
    [line] = first.lines
    assert (line.sku, line.quantity, line.price_cents, line.variant_external_id) == (
        "FUTON-QUEEN", 2, 24950, bc.item("FUTON-QUEEN")["variant_id"])
    assert first.placed_at is not None and first.updated_at is not None
    bc.post("clock", {"advance_s": 60})
    bc.post("create_order", {"lines": [{"sku": "PILLOW", "quantity": 1}]})
    cursor = [p.cursor for p in conn.fetch_orders(None)][-1]
    bc.post("clock", {"advance_s": 60})
    bc.post("create_order", {"lines": [{"sku": "COVER", "quantity": 1}]})
    later = [o for p in conn.fetch_orders(cursor) for o in p.records]
    # min_date_modified is inclusive: the order of the cursor's second comes again, the older ones not.
    assert [o.lines[0].sku for o in later] == ["PILLOW", "COVER"]
    empty = bc.requests_log("GET", "/v2/orders")[-1]
    assert empty["status"] == 204, "past the end BigCommerce answers 204 without a body"


def test_a_refund_is_issued_once_when_its_answer_is_lost_and_the_task_retries(bc: Admin, bc_config: ConnectorConfig,
                                                                             sleeps: list[float]) -> None:
    bc.post("seed", CATALOG)
    order = bc.post("create_order", {"lines": [{"sku": "COVER", "quantity": 2, "price": "30.00"}]})["order"]
    request = RefundRequest(order_external_id=str(order["id"]), line_external_id=str(order["lines"][0]), quantity=1,
                            amount_cents=2500, currency="USD", reason="backorder cancelled", idempotency_key="bo-7:refund")
    conn = connector(bc_config, sleeps)
    bc.post("faults", {"status": 502, "count": 1, "path_contains": "/payment_actions/refunds", "method": "POST",
                       "after_apply": True})

    with pytest.raises(TransientError) as lost:
        conn.refund_line(request)
    assert not isinstance(lost.value, OutcomeUnknownError) and lost.value.status_code == 502
    again = conn.refund_line(request)

    refunds = bc.get(f"state/orders/{order['id']}")["refunds"]
    assert len(refunds) == 1 and again.status_code == 200 and again.external_id == str(refunds[0]["id"])
    assert again.amount_cents == 2500 and "[idempotency:bo-7:refund]" in refunds[0]["reason"]
    assert refunds[0]["payments"] == [{**refunds[0]["payments"][0], "provider_id": "braintree", "amount": 25.0}]
    assert refunds[0]["uses_merchant_override_values"] is True, "25.00 of a 30.00 line"
    assert len(bc.requests_log("POST", "/refund_quotes")) == 1, "the retry found it before quoting again"


def test_a_refund_the_quote_does_not_cover_is_refused_as_permanent(bc: Admin, bc_config: ConnectorConfig,
                                                                  sleeps: list[float]) -> None:
    bc.post("seed", CATALOG)
    order = bc.post("create_order", {"lines": [{"sku": "COVER", "quantity": 1, "price": "30.00"}]})["order"]
    request = RefundRequest(order_external_id=str(order["id"]), line_external_id=str(order["lines"][0]), quantity=1,
                            amount_cents=4000, currency="USD", reason="too much", idempotency_key="bo-8:refund")
    with pytest.raises(PermanentError) as caught:
        connector(bc_config, sleeps).refund_line(request)
    assert caught.value.status_code == 422 and "refund quote" in str(caught.value)
    assert bc.get(f"state/orders/{order['id']}")["refunds"] == []


def test_wrong_token_is_an_auth_error_with_bigcommerces_title(bc_config: ConnectorConfig, sleeps: list[float]) -> None:
    config = replace(bc_config, credentials={"access_token": "wrong"})
    with pytest.raises(AuthError) as caught:
        list(connector(config, sleeps).fetch_stock(None))
    assert caught.value.status_code == 401 and "not a valid combination for this store" in str(caught.value)


def test_a_429_waits_the_reset_the_headers_give(bc: Admin, bc_config: ConnectorConfig) -> None:
    bc.post("seed", CATALOG)
    bc.post("config", {"quota": 5, "window_ms": 400, "used": 5})  # the store's other apps used it up
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        time.sleep(seconds)

    found = {r.sku for p in build_connector("bigcommerce", bc_config, sleep=sleep).fetch_stock(None) for r in p.records}

    assert "COVER" in found
    refused = [r for r in bc.requests_log("GET") if r["status"] == 429]
    assert refused and refused[0]["limit_headers"]["X-Rate-Limit-Requests-Left"] == "0"
    assert waited and 0 < waited[0] <= 0.4 and waited[0] == pytest.approx(
        int(refused[0]["limit_headers"]["X-Rate-Limit-Time-Reset-Ms"]) / 1000)


def test_the_quota_left_paces_requests_before_the_store_refuses_one(bc: Admin, bc_config: ConnectorConfig) -> None:
    bc.post("seed", CATALOG)
    bc.post("config", {"quota": 2, "window_ms": 300, "used": 0})
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        time.sleep(seconds)

    conn = build_connector("bigcommerce", bc_config, sleep=sleep)
    list(conn.fetch_stock(None))
    list(conn.fetch_orders(None))

    assert [r["status"] for r in bc.requests_log("GET") if r["status"] == 429] == []
    assert waited, "Requests-Left reached 0: the next request waited out the reset"
    every = bc.requests_log("GET")
    assert all(set(r["limit_headers"]) == {"X-Rate-Limit-Time-Window-Ms", "X-Rate-Limit-Time-Reset-Ms",
                                           "X-Rate-Limit-Requests-Quota", "X-Rate-Limit-Requests-Left"} for r in every)


def deliveries(bc: Admin, receiver: WebhookReceiver, secret: str) -> None:
    bc.post("webhooks", {"address": receiver.url, "headers": {SECRET_HEADER: secret}, "topics": [
        "store/product/inventory/updated", "store/sku/inventory/updated", "store/order/created",
        "store/sku/inventory/order/updated"]})


def test_webhooks_carry_ids_only_are_checked_by_their_header_and_fetched_by_id(
        bc: Admin, bc_config: ConnectorConfig, sleeps: list[float], webhook_receiver: WebhookReceiver,
        webhook_secret: str) -> None:
    bc.post("seed", CATALOG)
    deliveries(bc, webhook_receiver, webhook_secret)
    bc.post("set_stock", {"sku": "FUTON-QUEEN", "quantity": 6})
    conn = connector(bc_config, sleeps)
    [received] = webhook_receiver.received
    payload = json.loads(received.body)
    assert set(payload) == {"created_at", "store_id", "producer", "scope", "data", "hash"}

    conn.verify_webhook(received.headers, received.body)
    event = conn.parse_webhook(received.headers, received.body)

    assert (event.kind, event.topic, event.stock, event.resource_ids) == (
        "inventory_update", "store/sku/inventory/updated", [], [f"product:{bc.item('FUTON-QUEEN')['product_id']}"])
    assert event.dedupe_key == f"bigcommerce:store/sku/inventory/updated:{payload['hash']}"
    fetched = conn.resolve_webhook(event)
    assert {r.sku: r.available for r in fetched.stock} == {"FUTON-TWIN": 3, "FUTON-QUEEN": 6}
    with pytest.raises(SignatureError):
        conn.verify_webhook({**received.headers, SECRET_HEADER: "guessed"}, received.body)
    with pytest.raises(SignatureError):
        conn.verify_webhook({k: v for k, v in received.headers.items() if k != SECRET_HEADER}, received.body)


def test_an_order_webhook_is_fetched_as_the_order_with_its_lines(bc: Admin, bc_config: ConnectorConfig,
                                                                sleeps: list[float], webhook_receiver: WebhookReceiver,
                                                                webhook_secret: str) -> None:
    bc.post("seed", CATALOG)
    deliveries(bc, webhook_receiver, webhook_secret)
    order = bc.post("create_order", {"lines": [{"sku": "FUTON-TWIN", "quantity": 1}]})["order"]
    conn = connector(bc_config, sleeps)
    topics = [json.loads(r.body)["scope"] for r in webhook_receiver.received]
    assert topics == ["store/order/created", "store/sku/inventory/order/updated"]

    event = conn.resolve_webhook(conn.parse_webhook({}, webhook_receiver.received[0].body))

    [fetched] = event.orders
    assert fetched.external_id == str(order["id"]) and [line.sku for line in fetched.lines] == ["FUTON-TWIN"]
    gone = conn.resolve_webhook(replace(event, orders=[], resource_ids=["order:999999"]))
    assert gone.orders == [] and gone.stock == [], "an order deleted since is no record, not an error"


def test_the_hooks_api_answers_as_documented(bc: Admin) -> None:
    api, auth = f"{bc.root}/v3/hooks", {"X-Auth-Token": "bc_sandbox_token"}
    body = {"scope": "store/order/created", "destination": "https://example.com/hooks", "is_active": True,
            "headers": {SECRET_HEADER: "s"}}
    created = requests.post(api, json=body, headers=auth, timeout=10)
    assert created.status_code == 200 and created.json()["data"]["headers"] == {SECRET_HEADER: "s"}
    again = requests.post(api, json=body, headers=auth, timeout=10)
    assert again.status_code == 422 and again.json()["status"] == 422 and again.json()["title"]
    listed = requests.get(api, headers=auth, timeout=10).json()
    assert listed["meta"]["pagination"]["total"] == 1 and listed["data"][0]["scope"] == "store/order/created"
    assert requests.post(api, json={"scope": "x"}, headers=auth, timeout=10).status_code == 422


def test_a_copy_with_altered_figures_brings_none_of_them(bc: Admin, bc_config: ConnectorConfig, sleeps: list[float],
                                                         webhook_receiver: WebhookReceiver, webhook_secret: str) -> None:
    """BigCommerce signs nothing (only our header is checked), so a body altered on the way cannot be
    refused; it cannot mislead either: its figures are never read, the product it names is fetched,
    and with its ``hash`` kept it is the original's duplicate."""
    bc.post("seed", CATALOG)
    deliveries(bc, webhook_receiver, webhook_secret)
    bc.post("set_stock", {"sku": "FUTON-QUEEN", "quantity": 6})
    conn = connector(bc_config, sleeps)
    [received] = webhook_receiver.received
    payload = json.loads(received.body)
    assert payload["data"]["inventory"]["value"] == 6
    payload["data"]["inventory"]["value"] = 60
    altered = json.dumps(payload).encode()

    conn.verify_webhook(received.headers, altered)
    event = conn.parse_webhook(received.headers, altered)

    assert event.stock == [] and event.dedupe_key == conn.parse_webhook(received.headers, received.body).dedupe_key
    assert {r.sku: r.available for r in conn.resolve_webhook(event).stock} == {"FUTON-TWIN": 3, "FUTON-QUEEN": 6}
