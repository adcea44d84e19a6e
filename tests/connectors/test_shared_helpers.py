"""Shared connector pieces a platform declares instead of writing: strict time filters, the WordPress
page size, refusals behind a 500 (named in code or declared as data), one stock figure per product,
read-back of a taken keyed code, declared credit codes and write outcomes, a declared webhook dedupe
key and order mapping, and collections answered as a top-level array.

The connector-level ones run a minimal connector against the WooCommerce stand-in over real HTTP.
"""
from __future__ import annotations

import json
from typing import Any, ClassVar, Mapping

import pytest
import requests

from connectors.base import (
    Capability,
    JsonWebhookConnector,
    JsonWebhooks,
    KeyedCodes,
    PageNumberPaginator,
    PageRequest,
    RestConnector,
    Stream,
    UnsupportedCapability,
    basic_auth,
    created_or_found,
    full_name,
    keyed_code,
    marked,
    outcome,
    time_after,
    unwrap,
)
from connectors.errors import MalformedPayloadError, PermanentError, TransientError, error_json
from connectors.types import ConnectorConfig, ListingRef, OrderRecord, PushResult

Admin = Any  # tests/connectors/conftest.py::Admin


def answer(headers: Mapping[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.headers.update(headers or {})
    return response


def test_time_after_sends_the_cursor_earlier_in_the_platforms_format() -> None:
    woo = time_after("modified_after", lookback_s=1, utc_offset=False, dates_are_gmt="true")
    assert woo("2026-03-01T10:00:00+00:00") == {"modified_after": "2026-03-01T09:59:59", "dates_are_gmt": "true"}
    assert woo("2026-03-01T12:00:00+02:00")["modified_after"] == "2026-03-01T09:59:59", "sent as UTC"
    assert time_after("updated_since")("2026-03-01T10:00:00Z") == {"updated_since": "2026-03-01T10:00:00+00:00"}
    assert woo("not a time") == {}, "a cursor that does not parse asks for everything"


def test_page_number_paginator_keeps_the_page_size_the_stream_asked_for() -> None:
    paginator = PageNumberPaginator(page_size=100)
    first = PageRequest("products", paginator.first_params({"per_page": 3, "orderby": "id"}))
    assert first.params == {"per_page": 3, "orderby": "id", "page": 1}
    second = paginator.next_page(answer(), [], 3, first)
    assert second is not None and second.params["page"] == 2, "a full page of 3 is not a short page"
    assert paginator.next_page(answer(), [], 2, second) is None
    assert paginator.next_page(answer({"X-WP-TotalPages": "2"}), [], 3, second) is None


def test_error_json_reads_only_a_json_object() -> None:
    assert error_json(PermanentError("x", body='{"code": "taken", "data": {"status": 400}}'))["code"] == "taken"
    assert error_json(PermanentError("x", body="<html>fatal</html>")) == {}
    assert error_json(PermanentError("x", body="[1, 2]")) == {}
    assert error_json(TransientError("x")) == {}


def test_unwrap_without_a_root_key_keeps_the_object() -> None:
    assert unwrap({"id": 7}, None) == {"id": 7} and unwrap([1], None) == {}
    assert unwrap({"refund": {"id": 7}}, "refund") == {"id": 7}


def test_created_or_found_reads_back_only_a_record_carrying_the_key() -> None:
    taken = PermanentError("exists", status_code=400, platform="acme", body='{"code": "code_exists"}')

    def refuse() -> tuple[dict[str, Any], int]:
        raise taken

    def is_taken(exc: PermanentError) -> bool:
        return error_json(exc).get("code") == "code_exists"

    mine = {"id": 2, "description": marked("credit", "k-1")}
    assert created_or_found("k-1", lambda: ({"id": 1}, 201), is_taken, lambda: []) == ({"id": 1}, 201)
    assert created_or_found("k-1", refuse, is_taken, lambda: [{"id": 3}, mine], field="description") == (mine, 200)
    with pytest.raises(PermanentError, match="acme: coupon c-2 exists but does not carry idempotency key k-2") \
            as caught:
        created_or_found("k-2", refuse, is_taken, lambda: [mine], field="description", what="coupon c-2")
    assert caught.value.__cause__ is taken
    with pytest.raises(PermanentError) as other:
        created_or_found("k-1", refuse, lambda exc: False, lambda: [mine])
    assert other.value is taken, "any other refusal is the caller's"


class Hooks(JsonWebhookConnector):
    platform: ClassVar[str] = "acme"
    webhooks = JsonWebhooks(signature_headers=("X-Sig",), topic_headers=("X-Topic",), kinds={},
                            dedupe=lambda topic, headers, payload, body: f"{topic}:{payload['id']}:{payload['rev']}")


def test_a_declared_dedupe_key_replaces_the_delivery_header() -> None:
    hooks = Hooks()
    body = json.dumps({"id": 4, "rev": 9}).encode()
    event = hooks.parse_webhook({"X-Topic": "item.updated", "X-Delivery": "d-1"}, body)
    assert event.dedupe_key == "acme:item.updated:4:9" and event.resource_ids == ["4"]
    with pytest.raises(MalformedPayloadError, match="lacks 'rev'"):
        hooks.parse_webhook({"X-Topic": "item.updated"}, b'{"id": 4}')


class OneFigure(RestConnector):
    """A WordPress-style store holding one stock figure per product; refusals behind a 500 named."""

    platform: ClassVar[str] = "onefigure"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.STOCK_WRITE})
    api_prefix: ClassVar[str] = "/wp-json/wc/v3"
    auth = basic_auth("consumer_key", "consumer_secret")
    stock_per_location: ClassVar[bool] = False

    def is_final(self, error: TransientError) -> bool:
        return error_json(error).get("code") == "cannot_ever"

    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        body = {"stock_quantity": available, "manage_stock": True}
        response = self.request("PUT", f"products/{listing.external_id}", json_body=body)
        return self.push_result(response, body, {None: available})


