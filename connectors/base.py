"""Shared connector framework: a platform module declares, this module does the work.

After the Singer SDK / Airbyte low-code CDK: a connector names its auth scheme, paginator, pacer
and record mapping; the session, timeouts, error classification, ``Retry-After`` handling, bounded
retries, client-side pacing and webhook HMAC helpers live here once, so a new platform is one small
module instead of another hand-rolled HTTP loop with its own bugs.

Pieces:

* auth schemes (``requests.auth.AuthBase`` subclasses): :class:`HeaderToken`, :class:`BasicAuth`,
  :class:`BearerToken`, :class:`OAuth1` (RFC 5849 HMAC-SHA1/HMAC-SHA256 with realm, as NetSuite
  token-based authentication needs);
* paginators: :class:`LinkHeaderPaginator`, :class:`PageNumberPaginator`,
  :class:`MetaPaginationPaginator`, :class:`OffsetPaginator`, :class:`ODataNextLinkPaginator`;
* :func:`classify_response` / :func:`parse_retry_after`: status → error class, platform message;
* :class:`RetryPolicy` and :class:`LeakyBucketPacer`;
* :class:`RestConnector`: the base every REST platform connector extends;
* :class:`Connector`: the interface tasks rely on;
* webhook helpers: :func:`hmac_sha256_base64`, :func:`verify_base64_hmac`, :func:`header_value`;
* value helpers: :func:`money_cents` / :func:`cents_to_money`, :func:`id_str`, :func:`whole_units`,
  :func:`idempotency_marker`.
"""
from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import random
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping, Protocol, runtime_checkable
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from connectors.errors import (
    AuthError,
    ConnectorError,
    OutcomeUnknownError,
    PermanentError,
    SignatureError,
    TransientError,
)
from connectors.types import (
    ConnectorConfig,
    ListingRef,
    OrderPage,
    PushResult,
    RefundRequest,
    RefundResult,
    StockPage,
    SubstituteOrderRequest,
    SubstituteOrderResult,
    WebhookEvent,
)

SleepFn = Callable[[float], None]
ClockFn = Callable[[], float]

#: Methods whose repetition cannot change the outcome, so a timeout or 5xx may be retried in-call.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --------------------------------------------------------------------------------------------
# The interface tasks rely on
# --------------------------------------------------------------------------------------------


@runtime_checkable
class Connector(Protocol):
    """What every platform connector offers the tasks; nothing here knows Celery or the database.

    Cursors are opaque strings the connector produces. Each page carries the cursor that is safe
    to save once that page is stored: saving it and crashing before the next page never skips a
    record (it may re-deliver some, which the set-based upsert absorbs).
    """

    platform: str
    #: False where the platform holds one stock figure per product, whatever our locations.
    stock_per_location: bool

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Stream stock pages; ``since=None`` is a full fetch of the catalog."""
        ...

    def fetch_orders(self, since: str | None) -> Iterator[OrderPage]:
        """Stream order pages changed since the cursor (all orders when None)."""
        ...

    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        """Write a SKU's sellable quantity and backorder flag back to the channel."""
        ...

    def push_levels(self, listing: ListingRef, levels: Mapping[str | None, int], backorder: bool) -> list[PushResult]:
        """Write a SKU's sellable figures at every platform location in as few product updates as
        the platform allows; each result's ``levels`` says what it set."""
        ...

    def write_calls(self, levels: Mapping[str | None, int]) -> int:
        """How many requests :meth:`push_levels` makes for these levels (for fleet-wide pacing)."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise :class:`SignatureError` unless the raw body carries a valid signature."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Turn a verified delivery into a :class:`WebhookEvent` (MalformedPayloadError if not)."""
        ...

    def refund_line(self, request: RefundRequest) -> RefundResult:
        """Refund one order line to the original payment method, at most once per idempotency key."""
        ...

    def credit_line(self, request: RefundRequest) -> RefundResult:
        """Issue store credit for one order line, at most once per idempotency key."""
        ...

    def place_substitute(self, request: SubstituteOrderRequest) -> SubstituteOrderResult:
        """Order a substitute for a customer on this store, at most once per idempotency key."""
        ...


# --------------------------------------------------------------------------------------------
# Auth schemes
# --------------------------------------------------------------------------------------------


