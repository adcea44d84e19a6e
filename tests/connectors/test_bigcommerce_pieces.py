"""The shared pieces BigCommerce brought, tested alone: the quota pacer, epoch and RFC 2822 times,
the v3 error bodies, a key marked inside a list, a secret header echoed back."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from connectors.base import Marker, QuotaPacer, parse_timestamp, platform_error_message, verify_shared_secret
from connectors.errors import SignatureError


def answered(**headers: str) -> requests.Response:
    response = requests.Response()
    response.headers.update(headers)
    return response


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_quota_pacer_waits_out_the_reset_only_when_the_reserve_is_reached() -> None:
    clock = Clock()
    pacer = QuotaPacer("X-Rate-Limit-Requests-Left", "X-Rate-Limit-Time-Reset-Ms", reserve=1, clock=clock,
                       sleep=clock.sleep)
    assert pacer.acquire() == 0, "nothing known before the first answer"
    pacer.observe(answered(**{"X-Rate-Limit-Requests-Left": "5", "X-Rate-Limit-Time-Reset-Ms": "12000"}))
    assert pacer.acquire() == 0 and clock.slept == []
    pacer.observe(answered(**{"X-Rate-Limit-Requests-Left": "1", "X-Rate-Limit-Time-Reset-Ms": "12000"}))
    assert pacer.acquire() == pytest.approx(12.0) and clock.slept == [pytest.approx(12.0)]
    assert pacer.acquire() == 0, "a new window: the next answer tells what is left of it"
    pacer.observe(answered(**{"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "3000"}))
    clock.now += 5  # the window reset while we were busy elsewhere
    assert pacer.acquire() == 0
    pacer.observe(answered())  # an answer without the headers (a platform error page) changes nothing
    assert pacer.left is None


def test_timestamps_as_epoch_seconds_and_rfc_2822() -> None:
    assert parse_timestamp(1561482670) == datetime(2019, 6, 25, 17, 11, 10, tzinfo=timezone.utc)
    assert parse_timestamp("Wed, 05 Dec 2018 20:16:55 +0000") == datetime(2018, 12, 5, 20, 16, 55, tzinfo=timezone.utc)
    assert parse_timestamp("2018-12-05T20:16:55Z") == datetime(2018, 12, 5, 20, 16, 55, tzinfo=timezone.utc)
    assert parse_timestamp("not a date") is None and parse_timestamp(True) is None  # type: ignore[arg-type]


def test_bigcommerce_error_bodies_name_their_title_and_fields() -> None:
    assert platform_error_message({"status": 422, "title": "JSON data is missing or invalid",
                                   "type": "/api-docs/getting-started/api-status-codes",
                                   "errors": {"destination": "error.path.missing."}}) == \
        "JSON data is missing or invalid (destination: error.path.missing.)"
    assert platform_error_message({"status": 401, "title": "Unauthorized", "errors": {}}) == "Unauthorized"
    assert platform_error_message({"data": [{"status": 422, "title": "Unable to provide store credit for a guest "
                                                                     "customer."}]}) == \
        "Unable to provide store credit for a guest customer."


def test_a_key_marked_inside_a_list_is_found_on_the_record_or_an_entry() -> None:
    marker = Marker("reason", inside="items")
    body = marker.stamp({"items": [{"item_id": 1, "reason": "late"}], "payments": []}, "bo-1")
    assert body["items"][0]["reason"] == "late [idempotency:bo-1]" and "reason" not in body
    assert marker.carries({"reason": "late [idempotency:bo-1]", "items": []}, "bo-1")
    assert marker.carries({"reason": "", "items": [{"reason": "[idempotency:bo-1]"}]}, "bo-1")
    assert not marker.carries({"reason": "[idempotency:bo-2]", "items": [{"reason": "x"}]}, "bo-1")


def test_a_secret_header_must_be_the_secret_itself() -> None:
    verify_shared_secret("s3cret", b"{}", " s3cret ")
    for secret, value in (("s3cret", "s3cre"), ("s3cret", None), (None, "s3cret")):
        with pytest.raises(SignatureError):
            verify_shared_secret(secret, b"{}", value)
