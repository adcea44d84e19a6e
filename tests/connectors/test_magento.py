"""Magento 2 / Adobe Commerce connector against the Magento stand-in, over real HTTP: full and
incremental polls (legacy and Multi-Source Inventory), write-back of quantity and backorders,
orders, credit memos once per key, auth (ACL refusals, the admin token taken again on 401) and
the store's own signed webhooks."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import requests

from connectors.errors import AuthError, PermanentError, SignatureError, TransientError
from connectors.magento import MagentoConnector, MagentoMsiConnector
from connectors.permissions import missing_permission
from connectors.registry import build_connector, store_problems
from connectors.types import ConnectorConfig, ListingRef, RefundRequest
from sandbox.magento import ADMIN_PASSWORD, ADMIN_USER, DEFAULT_TOKEN

Admin = Any  # tests/connectors/conftest.py::Admin
WebhookReceiver = Any
SC = "searchCriteria"
ITEMS = [{"sku": "FUTON-TWIN", "qty": 3}, {"sku": "FUTON-QUEEN", "qty": 0, "backorders": 2},
         {"sku": "COVER", "qty": 7}, {"sku": "FRAME", "qty": 1},
         {"sku": "FUTON-CONF", "type_id": "configurable", "qty": 0}]


@pytest.fixture
def store(admin_for: Callable[[str, str], Admin]) -> Admin:
    return admin_for("magento", f"mage-{uuid.uuid4().hex[:8]}")


def config(store: Admin, webhook_secret: str = "observer-secret", **options: Any) -> ConnectorConfig:
    return ConnectorConfig(store_key="futon-mage", base_url=store.root, credentials={"access_token": DEFAULT_TOKEN},
                           webhook_secret=webhook_secret, options={"page_size": 2, **options}, timeout_s=5.0)


def connector(cfg: ConnectorConfig, sleeps: list[float] | None = None) -> MagentoConnector:
    built = build_connector("magento", cfg, sleep=(sleeps if sleeps is not None else []).append)
    assert isinstance(built, MagentoConnector)
    return built


def gets(store: Admin, path: str) -> list[dict[str, Any]]:
    return [r for r in store.requests_log("GET", path) if r["path"].endswith(path) or path in r["path"]]


# --- reading ------------------------------------------------------------------------------------


def test_full_legacy_read_walks_the_products_then_every_stock_item_and_stops_on_total_count(store: Admin) -> None:
    store.post("seed", {"items": ITEMS})

    pages = list(connector(config(store)).fetch_stock(None))

    products = gets(store, "/V1/products")
    # four simple products in pages of 2: two requests; page 3 would answer page 2 again
    assert [r["query"][f"{SC}[currentPage]"] for r in products] == ["1", "2"]
    assert products[0]["query"][f"{SC}[filter_groups][0][filters][0][value]"] == "simple,virtual"
    low = gets(store, "/stockItems/lowStock")
    assert [(r["query"]["currentPage"], r["query"]["pageSize"]) for r in low] == [("1", "2"), ("2", "2"), ("3", "2")]
    assert not gets(store, "/stockStatuses/"), "a full read takes no call per SKU"
    figures = {r.external_id: r.available for p in pages for r in p.records if r.available is not None}
    ids = {item["sku"]: item["product_id"] for item in store.get("state/items")["items"]}
    assert figures == {ids["FUTON-TWIN"]: 3, ids["FUTON-QUEEN"]: 0, ids["COVER"]: 7, ids["FRAME"]: 1,
                       ids["FUTON-CONF"]: 0}
    # stock items name only the product id: the products (no figure) are the listings that resolve them,
    # and the configurable, not one of them, stays unmatched
    listings = {r.sku: r.external_id for p in pages for r in p.records if r.sku}
    assert listings == {s: ids[s] for s in ("FUTON-TWIN", "FUTON-QUEEN", "COVER", "FRAME")}
    assert all(p.cursor is None for p in pages[:-1]) and pages[-1].cursor


def test_incremental_read_filters_updated_at_one_second_back_and_reads_stock_statuses(store: Admin) -> None:
    store.post("seed", {"items": ITEMS})
    store.post("clock", {"advance_s": 60})
    store.post("set_stock", {"sku": "FRAME", "qty": 2})  # a product saved in the admin: its row moves
    conn = connector(config(store))
    cursor = [p.cursor for p in conn.fetch_stock(None)][-1]
    store.post("clock", {"advance_s": 90})
    store.post("set_stock", {"sku": "COVER", "qty": 2})
    store.post("set_stock", {"sku": "FUTON-TWIN", "backorders": 1})
    store.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 1}]})  # a checkout: the row stays

    pages = list(conn.fetch_stock(cursor))

    records = {r.sku: r for p in pages for r in p.records}
    # FRAME changed in the cursor's own second: ``gt`` is strict, so that second is read again
    assert set(records) == {"FRAME", "COVER", "FUTON-TWIN"}
    assert records["COVER"].available == 2 and records["FUTON-TWIN"].backorders_allowed is True
    assert records["COVER"].inventory_item_id is not None
    query = gets(store, "/V1/products")[-1]["query"]
    at = f"{SC}[filter_groups][1][filters][0]"
    assert (query[f"{at}[field]"], query[f"{at}[condition_type]"]) == ("updated_at", "gt")
    assert query[f"{at}[value]"] < cursor.replace("T", " ")  # a second before the saved cursor
    assert pages[-1].cursor > cursor
    assert len(gets(store, "/stockStatuses/")) == 3


def test_msi_read_is_per_source_with_the_stocks_reservations_committed_at_its_first_source(store: Admin) -> None:
    store.post("seed", {"msi": True, "sources": ["default", "showroom"], "items": [
        {"sku": "FUTON-TWIN", "sources": {"default": 5, "showroom": 2}}, {"sku": "COVER", "sources": {"showroom": 4}}]})
    store.post("create_order", {"lines": [{"sku": "FUTON-TWIN", "quantity": 3}]})

    conn = connector(config(store, msi=True, stock_id=1))
    assert isinstance(conn, MagentoMsiConnector)
    records = {(r.sku, r.location_external_id): r for p in conn.fetch_stock(None) for r in p.records if r.sku}

    twin = records[("FUTON-TWIN", "default")]
    assert (twin.on_hand, twin.committed, twin.available) == (5, 3, 2), "3 reserved by the order, at the first source"
    assert records[("FUTON-TWIN", "showroom")].available == 2
    assert records[("COVER", "showroom")].available == 4
    assert sum(r.available or 0 for (sku, _), r in records.items() if sku == "FUTON-TWIN") == \
        store.item("FUTON-TWIN")["salable"]
    search = gets(store, "/inventory/source-items")[0]["query"]
    assert search[f"{SC}[filter_groups][0][filters][0][condition_type]"] == "in"
    assert set(search[f"{SC}[filter_groups][0][filters][0][value]"].split(",")) == {"FUTON-TWIN", "COVER"}
    assert len(gets(store, "/get-product-salable-quantity/")) == 2


def test_msi_routes_do_not_exist_where_multi_source_inventory_is_off(store: Admin) -> None:
    store.post("seed", {"items": ITEMS})
    with pytest.raises(PermanentError, match="Request does not match any route") as caught:
        list(connector(config(store, msi=True)).fetch_stock(None))
    assert caught.value.status_code == 404


# --- write-back ---------------------------------------------------------------------------------


def test_legacy_write_back_sets_quantity_status_and_backorders_in_one_put(store: Admin) -> None:
    store.post("seed", {"items": ITEMS})
    item = store.item("COVER")
    conn, listing = connector(config(store)), ListingRef("COVER", item["product_id"], inventory_item_id=item["item_id"])

    sold_out = conn.push_availability(listing, 0, backorder=True)
    after = store.item("COVER")
    assert sold_out.ok and sold_out.levels == {None: 0}
    assert (after["qty"], after["is_in_stock"], after["backorders"], after["use_config_backorders"]) == (0, True, 2, False)
    restocked = conn.push_levels(listing, {None: 4, "x": 2}, backorder=False)
    assert restocked[0].levels == {None: 6} and conn.write_calls({None: 4, "x": 2}) == 1
    after = store.item("COVER")
    assert (after["qty"], after["is_in_stock"], after["backorders"]) == (6, True, 0)
    put = store.requests_log("PUT", "/stockItems/")[-1]
    assert put["path"].endswith(f"/V1/products/COVER/stockItems/{item['item_id']}")
    assert put["body"] == {"stockItem": {"use_config_backorders": False, "backorders": 0, "qty": 6,
                                         "is_in_stock": True, "manage_stock": True}}


def test_msi_write_back_sets_every_source_in_one_post_then_backorders(store: Admin) -> None:
    store.post("seed", {"msi": True, "sources": ["default", "showroom"], "items": [
        {"sku": "FUTON-TWIN", "sources": {"default": 5, "showroom": 2}}]})
    item = store.item("FUTON-TWIN")
    conn = connector(config(store, msi=True))

    [result] = conn.push_levels(ListingRef("FUTON-TWIN", item["product_id"]), {"default": 0, "showroom": 1},
                                backorder=True)

    assert result.ok and result.levels == {"default": 0, "showroom": 1} and conn.write_calls({"a": 1, "b": 2}) == 2
    after = store.item("FUTON-TWIN")
    assert after["sources"] == {"default": 0, "showroom": 1} and after["backorders"] == 2
    writes = [r for r in store.requests_log() if r["method"] in ("PUT", "POST")]
    # sources first: the stock item's save then posts the default source's new figure (our echo)
    assert [(r["method"], r["path"].rsplit("/V1/", 1)[1]) for r in writes] == [
        ("POST", "inventory/source-items"), ("PUT", f"products/FUTON-TWIN/stockItems/{item['product_id']}")]
    assert writes[0]["body"]["sourceItems"] == [
        {"sku": "FUTON-TWIN", "source_code": "default", "quantity": 0, "status": 1},
        {"sku": "FUTON-TWIN", "source_code": "showroom", "quantity": 1, "status": 1}]


# --- orders and refunds -------------------------------------------------------------------------


def order(store: Admin) -> dict[str, Any]:
    store.post("seed", {"items": [{"sku": "FUTON-QUEEN", "qty": 0, "backorders": 2}, {"sku": "COVER", "qty": 5}]})
    return store.post("create_order", {"email": "grace@example.com", "firstname": "Grace", "lastname": "Hopper",
                                       "lines": [{"sku": "FUTON-QUEEN", "quantity": 2, "price": "199.00"},
                                                 {"sku": "COVER", "quantity": 1, "price": "25.00"}]})["order"]


def test_orders_are_read_incrementally_with_their_lines(store: Admin) -> None:
    first = order(store)
    store.post("clock", {"advance_s": 60})
    placed = store.post("create_order", {"email": "grace@example.com", "firstname": "Grace", "lastname": "Hopper",
                                         "lines": [{"sku": "FUTON-QUEEN", "quantity": 2, "price": "199.00"},
                                                   {"sku": "COVER", "quantity": 1, "price": "25.00"}]})["order"]
    conn = connector(config(store))

    [page] = list(conn.fetch_orders(None))
    assert [r.external_id for r in page.records] == [str(first["entity_id"]), str(placed["entity_id"])]
    record = page.records[1]
    assert (record.external_id, record.number, record.email, record.customer_name, record.phone) == (
        str(placed["entity_id"]), placed["increment_id"], "grace@example.com", "Grace Hopper", "+15005550006")
    assert [(line.sku, line.quantity, line.price_cents) for line in record.lines] == [
        ("FUTON-QUEEN", 2, 19900), ("COVER", 1, 2500)]
    assert record.total_cents == 42300 and record.status == "processing" and page.cursor
    store.post("clock", {"advance_s": 60})
    later = store.post("create_order", {"lines": [{"sku": "COVER", "quantity": 1}]})["order"]
    # the cursor's own second is read again (``gt`` is strict); the first order is not
    assert [r.external_id for p in conn.fetch_orders(page.cursor) for r in p.records] == [
        str(placed["entity_id"]), str(later["entity_id"])]


def refund(placed: dict[str, Any], key: str, quantity: int = 2, amount_cents: int = 398_00) -> RefundRequest:
    return RefundRequest(order_external_id=str(placed["entity_id"]), line_external_id=str(placed["items"][0]["item_id"]),
                         quantity=quantity, amount_cents=amount_cents, currency="USD", reason="Backorder cancelled",
                         idempotency_key=key, notify_customer=True)


def test_a_refund_is_one_credit_memo_under_retries_even_when_the_answer_was_lost(store: Admin) -> None:
    placed = order(store)
    conn = connector(config(store))
    store.post("faults", {"status": 503, "count": 1, "path_contains": "/refund", "method": "POST", "after_apply": True})

    with pytest.raises(TransientError):
        conn.refund_line(refund(placed, "bo-7:cancel", amount_cents=350_00))
    again = conn.refund_line(refund(placed, "bo-7:cancel", amount_cents=350_00))

    memos = store.get("state/creditmemos")["creditmemos"]
    assert len(memos) == 1 and len(store.requests_log("POST", "/refund")) == 1
    assert (again.status_code, again.external_id, again.amount_cents) == (200, str(memos[0]["entity_id"]), 350_00)
    memo = memos[0]
    assert (memo["grand_total"], memo["adjustment_negative"], memo["shipping_amount"]) == (350.0, 48.0, 0.0)
    assert "[idempotency:bo-7:cancel]" in memo["comments"][0]["comment"]
    assert memo["comments"][0]["is_visible_on_front"] == 0 and memo["comments"][0]["is_customer_notified"] == 0


def test_a_new_credit_memo_is_read_back_by_the_id_magento_answers(store: Admin) -> None:
    placed = order(store)

    result = connector(config(store)).refund_line(replace(refund(placed, "bo-8:cancel", quantity=1, amount_cents=199_00),
                                                          restock=True))

    assert (result.status_code, result.amount_cents, result.kind) == (201, 199_00, "refund")
    assert "offline credit memo" in result.detail
    state = store.get("state/orders")["orders"][0]
    assert state["total_refunded"] == 199.0 and state["items"][0]["qty_refunded"] == 1
    assert store.item("FUTON-QUEEN")["qty"] == -1, "sold 2 from 0 (backorders allowed), 1 returned to stock"


def test_refunding_more_than_was_paid_is_permanent_with_magentos_message(store: Admin) -> None:
    placed = order(store)
    with pytest.raises(PermanentError, match="The most money available to refund is 423.") as caught:
        connector(config(store)).refund_line(refund(placed, "bo-9", amount_cents=500_00))
    assert caught.value.status_code == 400 and store.get("state/creditmemos")["creditmemos"] == []


# --- auth ---------------------------------------------------------------------------------------


def test_an_integration_without_an_acl_resource_is_refused_naming_it(store: Admin) -> None:
    order(store)
    store.post("config", {"integration_acl": ["Magento_Catalog::products", "Magento_CatalogInventory::cataloginventory"]})

    with pytest.raises(AuthError) as caught:
        list(connector(config(store)).fetch_orders(None))

    assert caught.value.status_code == 401
    assert "The consumer isn't authorized to access Magento_Sales::sales." in str(caught.value)
    assert missing_permission("magento", "orders", caught.value) == "the Magento_Sales::sales ACL resource"
    assert len(store.requests_log("GET", "/V1/orders")) == 1, "a static token is not retried"


def test_an_expired_admin_token_is_taken_again_once(store: Admin) -> None:
    store.post("seed", {"items": ITEMS})
    admin = replace(config(store), credentials={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    connector(admin).get_json("stockItems/COVER")
    store.post("clock", {"advance_s": 4 * 3600 + 1})  # admin tokens last four hours

    item = connector(admin).get_json("stockItems/COVER")

    assert item["qty"] == 7
    logins = store.requests_log("POST", "/integration/admin/token")
    assert [r["status"] for r in logins] == [200, 200], "the first token was shared by both connectors"
    assert [r["status"] for r in store.requests_log("GET", "/stockItems/COVER")] == [200, 401, 200]


def test_a_wrong_admin_password_is_one_refused_login(store: Admin) -> None:
    wrong = replace(config(store), credentials={"username": ADMIN_USER, "password": "nope"})
    with pytest.raises(AuthError, match="The account sign-in was incorrect"):
        connector(wrong).get_json("stockItems/COVER")
    assert len(store.requests_log("POST", "/integration/admin/token")) == 1


# --- webhooks -----------------------------------------------------------------------------------


def test_the_observers_signed_delivery_is_parsed_and_a_tampered_copy_refused(
        store: Admin, webhook_receiver: WebhookReceiver) -> None:
    store.post("seed", {"items": ITEMS})
    store.post("webhooks", {"address": webhook_receiver.url, "secret": "observer-secret",
                            "topics": ["stock_item.updated", "order.placed"]})
    store.post("create_order", {"lines": [{"sku": "COVER", "quantity": 2}]})
    store.post("redeliver", {"index": -1, "times": 1})
    conn = connector(config(store))

    placed, stock, again = webhook_receiver.received
    for delivery in (placed, stock, again):
        conn.verify_webhook(delivery.headers, delivery.body)
    event = conn.parse_webhook(stock.headers, stock.body)
    assert event.kind == "inventory_update" and event.topic == "stock_item.updated"
    assert [(r.sku, r.available) for r in event.stock] == [("COVER", 5)] and event.occurred_at is not None
    assert conn.parse_webhook(again.headers, again.body).dedupe_key == event.dedupe_key
    assert conn.parse_webhook(placed.headers, placed.body).orders[0].lines[0].sku == "COVER"
    tampered = stock.body.replace(b'"qty": 5', b'"qty": 50')
    assert tampered != stock.body
    with pytest.raises(SignatureError):
        conn.verify_webhook(stock.headers, tampered)
    with pytest.raises(SignatureError):
        connector(config(store, webhook_secret="another")).verify_webhook(stock.headers, stock.body)


def test_a_store_may_declare_its_own_header_names_and_encoding(store: Admin) -> None:
    body = json.dumps({"data": [{"sku": "A", "source_code": "showroom", "quantity": 4, "status": 1}]}).encode()
    import base64
    import hashlib
    import hmac
    signature = base64.b64encode(hmac.new(b"s3", body, hashlib.sha256).digest()).decode()
    conn = connector(config(store, "s3", webhooks={"signature_header": "X-Hook-Sig", "encoding": "base64",
                                                    "prefix": "", "records": "data"}))
    headers = {"X-Hook-Sig": signature, "X-Magento-Topic": "source_items.updated"}

    conn.verify_webhook(headers, body)
    [record] = conn.parse_webhook(headers, body).stock
    assert (record.sku, record.location_external_id, record.available) == ("A", "showroom", 4)
    assert store_problems("magento", {"options": {"webhooks": {"encoding": "rot13"}}}) == [
        ("options.webhooks.encoding", "unknown encoding 'rot13' (one of base64, hex, secret)")]


def test_anonymous_stock_status_and_a_missing_product_answer_as_magento_does(store: Admin) -> None:
    store.post("seed", {"items": ITEMS})
    api = f"{store.root}/rest/default/V1"
    status = requests.get(f"{api}/stockStatuses/COVER", timeout=5).json()
    assert (status["qty"], status["stock_status"], status["stock_item"]["qty"]) == (7, 1, 7)
    missing = requests.get(f"{api}/products/NOPE", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=5)
    assert missing.status_code == 404 and missing.json() == {
        "message": "The product that was requested doesn't exist. Verify the product and try again."}
    unauthorized = requests.get(f"{api}/products", timeout=5)
    assert unauthorized.status_code == 401 and unauthorized.json() == {
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": "Magento_Catalog::products"}}


def test_discovery_lists_sources_or_the_one_default_stock_and_the_stocked_catalogue(store: Admin) -> None:
    from connectors.discovery import catalogue, locations
    from connectors.subscriptions import SubscriptionsUnsupported, ensure

    store.post("seed", {"msi": True, "sources": ["default", "brooklyn"], "items": ITEMS})
    found = locations(connector(config(store, msi=True)))
    assert [(loc.external_id, loc.name) for loc in found] == [("default", "Default"), ("brooklyn", "Brooklyn")]
    legacy = connector(config(store))
    assert [loc.external_id for loc in locations(legacy)] == ["default"]
    items = [item for page in catalogue(legacy) for item in page]
    assert [item.sku for item in items] == ["FUTON-TWIN", "FUTON-QUEEN", "COVER", "FRAME"], "not the configurable"
    with pytest.raises(SubscriptionsUnsupported, match="no webhook registration API"):
        ensure(legacy, "https://backorders.example/webhooks/futon-mage", "s3", False)


def test_past_the_last_page_the_stand_in_answers_the_last_page_again_and_limits_page_size(store: Admin) -> None:
    store.post("seed", {"items": ITEMS})
    api, auth = f"{store.root}/rest/all/V1/products", {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    last = requests.get(api, params={f"{SC}[pageSize]": 2, f"{SC}[currentPage]": 3}, headers=auth, timeout=5).json()
    beyond = requests.get(api, params={f"{SC}[pageSize]": 2, f"{SC}[currentPage]": 9}, headers=auth, timeout=5).json()
    assert beyond["items"] == last["items"] and len(last["items"]) == 1 and last["total_count"] == 5
    assert beyond["search_criteria"]["current_page"] == 3
    store.post("config", {"input_limits": True})
    refused = requests.get(api, params={f"{SC}[pageSize]": 301}, headers=auth, timeout=5)
    assert refused.status_code == 400 and refused.json() == {
        "message": "Maximum SearchCriteria pageSize is %max", "parameters": {"max": 300}}
    assert len(requests.get(api, headers=auth, timeout=5).json()["items"]) == 5, "20 by default, 5 there are"


def test_no_rate_limit_is_paced_but_a_503_with_retry_after_is_waited_out(store: Admin) -> None:
    store.post("seed", {"items": ITEMS})
    store.post("faults", {"status": 503, "count": 1, "retry_after": "3", "path_contains": "/V1/products"})
    sleeps: list[float] = []

    conn = connector(config(store), sleeps)
    records = [r for p in conn.fetch_stock(None) for r in p.records]

    assert conn.pacer is None, "Magento's REST API publishes no limit to pace by"
    assert sleeps == [3.0] and len([r for r in records if r.sku]) == 4


def test_a_429_from_the_cdn_in_front_is_waited_out_with_or_without_its_retry_after(store: Admin) -> None:
    """Magento's REST API documents no limit headers, but Adobe Commerce on cloud puts Fastly in
    front, which answers 429 past its threshold
    (https://experienceleague.adobe.com/en/docs/experience-cloud-kcs/kbarticles/ka-27428): the read
    waits the ``Retry-After`` when one is sent, else backs off, and goes on."""
    store.post("seed", {"items": ITEMS})
    store.post("faults", {"status": 429, "count": 1, "retry_after": "4", "path_contains": "/V1/products"})
    store.post("faults", {"status": 429, "count": 1, "path_contains": "/stockItems/lowStock"})
    sleeps: list[float] = []

    records = [r for p in connector(config(store), sleeps).fetch_stock(None) for r in p.records]

    ids = {item["sku"]: item["product_id"] for item in store.get("state/items")["items"]}
    figures = {r.external_id: r.available for r in records if r.available is not None}
    assert figures == {ids[sku]: n for sku, n in (("FUTON-TWIN", 3), ("FUTON-QUEEN", 0), ("COVER", 7), ("FRAME", 1),
                                                  ("FUTON-CONF", 0))}, "every page read despite the 429s"
    assert sleeps[0] == 4.0, "the Retry-After sent is waited"
    assert len(sleeps) == 2 and 0 < sleeps[1] <= 30, "no header: backed off, not given up"
    assert [r["status"] for r in store.requests_log("GET", "/stockItems/lowStock")][:2] == [429, 200]