class HeaderToken(AuthBase):
    """A static secret in a named header, e.g. Shopify's ``X-Shopify-Access-Token``."""

    def __init__(self, header: str, token: str, prefix: str = "") -> None:
        self.header = header
        self.token = token
        self.prefix = prefix

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = f"{self.prefix}{self.token}"
        return request


class BearerToken(HeaderToken):
    """``Authorization: Bearer <token>`` (OAuth 2 access tokens, Business Central, Zoho, …)."""

    def __init__(self, token: str) -> None:
        super().__init__("Authorization", token, prefix="Bearer ")


class BasicAuth(HTTPBasicAuth):
    """HTTP Basic, e.g. WooCommerce ``consumer_key:consumer_secret`` over HTTPS."""


def oauth_percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8, then percent-encode everything but ALPHA / DIGIT / ``-._~``."""
    return quote(value.encode("utf-8"), safe="-._~")


def oauth_base_string_uri(url: str) -> str:
    """RFC 5849 §3.4.1.2: lower-case scheme and host, default port dropped, no query/fragment."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", "", ""))


def oauth_normalized_parameters(params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1.3.2: encode each name and value, sort by name then value, join."""
    encoded = sorted((oauth_percent_encode(k), oauth_percent_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def oauth_signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1: ``METHOD&enc(base-uri)&enc(normalized-params)``."""
    return "&".join((
        method.upper(),
        oauth_percent_encode(oauth_base_string_uri(url)),
        oauth_percent_encode(oauth_normalized_parameters(params)),
    ))


class OAuth1(AuthBase):
    """OAuth 1.0a one-legged / token-based signing (RFC 5849), as NetSuite TBA requires.

    NetSuite wants ``HMAC-SHA256`` and ``realm`` = the account id; the realm goes in the header
    but never into the signature base string (RFC 5849 §3.4.1.3.1). Query parameters and
    form-encoded body parameters are signed; JSON bodies are not (they are not parameters).
    ``nonce_fn`` and ``clock`` are injectable so a known test vector can be reproduced.
    """

    _DIGESTS: ClassVar[dict[str, Any]] = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}

    def __init__(self, consumer_key: str, consumer_secret: str, token: str = "", token_secret: str = "",
                 *, realm: str | None = None, signature_method: str = "HMAC-SHA256",
                 nonce_fn: Callable[[], str] | None = None, clock: ClockFn = time.time,
                 version: str | None = "1.0") -> None:
        if signature_method not in self._DIGESTS:
            raise ValueError(f"unsupported OAuth signature method {signature_method!r}")
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.token = token
        self.token_secret = token_secret
        self.realm = realm
        self.signature_method = signature_method
        self.nonce_fn = nonce_fn or (lambda: secrets.token_hex(16))
        self.clock = clock
        self.version = version

    def oauth_params(self) -> list[tuple[str, str]]:
        params = [
            ("oauth_consumer_key", self.consumer_key),
            ("oauth_nonce", self.nonce_fn()),
            ("oauth_signature_method", self.signature_method),
            ("oauth_timestamp", str(int(self.clock()))),
        ]
        if self.token:
            params.append(("oauth_token", self.token))
        if self.version:
            params.append(("oauth_version", self.version))
        return params

    def sign(self, method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
        """Base64 signature of the base string, keyed ``enc(consumer_secret)&enc(token_secret)``."""
        base = oauth_signature_base_string(method, url, params)
        key = f"{oauth_percent_encode(self.consumer_secret)}&{oauth_percent_encode(self.token_secret)}"
        digest = hmac.new(key.encode(), base.encode(), self._DIGESTS[self.signature_method]).digest()
        return base64.b64encode(digest).decode()

    def authorization_header(self, method: str, url: str, body_params: Iterable[tuple[str, str]] = ()) -> str:
        oauth = self.oauth_params()
        query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        signature = self.sign(method, url, [*query, *body_params, *oauth])
        fields = []
        if self.realm is not None:
            fields.append(f'realm="{oauth_percent_encode(self.realm)}"')
        fields += [f'{k}="{oauth_percent_encode(v)}"' for k, v in [*oauth, ("oauth_signature", signature)]]
        return "OAuth " + ", ".join(fields)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body_params: list[tuple[str, str]] = []
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("application/x-www-form-urlencoded") and request.body:
            raw = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
            body_params = parse_qsl(raw, keep_blank_values=True)
        request.headers["Authorization"] = self.authorization_header(
            request.method or "GET", request.url or "", body_params)
        return request


# --------------------------------------------------------------------------------------------
# Paginators
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRequest:
    """The next request to make: a path or absolute URL plus its query parameters."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)


class Paginator(Protocol):
    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        """The request for the page after ``current``, or None when ``current`` was the last."""
        ...


def _split_url(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), dict(parse_qsl(parts.query))


class LinkHeaderPaginator:
    """Follows ``Link: <…>; rel="next"`` (RFC 8288), as Shopify and WooCommerce send.

    ``allowed_params`` keeps only those query keys from the next link; Shopify rejects any
    parameter other than ``limit`` and ``fields`` next to ``page_info`` (the filters are baked
    into the opaque cursor), so its connector passes ``("page_info", "limit", "fields")``.

    ``carried_params`` are sent again from the current request when the next link leaves them
    out: Shopify's documented link syntax carries ``page_info`` and ``limit`` only, and a page
    requested without ``fields`` comes back with every field of every record.
    """

    def __init__(self, allowed_params: Iterable[str] | None = None,
                 carried_params: Iterable[str] = ()) -> None:
        self.allowed_params = frozenset(allowed_params) if allowed_params is not None else None
        self.carried_params = tuple(carried_params)

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        link = response.links.get("next")
        if not link or not link.get("url"):
            return None
        url, params = _split_url(link["url"])
        if self.allowed_params is not None:
            params = {k: v for k, v in params.items() if k in self.allowed_params}
        for key in self.carried_params:
            if key not in params and key in current.params:
                params[key] = current.params[key]
        return PageRequest(url, params)


def shopify_link_paginator() -> LinkHeaderPaginator:
    """Shopify's rule: only ``limit`` and ``fields`` may travel with ``page_info``, and both are
    re-sent on every page (the filters live in the cursor, the field list does not)."""
    return LinkHeaderPaginator(allowed_params=("page_info", "limit", "fields"), carried_params=("limit", "fields"))


class PageNumberPaginator:
    """``?page=N`` paging that stops at a total-pages header (WooCommerce ``X-WP-TotalPages``).

    Without the header it stops at the first short page.
    """

    def __init__(self, page_param: str = "page", size_param: str = "per_page", page_size: int = 100,
                 total_pages_header: str | None = "X-WP-TotalPages") -> None:
        self.page_param = page_param
        self.size_param = size_param
        self.page_size = page_size
        self.total_pages_header = total_pages_header

    def first_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, self.page_param: 1, self.size_param: self.page_size}

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        page = int(current.params.get(self.page_param, 1))
        total = response.headers.get(self.total_pages_header) if self.total_pages_header else None
        if total is not None:
            if page >= int(total):
                return None
        elif record_count < self.page_size:
            return None
        return PageRequest(current.url, {**current.params, self.page_param: page + 1})


class MetaPaginationPaginator:
    """BigCommerce v3: ``{"meta": {"pagination": {"current_page", "total_pages"}}}`` in the body."""

    def __init__(self, page_param: str = "page") -> None:
        self.page_param = page_param

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        pagination = ((body or {}).get("meta") or {}).get("pagination") or {}
        page = int(pagination.get("current_page") or current.params.get(self.page_param, 1))
        total = int(pagination.get("total_pages") or 0)
        if page >= total:
            return None
        return PageRequest(current.url, {**current.params, self.page_param: page + 1})


class OffsetPaginator:
    """``offset``/``limit`` paging (Magento-style searchCriteria, Odoo, Zoho): stop on a short page.

    When ``total_key`` names a body field with the total count, it stops there instead.
    """

    def __init__(self, offset_param: str = "offset", limit_param: str = "limit", limit: int = 100,
                 total_key: str | None = None) -> None:
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.limit = limit
        self.total_key = total_key

    def first_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, self.offset_param: 0, self.limit_param: self.limit}

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        offset = int(current.params.get(self.offset_param, 0)) + record_count
        if self.total_key and isinstance(body, Mapping) and body.get(self.total_key) is not None:
            if offset >= int(body[self.total_key]):
                return None
        elif record_count < self.limit:
            return None
        if record_count == 0:
            return None
        return PageRequest(current.url, {**current.params, self.offset_param: offset})


class ODataNextLinkPaginator:
    """OData v4 (Business Central, Dynamics): follow ``@odata.nextLink`` verbatim."""

    def __init__(self, key: str = "@odata.nextLink") -> None:
        self.key = key

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        link = body.get(self.key) if isinstance(body, Mapping) else None
        if not link:
            return None
        url, params = _split_url(link)
        return PageRequest(url, params)


# --------------------------------------------------------------------------------------------
# Error classification
# --------------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds (``2.0``) or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def platform_error_message(body: Any, fallback: str = "") -> str:
    """The human message from the error bodies platforms use.

    Shopify ``{"errors": "…" | {"field": ["…"]} | ["…"]}``; WooCommerce / WordPress
    ``{"code", "message", "data": {"status"}}``; BigCommerce ``{"title", "detail"}``;
    Magento ``{"message", "parameters"}``; OData ``{"error": {"code", "message"}}``.
    """
    if isinstance(body, Mapping):
        if "errors" in body:
            errors = body["errors"]
            if isinstance(errors, str):
                return errors
            if isinstance(errors, Mapping):
                parts = []
                for key, val in errors.items():
                    vals = val if isinstance(val, list) else [val]
                    parts.append(f"{key}: {', '.join(str(v) for v in vals)}")
                return "; ".join(parts)
            if isinstance(errors, list):
                return "; ".join(
                    str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors)
        if isinstance(body.get("error"), Mapping):
            inner = body["error"]
            return str(inner.get("message") or inner.get("code") or fallback)
        if body.get("message"):
            code = body.get("code")
            return f"{code}: {body['message']}" if code else str(body["message"])
        if body.get("title") or body.get("detail"):
            return " ".join(str(body[k]) for k in ("title", "detail") if body.get(k))
        if isinstance(body.get("error"), str):
            return str(body.get("error_description") or body["error"])
    return fallback


@dataclass(frozen=True)
class RateLimitHeaders:
    """Which headers tell a platform's wait, beyond the standard ``Retry-After``.

    ``reset_header`` is e.g. BigCommerce ``X-Rate-Limit-Time-Reset-Ms`` with ``reset_unit="ms"``.
    """

    reset_header: str | None = None
    reset_unit: str = "s"

    def retry_after(self, response: requests.Response) -> float | None:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is None and self.reset_header:
            raw = response.headers.get(self.reset_header)
            if raw:
                try:
                    wait = float(raw) / (1000.0 if self.reset_unit == "ms" else 1.0)
                except ValueError:
                    wait = None
        return wait


def classify_response(response: requests.Response, *, platform: str = "",
                      rate_limits: RateLimitHeaders = RateLimitHeaders(),
                      transient_statuses: Iterable[int] = (),
                      message_fn: Callable[[Any, str], str] = platform_error_message) -> ConnectorError | None:
    """Map a response to the error callers act on, or None when it succeeded.

    429, 5xx and any ``transient_statuses`` (Cin7 answers 503 for rate limits) → TransientError
    with the wait asked for; 401/403 → AuthError; other 4xx → PermanentError with the platform's
    own message.
    """
    status = response.status_code
    if status < 400:
        return None
    text = response.text[:2000]
    try:
        body = response.json()
    except ValueError:
        body = None
    message = message_fn(body, text) or f"HTTP {status}"
    detail = f"{platform} {response.request.method if response.request else ''} " \
             f"{_path_of(response.url)} → {status}: {message}"
    kwargs: dict[str, Any] = {"status_code": status, "platform": platform, "body": text}
    if status == 429 or status >= 500 or status in set(transient_statuses):
        return TransientError(detail, retry_after_s=rate_limits.retry_after(response), **kwargs)
    if status in (401, 403):
        return AuthError(detail, **kwargs)
    return PermanentError(detail, **kwargs)


def _path_of(url: str | None) -> str:
    return urlsplit(url or "").path


# --------------------------------------------------------------------------------------------
# Retries and pacing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded in-call retries; the task layer's own retry takes over after ``max_retries``.

    A platform's ``Retry-After`` wins (capped at ``max_retry_after_s`` so one odd header cannot
    park a worker for an hour); otherwise exponential backoff with full jitter.
    """

    max_retries: int = 3
    base_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 60.0

    def delay(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        if retry_after_s is not None:
            return min(retry_after_s, self.max_retry_after_s)
        ceiling = min(self.max_backoff_s, self.base_backoff_s * (2 ** attempt))
        return rng.uniform(ceiling / 2, ceiling)


class LeakyBucketPacer:
    """Client-side leaky bucket, so we slow down before the platform answers 429.

    ``acquire()`` waits until one more call fits under ``capacity - reserve`` (the reserve leaves
    room for other apps sharing the shop's bucket). ``observe()`` resyncs from a
    ``used/size`` header such as Shopify's ``X-Shopify-Shop-Api-Call-Limit: 32/40``, because the
    server's view includes calls we did not make.
    """

    def __init__(self, capacity: float, leak_per_s: float, *, reserve: float = 0.0,
                 header: str | None = None, clock: ClockFn = time.monotonic,
                 sleep: SleepFn = time.sleep) -> None:
        self.capacity = float(capacity)
        self.leak_per_s = float(leak_per_s)
        self.reserve = float(reserve)
        self.header = header
        self.clock = clock
        self.sleep = sleep
        self.level = 0.0
        self._last = clock()
        self._lock = threading.Lock()

    def _drain(self) -> None:
        now = self.clock()
        self.level = max(0.0, self.level - (now - self._last) * self.leak_per_s)
        self._last = now

    def wait_needed(self) -> float:
        with self._lock:
            self._drain()
            over = self.level + 1.0 - max(1.0, self.capacity - self.reserve)
            return max(0.0, over / self.leak_per_s) if self.leak_per_s > 0 else 0.0

    def acquire(self) -> float:
        """Block until a call fits; returns the seconds waited (0 when there was room)."""
        wait = self.wait_needed()
        if wait > 0:
            self.sleep(wait)
        with self._lock:
            self._drain()
            if wait > 0:
                # The injected sleep may not advance our clock (tests): account the leak we waited for.
                self.level = max(0.0, self.level - wait * self.leak_per_s)
            self.level += 1.0
        return wait

    def observe(self, response: requests.Response) -> None:
        if not self.header:
            return
        raw = response.headers.get(self.header)
        if not raw or "/" not in raw:
            return
        used, _, size = raw.partition("/")
        try:
            used_f, size_f = float(used), float(size)
        except ValueError:
            return
        with self._lock:
            self._drain()
            self.level = used_f
            if size_f > 0:
                self.capacity = size_f


# --------------------------------------------------------------------------------------------
# Webhook helpers
# --------------------------------------------------------------------------------------------


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup over any mapping (Starlette, requests, a plain dict)."""
    getter = getattr(headers, "get", None)
    if getter is not None:
        value = getter(name)
        if value is not None:
            return value
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def hmac_sha256_base64(secret: str | bytes, body: bytes) -> str:
    """``base64(HMAC-SHA256(secret, raw body))``: the Shopify and WooCommerce webhook signature."""
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    """Compare secrets without leaking how many leading bytes matched."""
    a_b = a.encode() if isinstance(a, str) else a
    b_b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_b, b_b)


def verify_base64_hmac(secret: str | None, body: bytes, signature: str | None) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is the base64 HMAC-SHA256 of ``body``."""
    if not secret:
        raise SignatureError("no webhook secret configured for this store")
    if not signature:
        raise SignatureError("signature header missing")
    if not constant_time_equals(hmac_sha256_base64(secret, body), signature.strip()):
        raise SignatureError("signature does not match the body")


# --------------------------------------------------------------------------------------------
# Value helpers: money, ids, counts
# --------------------------------------------------------------------------------------------


def money_cents(value: Any) -> int:
    """Platform money as decimal strings (``"199.00"``) or numbers to integer cents, never via
    float, so amounts add up exactly; 0 when the value is not an amount."""
    try:
        return int((Decimal(str(value)) * 100).quantize(Decimal(1)))
    except (InvalidOperation, ValueError):
        return 0


def cents_to_money(cents: int) -> str:
    """Integer cents to the decimal string platforms take (``1999`` → ``"19.99"``)."""
    return f"{Decimal(int(cents)) / 100:.2f}"


def id_str(value: Any) -> str | None:
    """A platform id as the string we keep: ids may exceed 2**53, and ``json`` parses them as
    exact ints, so they become text with ``str()`` at the edge, never via float. None stays None."""
    return None if value is None else str(value)


def nonblank_id_str(value: Any) -> str | None:
    """:func:`id_str` for platforms that send ``""`` for a missing reference: that is None too."""
    return None if value == "" else id_str(value)


def whole_units(value: Any) -> int | None:
    """A stock count as ints, floats (``21.0``) or decimal strings (``"12.0"``) to whole units;
    None when absent or unreadable, so a missing count is never mistaken for zero."""
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def idempotency_marker(key: str) -> str:
    """The tag written into a refund's or a credit's free text (note, reason, description) on
    platforms without an idempotency header, found again by a retried task."""
    return f"[idempotency:{key}]"


# --------------------------------------------------------------------------------------------
# Time and cursor helpers
# --------------------------------------------------------------------------------------------


def parse_timestamp(value: str | None, *, assume_utc: bool = True) -> datetime | None:
    """ISO-8601 to an aware datetime; naive values (WooCommerce ``*_gmt``) are taken as UTC."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None and assume_utc:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def newest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def utc_iso(value: datetime) -> str:
    """A cursor string: UTC, second precision, explicit offset."""
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def with_last_flag(items: Iterator[Any]) -> Iterator[tuple[Any, bool]]:
    """Yield ``(item, is_last)`` by looking one item ahead, so only the last page moves a cursor."""
    try:
        current = next(items)
    except StopIteration:
        return
    for following in items:
        yield current, False
        current = following
    yield current, True


# --------------------------------------------------------------------------------------------
# The REST connector base
# --------------------------------------------------------------------------------------------


class RestConnector:
    """HTTP plumbing shared by every REST platform connector.

    Subclasses set ``platform``, ``api_prefix`` and implement :meth:`build_auth`; they may set
    ``rate_limits`` (reset header), ``transient_statuses`` and override :meth:`build_pacer`.
    ``sleep`` and ``clock`` are injectable so tests can assert waits without waiting.
    """

    platform: ClassVar[str] = ""
    api_prefix: ClassVar[str] = ""
    rate_limits: ClassVar[RateLimitHeaders] = RateLimitHeaders()
    transient_statuses: ClassVar[tuple[int, ...]] = ()
    connect_timeout_s: ClassVar[float] = 5.0
    stock_per_location: ClassVar[bool] = True

    def __init__(self, config: ConnectorConfig, *, session: requests.Session | None = None,
                 sleep: SleepFn = time.sleep, clock: ClockFn = time.monotonic,
                 retry: RetryPolicy | None = None, rng: random.Random | None = None) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.sleep = sleep
        self.clock = clock
        self.retry = retry or RetryPolicy(
            max_retries=int(config.options.get("max_retries", 3)),
            max_retry_after_s=float(config.options.get("max_retry_after_s", 60.0)),
        )
        self.rng = rng or random.Random()
        self.session = session or requests.Session()
        self.session.auth = self.build_auth()
        self.session.headers.setdefault("Accept", "application/json")
        self.pacer = self.build_pacer()

    # --- declaration hooks ------------------------------------------------------------------

    def build_auth(self) -> AuthBase | None:
        return None

    def build_pacer(self) -> LeakyBucketPacer | None:
        return None

    def error_message(self, body: Any, fallback: str) -> str:
        return platform_error_message(body, fallback)

    # --- requests ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """Absolute URLs (from Link headers) pass through; paths hang off base URL + API prefix."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}{self.api_prefix}/{path.lstrip('/')}"

    @property
    def timeouts(self) -> tuple[float, float]:
        return (min(self.connect_timeout_s, self.config.timeout_s), self.config.timeout_s)

    def _send_once(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if self.pacer is not None:
            self.pacer.acquire()
        try:
            response = self.session.request(method, url, timeout=self.timeouts, **kwargs)
        except requests.exceptions.ConnectTimeout as exc:
            raise TransientError(f"{self.platform} {method} {_path_of(url)}: connect timeout",
                                 platform=self.platform) from exc
        except requests.exceptions.ReadTimeout as exc:
            if method.upper() in SAFE_METHODS:
                raise TransientError(f"{self.platform} {method} {_path_of(url)}: read timeout",
                                     platform=self.platform) from exc
            raise OutcomeUnknownError(
                f"{self.platform} {method} {_path_of(url)}: read timeout after sending; the write "
                f"may have been applied", platform=self.platform) from exc
        except requests.exceptions.ConnectionError as exc:
            raise TransientError(f"{self.platform} {method} {_path_of(url)}: connection error: {exc}",
                                 platform=self.platform) from exc
        if self.pacer is not None:
            self.pacer.observe(response)
        error = classify_response(response, platform=self.platform, rate_limits=self.rate_limits,
                                  transient_statuses=self.transient_statuses,
                                  message_fn=self.error_message)
        if error is not None:
            raise error
        return response

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, data: Any = None, headers: Mapping[str, str] | None = None,
                retry: bool | None = None) -> requests.Response:
        """Send with classification and bounded retries.

        By default only safe methods are retried on any TransientError; a 429 is retried for every
        method (the platform refused it unprocessed). OutcomeUnknownError is never retried here.
        """
        method = method.upper()
        retry_all = method in SAFE_METHODS if retry is None else retry
        url = self.url(path)
        kwargs: dict[str, Any] = {"params": dict(params) if params else None, "headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        attempt = 0
        while True:
            try:
                return self._send_once(method, url, **kwargs)
            except OutcomeUnknownError:
                raise
            except TransientError as exc:
                retryable = retry_all or exc.status_code == 429
                if not retryable or attempt >= self.retry.max_retries:
                    raise
                self.sleep(self.retry.delay(attempt, exc.retry_after_s, self.rng))
                attempt += 1

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.decode(self.request("GET", path, params=params))

    def decode(self, response: requests.Response) -> Any:
        """JSON body; Python ints are exact, so ids above 2**53 survive (we never go via float)."""
        if not response.content:
            return None
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise PermanentError(f"{self.platform}: response is not JSON",
                                 status_code=response.status_code, platform=self.platform,
                                 body=response.text[:2000]) from exc

    def paginate(self, path: str, params: Mapping[str, Any], paginator: Paginator,
                 extract: Callable[[Any], list[Any]]) -> Iterator[list[Any]]:
        """Stream each page's records; the whole result set is never held in memory."""
        current: PageRequest | None = PageRequest(path, dict(params))
        while current is not None:
            response = self.request("GET", current.url, params=current.params)
            body = self.decode(response)
            records = extract(body)
            yield records
            current = paginator.next_page(response, body, len(records), current)

    def push_result(self, response: requests.Response, request: dict[str, Any],
                    levels: Mapping[str | None, int] | None = None) -> PushResult:
        return PushResult(ok=response.ok, status_code=response.status_code,
                          detail=response.text[:500], request=request, levels=dict(levels or {}))

    def push_levels(self, listing: ListingRef, levels: Mapping[str | None, int], backorder: bool) -> list[PushResult]:
        """Platforms whose write is one location at a time: one :meth:`push_availability` each."""
        results = []
        for location, figure in levels.items():
            result = self.push_availability(replace(listing, location_external_id=location), figure, backorder)
            results.append(replace(result, levels={location: max(0, int(figure))}))
        return results

    def write_calls(self, levels: Mapping[str | None, int]) -> int:
        return max(1, len(levels))

    def refund_line(self, request: RefundRequest) -> RefundResult:
        """Platforms without a refund API here (read-only back-ends) refuse: staff refund by hand."""
        raise PermanentError(f"{self.platform}: refunds are not supported by this connector",
                             platform=self.platform)

    def credit_line(self, request: RefundRequest) -> RefundResult:
        """Platforms without store credit here refuse, so the task escalates instead of guessing."""
        raise PermanentError(f"{self.platform}: store credit is not supported by this connector",
                             platform=self.platform)

    def place_substitute(self, request: SubstituteOrderRequest) -> SubstituteOrderResult:
        """Platforms without order creation here refuse: staff place the substitute by hand."""
        raise PermanentError(f"{self.platform}: placing a substitute order is not supported by this "
                             f"connector", platform=self.platform)
