"""Unit tests of the shared connector framework: no server, fake responses and clocks."""
from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import random
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
import requests

from connectors.base import (
    LeakyBucketPacer,
    LinkHeaderPaginator,
    MetaPaginationPaginator,
    OAuth1,
    ODataNextLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    RateLimitHeaders,
    RetryPolicy,
    classify_response,
    hmac_sha256_base64,
    oauth_signature_base_string,
    parse_retry_after,
    shopify_link_paginator,
    verify_base64_hmac,
    with_last_flag,
)
from connectors.errors import AuthError, PermanentError, SignatureError, TransientError


def response(status: int = 200, headers: dict[str, str] | None = None, body: Any = None,
             method: str = "GET", url: str = "https://shop.example/admin/api/2025-01/x.json") -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.headers.update(headers or {})
    resp._content = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    resp.url = url
    resp.request = requests.Request(method, url).prepare()
    return resp


# --- paginators ---------------------------------------------------------------------------------


def test_link_header_paginator_follows_next_and_keeps_only_shopify_params() -> None:
    link = ('<https://shop.example/admin/api/2025-01/products.json?page_info=abc&limit=3&status=active>; '
            'rel="next", <https://shop.example/admin/api/2025-01/products.json?page_info=zzz>; rel="previous"')
    current = PageRequest("products.json", {"limit": 3, "status": "active"})
    nxt = shopify_link_paginator().next_page(response(headers={"Link": link}), None, 3, current)
    assert nxt == PageRequest("https://shop.example/admin/api/2025-01/products.json",
                              {"page_info": "abc", "limit": "3"})
    plain = LinkHeaderPaginator().next_page(response(headers={"Link": link}), None, 3, current)
    assert plain is not None and plain.params["status"] == "active"
    assert shopify_link_paginator().next_page(response(), None, 3, current) is None


def test_shopify_paginator_sends_fields_again_when_the_link_leaves_it_out() -> None:
    link = '<https://shop.example/admin/api/2025-01/products.json?page_info=abc&limit=3>; rel="next"'
    current = PageRequest("products.json", {"limit": 3, "fields": "id,variants", "updated_at_min": "2026-01-01"})
    nxt = shopify_link_paginator().next_page(response(headers={"Link": link}), None, 3, current)
    assert nxt is not None
    assert nxt.params == {"page_info": "abc", "limit": "3", "fields": "id,variants"}, \
        "fields rides along on every page; the filters stay in the cursor"


def test_page_number_paginator_stops_at_total_pages_or_a_short_page() -> None:
    paginator = PageNumberPaginator(page_size=100)
    first = PageRequest("products", paginator.first_params({"orderby": "id"}))
    assert first.params == {"orderby": "id", "page": 1, "per_page": 100}
    second = paginator.next_page(response(headers={"X-WP-TotalPages": "2"}), [], 100, first)
    assert second is not None and second.params["page"] == 2
    assert paginator.next_page(response(headers={"X-WP-TotalPages": "2"}), [], 100, second) is None
    assert paginator.next_page(response(), [], 40, first) is None
    assert paginator.next_page(response(), [], 100, first) is not None


def test_meta_pagination_paginator_reads_bigcommerce_meta() -> None:
    body = {"data": [], "meta": {"pagination": {"current_page": 1, "total_pages": 3}}}
    nxt = MetaPaginationPaginator().next_page(response(), body, 50, PageRequest("catalog/products", {"limit": 50}))
    assert nxt == PageRequest("catalog/products", {"limit": 50, "page": 2})
    last = {"meta": {"pagination": {"current_page": 3, "total_pages": 3}}}
    assert MetaPaginationPaginator().next_page(response(), last, 50, nxt) is None