def test_one_figure_per_product_is_one_write_of_the_locations_sum(woo: Admin, woo_config: ConnectorConfig) -> None:
    woo.post("seed", {"items": [{"sku": "COVER", "stock_quantity": 7}]})
    conn = OneFigure(woo_config, sleep=lambda s: None)

    [result] = conn.push_levels(ListingRef(sku="COVER", external_id=woo.item("COVER")["id"]),
                                {"a": 4, "b": 3, "c": -2}, backorder=False)

    assert conn.write_calls({"a": 4, "b": 3, "c": -2}) == 1 and result.levels == {None: 7}
    assert [put["body"]["stock_quantity"] for put in woo.requests_log("PUT")] == [7]


def test_a_refusal_behind_a_500_is_permanent_and_not_retried(woo: Admin, woo_config: ConnectorConfig) -> None:
    sleeps: list[float] = []
    conn = OneFigure(woo_config, sleep=sleeps.append)
    woo.post("faults", {"status": 500, "count": 1, "body": {"code": "cannot_ever", "message": "No."}})
    with pytest.raises(PermanentError, match="No.") as caught:
        conn.get_json("products")
    assert caught.value.status_code == 500 and not isinstance(caught.value, TransientError) and sleeps == []

    woo.post("faults", {"status": 500, "count": 1, "body": {"code": "try_again", "message": "Busy."}})
    assert conn.get_json("products") == [] and len(sleeps) == 1, "any other 500 stays transient"


class DeclaredRefusals(RestConnector):
    """Refusals behind a 500 declared as data: a body ``code`` and the messages that are final."""

    platform: ClassVar[str] = "declared"
    api_prefix: ClassVar[str] = "/wp-json/wc/v3"
    auth = basic_auth("consumer_key", "consumer_secret")
    final_refusals = {"cannot_ever": frozenset({"No."})}
    credit_codes = KeyedCodes("consumer_secret", prefix="c-", length=10)


def test_declared_final_refusals_are_permanent_and_other_messages_stay_transient(
        woo: Admin, woo_config: ConnectorConfig) -> None:
    sleeps: list[float] = []
    conn = DeclaredRefusals(woo_config, sleep=sleeps.append)
    woo.post("faults", {"status": 500, "count": 1, "body": {"code": "cannot_ever", "message": "No."}})
    with pytest.raises(PermanentError, match="No.") as caught:
        conn.get_json("products")
    assert caught.value.status_code == 500 and not isinstance(caught.value, TransientError) and sleeps == []

    woo.post("faults", {"status": 500, "count": 1, "body": {"code": "cannot_ever", "message": "Busy, try again."}})
    assert conn.get_json("products") == [] and len(sleeps) == 1, "the same code with another message is transient"
    woo.post("faults", {"status": 500, "count": 1, "body": {"code": "try_again", "message": "No."}})
    assert conn.get_json("products") == [] and len(sleeps) == 2, "the same message under another code is transient"
    assert not OneFigure(woo_config).final_refusals, "nothing is final unless declared"


