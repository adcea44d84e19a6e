"""Shared connector parts the Magento connector brought, each tested on its own (no HTTP): paging by
a body's total count, message placeholders, keys in nested and listed free text, a parent's
placeholders in a stream's parameters, stock a pool of locations holds back, and a login token
dropped once."""
from __future__ import annotations

import pytest

import json
from typing import Any

import requests

from connectors.auth import LoginToken
from connectors.base import PageRequest, Stream, TotalCountPaginator, held_back, platform_error_message
from connectors.types import StockRecord
from connectors.writes import Marker, texts_at


def response(body: Any) -> requests.Response:
    resp = requests.Response()
    resp.status_code, resp._content = 200, json.dumps(body).encode()
    return resp


def test_total_count_paging_stops_on_the_count_not_on_a_page_that_comes_back_again() -> None:
    pager = TotalCountPaginator("sc[currentPage]", "sc[pageSize]", page_size=2)
    first = PageRequest("products", pager.first_params({"x": 1}))
    assert first.params == {"sc[pageSize]": 2, "x": 1, "sc[currentPage]": 1}
    body = {"items": [{}, {}], "total_count": 4}
    second = pager.next_page(response(body), body, 2, first)
    assert second is not None and second.params["sc[currentPage]"] == 2
    # page 2 is full and a page 3 would answer page 2 again: the count ends the walk
    assert pager.next_page(response(body), body, 2, second) is None
    assert pager.next_page(response({"items": []}), {"items": [], "total_count": 9}, 0, first) is None


def test_magento_messages_have_their_placeholders_filled() -> None:
    assert platform_error_message({"message": "The Product with the \"%1\" SKU doesn't exist.",
                                   "parameters": ["FUT-A"]}) == "The Product with the \"FUT-A\" SKU doesn't exist."
    assert platform_error_message({"message": "The consumer isn't authorized to access %resources.",
                                   "parameters": {"resources": "Magento_Sales::sales"}}) == \
        "The consumer isn't authorized to access Magento_Sales::sales."
    assert platform_error_message({"message": "Value %1 and %2", "parameters": ["a"]}) == "Value a and %2"
    assert platform_error_message({"message": "50% off %total"}) == "50% off %total"
    assert platform_error_message({"message": "Invalid", "errors": [
        {"message": "Field %fieldName", "parameters": {"fieldName": "qty"}}]}) == "Field qty"


def test_a_nested_marker_stamps_its_field_and_finds_the_key_in_a_listed_one() -> None:
    marker = Marker("comment.comment", shown_at="comments[].comment")
    body = marker.stamp({"comment": {"comment": "Backorder cancelled", "is_visible_on_front": 0}, "notify": True}, "k-1")
    assert body == {"comment": {"comment": "Backorder cancelled [idempotency:k-1]", "is_visible_on_front": 0},
                    "notify": True}
    memos = [{"comments": []}, {"comments": [{"comment": "note"}, {"comment": "x [idempotency:k-1]"}]}]
    assert marker.find(memos, "k-1") is memos[1] and marker.find(memos, "k-2") is None
    assert texts_at({"a": [{"b": 1}, {"b": None}, {"c": 2}]}, "a[].b") == ["1"]
    assert Marker("note").stamp({}, "k") == {"note": "[idempotency:k]"}


def test_a_parents_placeholders_fill_a_streams_parameters_and_leave_others() -> None:
    stream = Stream("orders/{order}/memos", "items", TotalCountPaginator(),
                    params={"order_id": "{order}", "query": "last:{last4}", "n": 3})
    at = stream.at(order=42)
    assert at.path == "orders/42/memos" and at.params == {"order_id": "42", "query": "last:{last4}", "n": 3}


def test_what_a_pool_holds_back_is_committed_at_its_first_location_holding_the_sku() -> None:
    records = [StockRecord("1", "A", "showroom", on_hand=2, available=2),
               StockRecord("1", "A", "warehouse", on_hand=5, available=5),
               StockRecord("1", "A", "elsewhere", on_hand=9, available=9),
               StockRecord("2", "B", "showroom", on_hand=1, available=1)]
    asked: list[str] = []

    out = held_back(records, ["warehouse", "showroom"], lambda sku: asked.append(sku) or {"A": 4, "B": 1}[sku])

    assert asked == ["A", "B"]
    assert [(r.location_external_id, r.committed, r.available) for r in out if r.sku == "A"] == [
        ("showroom", None, 2), ("warehouse", 3, 2), ("elsewhere", None, 9)]
    assert (out[3].committed, out[3].available) == (0, 1), "B: nothing held back, committed 0"


def test_a_login_token_is_shared_dropped_once_and_not_retried_when_the_login_fails() -> None:
    logins: list[str] = []
    key = ("https://shop.example", "default", "admin")
    LoginToken._tokens.pop(key, None)
    first = LoginToken(key, lambda: logins.append("t") or f"t{len(logins)}")
    prepared = requests.Request("GET", "https://shop.example/rest").prepare()
    assert first(prepared).headers["Authorization"] == "Bearer t1"
    second = LoginToken(key, lambda: logins.append("t") or f"t{len(logins)}")
    assert second(prepared).headers["Authorization"] == "Bearer t1" and len(logins) == 1
    assert first.refresh() and second.refresh()  # both saw t1 refused: one new login follows
    assert second(prepared).headers["Authorization"] == "Bearer t2"
    assert first(prepared).headers["Authorization"] == "Bearer t2" and len(logins) == 2

    def refused() -> str:
        raise RuntimeError("login refused")
    failing = LoginToken(("https://other.example",), refused)
    with pytest.raises(RuntimeError, match="login refused"):
        failing(prepared)
    assert failing.refresh() is False, "a refused login is not tried again"
