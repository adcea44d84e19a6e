"""Shared pieces a connector declares instead of writing: refusals recognised as data, markers in
free text or in meta entries, a platform's collection convention, order lines, stock webhooks by
kind, locations, write counts, and the completion a substitute order must end in.

Pure pieces are tested on plain values; locations and the completion guard through the Shopify
and WooCommerce connectors against their stand-ins, over real HTTP.
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, ClassVar, Iterator

import pytest

from connectors.base import (
    Collections,
    JsonWebhookConnector,
    JsonWebhooks,
    LineFields,
    LinkHeaderPaginator,
    Marker,
    Refusal,
    RestConnector,
    StockRecord,
    Storefront,
    marked,
)
from connectors.errors import PermanentError
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, ListingRef, SubstituteOrderRequest
from connectors.woocommerce import WooCommerceConnector

Admin = Any  # tests/connectors/conftest.py::Admin


def refused(status: int, body: dict[str, Any]) -> PermanentError:
    return PermanentError("refused", status_code=status, platform="acme", body=json.dumps(body))


def test_a_refusal_is_recognised_by_its_declared_status_code_and_field() -> None:
    taken = Refusal(status=422, field="code", phrase="already been taken")
    assert taken.matches(refused(422, {"errors": {"code": ["has already been taken"]}}))
    assert not taken.matches(refused(400, {"errors": {"code": ["has already been taken"]}})), "another status"
    assert not taken.matches(refused(422, {"errors": {"code": ["is too short"]}})), "another phrase"
    assert not taken.matches(refused(422, {"errors": {"note": ["has already been taken"]}})), "another field"
    exists = Refusal(code="coupon_code_already_exists")
    assert exists.matches(refused(400, {"code": "coupon_code_already_exists", "message": "exists"}))
    assert not exists.matches(refused(400, {"code": "invalid_amount"}))
    assert not exists.matches(PermanentError("refused", status_code=400, body="<html>")), "not JSON: not it"


def test_a_text_marker_appends_the_key_and_finds_it_lazily() -> None:
    note = Marker("reason")
    assert note.stamp({"reason": "Backordered", "amount": "5.00"}, "k-1") == {
        "reason": marked("Backordered", "k-1"), "amount": "5.00"}
    assert note.stamp({}, "k-1") == {"reason": "[idempotency:k-1]"}
    seen: list[int] = []

    def records() -> Iterator[dict[str, Any]]:
        for n, reason in enumerate(["other", marked("x", "k-1"), marked("y", "k-1")]):
            seen.append(n)
            yield {"id": n, "reason": reason}

    assert note.find(records(), "k-1") == {"id": 1, "reason": marked("x", "k-1")}
    assert seen == [0, 1], "the look-up stops at the first record carrying the key"
    assert note.find([{"id": 3, "reason": marked("x", "k-10")}], "k-1") is None, "k-10 is not k-1"


def test_a_meta_marker_is_the_first_entry_and_matches_key_and_value() -> None:
    meta = Marker("meta_data", "_substitute")
    body = meta.stamp({"meta_data": [{"key": "_for_order", "value": "1001"}]}, "k-1")
    assert body["meta_data"] == [{"key": "_substitute", "value": "k-1"}, {"key": "_for_order", "value": "1001"}]
    assert meta.carries(body, "k-1") and not meta.carries(body, "k-2")
    assert not meta.carries({"meta_data": [{"key": "_other", "value": "k-1"}]}, "k-1"), "another meta key"
    assert not meta.carries({"meta_data": None}, "k-1")


def test_a_collection_convention_names_records_suffix_page_size_and_params() -> None:
    links = LinkHeaderPaginator()
    rest = Collections(links, page_size_param="limit", suffix=".json")
    orders = rest("orders", params={"status": "any"})
    assert (orders.path, orders.records, orders.page_size_param, orders.params) == (
        "orders.json", "orders", "limit", {"status": "any"})
    assert rest("orders/{order}/refunds").at(order=7).path == "orders/7/refunds.json"
    assert rest("orders/{order}/refunds").records == "refunds", "the last segment names the records"
    search = rest("gift_cards/search", records="gift_cards", page_size_param=None)
    assert (search.records, search.page_size_param) == ("gift_cards", None), "declared values win"
    by_key = Collections(links, suffix=".json", params={"limit": 250})
    assert by_key("draft_orders", params={"status": "open"}).params == {"limit": 250, "status": "open"}
    wordpress = Collections(links, page_size_param="per_page", records="$")
    assert wordpress("products").extract([{"id": 1}]) == [{"id": 1}], "a top-level array"


def test_order_lines_read_the_declared_keys_and_the_first_variant_set() -> None:
    woo = LineFields(title="name", variant=("variation_id", "product_id"))
    [simple, variation] = woo.records([
        {"id": 5, "sku": "", "quantity": "2", "name": "Cover", "price": 19.9, "variation_id": 0, "product_id": 40},
        {"id": 6, "sku": "FRAME", "quantity": 1, "name": "Frame", "price": "649.00", "variation_id": 41,
         "product_id": 40}])
    assert (simple.external_id, simple.sku, simple.quantity, simple.title, simple.price_cents) == (
        "5", None, 2, "Cover", 1990)
    assert simple.variant_external_id == "40", "variation_id 0 is no variation: the product is"
    assert variation.variant_external_id == "41"
    assert LineFields().records(None) == []
    assert LineFields().record({"id": 1, "title": "Mat"}).variant_external_id is None


class Stocked(JsonWebhookConnector):
    platform: ClassVar[str] = "acme"
    webhooks = JsonWebhooks(
        signature_headers=("X-Sig",), topic_headers=("X-Topic",),
        kinds={"level.updated": "inventory_update", "product.updated": "sku_modified"},
        stock_records={"inventory_update": lambda level: StockRecord(external_id=str(level["item_id"])),
                       "sku_modified": lambda product: [StockRecord(external_id=str(v["id"]))
                                                        for v in product["variants"]]})


def test_stock_webhooks_are_mapped_by_their_declared_kind() -> None:
    hooks = Stocked()
    level = hooks.parse_webhook({"X-Topic": "level.updated"}, b'{"item_id": 9, "available": 3}')
    assert [r.external_id for r in level.stock] == ["9"] and level.resource_ids == ["9"], "no id: the records name it"
    product = hooks.parse_webhook({"X-Topic": "product.updated"}, b'{"id": 4, "variants": [{"id": 5}, {"id": 6}]}')
    assert [r.external_id for r in product.stock] == ["5", "6"] and product.resource_ids == ["4"]
    other = hooks.parse_webhook({"X-Topic": "customer.updated"}, b'{"id": 8}')
    assert other.stock == [] and other.resource_ids == ["8"]


class Counted(RestConnector):
    platform: ClassVar[str] = "acme"


def test_write_calls_follow_the_declared_requests_per_sku_and_per_location(
        woo_config: ConnectorConfig) -> None:
    levels = {"a": 1, "b": 2, "c": 3}
    assert Counted(woo_config).write_calls(levels) == 3, "one request per location by default"
    flag_then_each = type("FlagThenEach", (Counted,), {"write_requests": (1, 1)})
    one_update = type("OneUpdate", (Counted,), {"write_requests": (1, 0)})
    assert flag_then_each(woo_config).write_calls(levels) == 4
    assert one_update(woo_config).write_calls(levels) == 1


def test_locations_come_from_the_option_else_the_declared_stream_read_once(
        shop: Admin, shop_config: ConnectorConfig) -> None:
    extra = shop.post("locations", {"count": 1})["location_ids"]
    conn = build_connector("shopify", shop_config, sleep=lambda s: None)
    assert conn.location_ids() == extra and conn.location_ids() == extra
    assert len(shop.requests_log("GET", "locations.json")) == 1, "read once per connector"
    configured = build_connector("shopify", replace(shop_config, options={"location_ids": [7, "8"]}))
    assert configured.location_ids() == ["7", "8"]
    assert len(shop.requests_log("GET", "locations.json")) == 1, "the option asks nothing"


def test_a_completion_that_does_not_name_what_it_became_is_permanent(woo: Admin,
                                                                     woo_config: ConnectorConfig) -> None:
    """A shape declaring ``becomes`` refuses a finished record that lacks it (a draft completed
    without its order) instead of reporting a substitute nobody can find."""
    class Strict(WooCommerceConnector):
        substitutes = replace(WooCommerceConnector.substitutes, becomes="order_id", what="acme order")

    seeded = woo.post("seed", {"items": [{"sku": "FUT-FRM-WAL-FULL", "stock_quantity": 4}]})["items"][0]
    order = woo.post("create_order", {"lines": [{"sku": "FUT-FRM-WAL-FULL", "quantity": 1, "price": "699.00"}],
                                      "billing": {"email": "jamie@example.com"}})["order"]
    request = SubstituteOrderRequest(
        idempotency_key="substitute-9", original_order_external_id=str(order["id"]),
        original_order_number=str(order["number"]), listing=ListingRef(sku="FUT-FRM-WAL-FULL",
                                                                        external_id=seeded["id"]),
        title="Walnut frame", quantity=1, unit_price_cents=69900, paid_cents=69900, due_cents=0, currency="USD",
        customer_email="jamie@example.com", customer_name="Jamie Doe", note="Substitute")

    with pytest.raises(PermanentError, match="woocommerce acme order .* completed without order_id"):
        Strict(woo_config, sleep=lambda s: None).place_substitute(request)
    assert len(woo.requests_log("POST", "/wp-json/wc/v3/orders")) == 1, "created once, then refused"


def test_a_storefront_that_writes_no_request_body_cannot_be_built(woo_config: ConnectorConfig) -> None:
    class Bodiless(Storefront):
        platform: ClassVar[str] = "acme"

    with pytest.raises(TypeError, match="credit_body"):
        Bodiless(woo_config)