def test_offset_paginator_advances_by_records_seen() -> None:
    paginator = OffsetPaginator(limit=2)
    first = PageRequest("items", paginator.first_params({}))
    nxt = paginator.next_page(response(), [], 2, first)
    assert nxt is not None and nxt.params["offset"] == 2
    assert paginator.next_page(response(), [], 1, nxt) is None
    with_total = OffsetPaginator(limit=2, total_key="total_count")
    assert with_total.next_page(response(), {"total_count": 4}, 2, nxt) is None


def test_odata_next_link_paginator_follows_the_link_verbatim() -> None:
    body = {"value": [1], "@odata.nextLink": "https://api.bc.example/v2.0/items?$skiptoken=ab%27c"}
    nxt = ODataNextLinkPaginator().next_page(response(), body, 1, PageRequest("items"))
    assert nxt == PageRequest("https://api.bc.example/v2.0/items", {"$skiptoken": "ab'c"})
    assert ODataNextLinkPaginator().next_page(response(), {"value": []}, 0, PageRequest("items")) is None


# --- OAuth 1.0a ---------------------------------------------------------------------------------


def test_oauth_base_string_matches_rfc5849_section_3_4_1_1() -> None:
    url = "http://EXAMPLE.COM:80/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b"
    params = parse_qsl(url.split("?")[1], keep_blank_values=True) + parse_qsl("c2&a3=2+q", keep_blank_values=True)
    params += [("oauth_consumer_key", "9djdj82h48djs9d2"), ("oauth_token", "kkk9d7dh3k39sjv7"),
               ("oauth_signature_method", "HMAC-SHA1"), ("oauth_timestamp", "137131201"),
               ("oauth_nonce", "7d8f3e4a")]
    assert oauth_signature_base_string("POST", url, params) == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26"
        "c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26"
        "oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7")


def test_oauth_hmac_sha1_reproduces_the_published_twitter_vector() -> None:
    signer = OAuth1("xvz1evFS4wEEPTGEFPHBog", "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
                    "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
                    signature_method="HMAC-SHA1", nonce_fn=lambda: "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
                    clock=lambda: 1318622958)
    request = requests.Request(
        "POST", "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
        data={"status": "Hello Ladies + Gentlemen, a signed OAuth request!"}, auth=signer).prepare()
    header = request.headers["Authorization"]
    assert 'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"' in header
    assert "realm" not in header


def test_oauth_hmac_sha256_with_realm_as_netsuite_tba_needs() -> None:
    signer = OAuth1("ck", "cs", "tk", "ts", realm="1234567_SB1", nonce_fn=lambda: "n0nce", clock=lambda: 1700000000)
    url = "https://1234567-sb1.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=12&deploy=1"
    request = requests.Request("POST", url, json={"sku": "A"}, auth=signer).prepare()
    header = request.headers["Authorization"]
    assert header.startswith('OAuth realm="1234567_SB1", ')
    fields = dict(part.split("=", 1) for part in header[len("OAuth "):].split(", "))
    assert unquote(fields["oauth_signature_method"].strip('"')) == "HMAC-SHA256"
    # Independent computation: realm and JSON body are not signed, query parameters are.
    base = oauth_signature_base_string("POST", url, [
        ("script", "12"), ("deploy", "1"), ("oauth_consumer_key", "ck"), ("oauth_nonce", "n0nce"),
        ("oauth_signature_method", "HMAC-SHA256"), ("oauth_timestamp", "1700000000"), ("oauth_token", "tk"),
        ("oauth_version", "1.0")])
    expected = base64.b64encode(hmac.new(b"cs&ts", base.encode(), hashlib.sha256).digest()).decode()
    assert unquote(fields["oauth_signature"].strip('"')) == expected


# --- error classification and retries -----------------------------------------------------------