def test_keyed_codes_use_the_option_secret_else_the_named_credential(woo_config: ConnectorConfig) -> None:
    codes = KeyedCodes("consumer_secret", prefix="credit-", length=12)
    by_credential = codes.code({}, {"consumer_secret": "cs"}, "k-1")
    assert by_credential == "credit-" + keyed_code("cs", "k-1", 12) and len(by_credential) == 19
    assert codes.code({"credit_code_secret": "opt"}, {"consumer_secret": "cs"}, "k-1") == \
        "credit-" + keyed_code("opt", "k-1", 12)
    assert KeyedCodes("token").code({}, {"token": "t"}, "k-1") == keyed_code("t", "k-1") and \
        len(KeyedCodes("token").code({}, {"token": "t"}, "k-1")) == 16
    conn = DeclaredRefusals(woo_config)
    assert conn.credit_code("k-2") == conn.credit_code("k-2") == "c-" + keyed_code("cs_sandbox", "k-2", 10)
    assert conn.credit_code("k-2") != conn.credit_code("k-3")
    with pytest.raises(UnsupportedCapability, match="no credit codes declared"):
        OneFigure(woo_config).credit_code("k-2")


def test_outcome_words_a_found_record_and_a_created_one() -> None:
    assert outcome(201, "coupon") == "coupon created"
    assert outcome(200, "refund") == "found the refund an earlier attempt created"


def test_a_stream_whose_body_is_the_list_reads_a_top_level_array() -> None:
    stream = Stream(path="products", records="$", paginator=PageNumberPaginator())
    assert stream.extract([{"id": 1}, {"id": 2}]) == [{"id": 1}, {"id": 2}]
    assert stream.extract({"products": [{"id": 1}]}) == [], "an object is not the list"
    assert Stream(path="p", records="products", paginator=PageNumberPaginator()).extract([{"id": 1}]) == []


def order_of(payload: Mapping[str, Any]) -> OrderRecord:
    return OrderRecord(external_id=str(payload["id"]), number=str(payload["number"]), placed_at=None, email=None,
                       phone=None, customer_name="", lines=[])


class PlainHooks(JsonWebhookConnector):
    platform: ClassVar[str] = "acme"
    webhooks = JsonWebhooks(signature_headers=("X-Sig",), topic_headers=("X-Topic",),
                            kinds={"order.created": "order_created"})


class OrderHooks(PlainHooks):
    webhooks = JsonWebhooks(signature_headers=("X-Sig",), topic_headers=("X-Topic",),
                            kinds={"order.created": "order_created"}, order_record=order_of)


def test_a_declared_order_record_maps_order_created_deliveries() -> None:
    body = json.dumps({"id": 8, "number": "1008"}).encode()
    event = OrderHooks().parse_webhook({"X-Topic": "order.created"}, body)
    assert event.kind == "order_created" and event.resource_ids == ["8"]
    assert [(o.external_id, o.number) for o in event.orders] == [("8", "1008")] and event.stock == []
    undeclared = PlainHooks().parse_webhook({"X-Topic": "order.created"}, body)
    assert undeclared.orders == [] and undeclared.resource_ids == ["8"], "without an order_record: the id only"
    with pytest.raises(MalformedPayloadError, match="lacks 'number'"):
        OrderHooks().parse_webhook({"X-Topic": "order.created"}, b'{"id": 8}')


def test_full_name_joins_what_is_there() -> None:
    assert full_name({"first_name": "Ada", "last_name": "Lovelace"}) == "Ada Lovelace"
    assert full_name({"first_name": "", "last_name": "Lovelace"}) == "Lovelace"
    assert full_name({"first_name": "Ada", "last_name": None}) == "Ada"
    assert full_name({}) == "" and full_name(None) == ""