def test_parse_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("2.0") == 2.0
    assert parse_retry_after("7") == 7.0
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(999_000, usegmt=True), now=1_000_000) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_classify_maps_statuses_to_error_classes_with_platform_messages() -> None:
    assert classify_response(response(200)) is None
    throttled = classify_response(response(429, {"Retry-After": "2.0"}, {"errors": "Exceeded 2 calls per second"}),
                                  platform="shopify")
    assert isinstance(throttled, TransientError) and throttled.retry_after_s == 2.0
    assert "Exceeded 2 calls per second" in str(throttled)
    bigcommerce = classify_response(response(429, {"X-Rate-Limit-Time-Reset-Ms": "1500"}),
                                    rate_limits=RateLimitHeaders("X-Rate-Limit-Time-Reset-Ms", "ms"))
    assert isinstance(bigcommerce, TransientError) and bigcommerce.retry_after_s == 1.5
    assert isinstance(classify_response(response(503)), TransientError)
    cin7 = classify_response(response(503), transient_statuses=(503,))
    assert isinstance(cin7, TransientError)
    denied = classify_response(response(403, body={"errors": "[API] This action requires merchant approval"}))
    assert isinstance(denied, AuthError)
    woo = classify_response(response(400, body={"code": "rest_invalid_param", "message": "Invalid parameter(s): sku",
                                                "data": {"status": 400}}))
    assert type(woo) is PermanentError and "rest_invalid_param: Invalid parameter(s): sku" in str(woo)
    shopify_422 = classify_response(response(422, body={"errors": {"inventory_policy": ["is not included"]}}))
    assert "inventory_policy: is not included" in str(shopify_422)
    assert "<html>oops" in classify_response(response(404, body=b"<html>oops")).body


def test_retry_policy_caps_retry_after_and_jitters_backoff() -> None:
    policy = RetryPolicy(base_backoff_s=1.0, max_backoff_s=8.0, max_retry_after_s=10.0)
    rng = random.Random(7)
    assert policy.delay(0, 2.0, rng) == 2.0
    assert policy.delay(0, 3600.0, rng) == 10.0
    delays = [policy.delay(attempt, None, rng) for attempt in range(6)]
    assert 0.5 <= delays[0] <= 1.0 and all(d <= 8.0 for d in delays) and delays[5] >= 4.0


# --- pacing -------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_leaky_bucket_waits_only_when_full_and_leaks_over_time() -> None:
    clock = FakeClock()
    pacer = LeakyBucketPacer(capacity=4, leak_per_s=2, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        assert pacer.acquire() == 0
    assert pacer.acquire() == pytest.approx(0.5)
    clock.now += 10
    assert pacer.acquire() == 0


def test_leaky_bucket_resyncs_from_the_call_limit_header() -> None:
    clock = FakeClock()
    pacer = LeakyBucketPacer(capacity=40, leak_per_s=2, reserve=2, header="X-Shopify-Shop-Api-Call-Limit",
                             clock=clock, sleep=clock.sleep)
    pacer.observe(response(headers={"X-Shopify-Shop-Api-Call-Limit": "39/80"}))
    assert pacer.capacity == 80 and pacer.acquire() == 0
    pacer.observe(response(headers={"X-Shopify-Shop-Api-Call-Limit": "40/40"}))
    assert pacer.acquire() == pytest.approx(1.5)
    pacer.observe(response(headers={"X-Shopify-Shop-Api-Call-Limit": "garbage"}))
    assert pacer.capacity == 40


# --- webhooks and cursors -----------------------------------------------------------------------


def test_base64_hmac_verification() -> None:
    body = b'{"id": 9007199254740993}'
    signature = hmac_sha256_base64("s3cret", body)
    assert signature == base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    verify_base64_hmac("s3cret", body, signature)
    for secret, sig in (("other", signature), ("s3cret", None), (None, signature),
                        ("s3cret", signature.encode().hex())):
        with pytest.raises(SignatureError):
            verify_base64_hmac(secret, body, sig)


def test_with_last_flag_marks_only_the_final_item() -> None:
    assert list(with_last_flag(iter([1, 2, 3]))) == [(1, False), (2, False), (3, True)]
    assert list(with_last_flag(iter([]))) == []
