"""HTTP for every REST connector: error classification, bounded retries, pacing and the base class.

* :func:`classify_response` / :func:`parse_retry_after`: status → error class, platform message
  (``Retry-After`` per RFC 9110 §10.2.3, https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3);
* :class:`RetryPolicy` and :class:`LeakyBucketPacer`;
* :class:`RestConnector`: the base every REST platform connector extends; it reads declared
  streams (``connectors.streams``) and refuses, by name, the capabilities a class does not
  declare (``connectors.capabilities``).
"""
from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
from dataclasses import dataclass, replace
from datetime import timezone
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase

from connectors.auth import AuthFrom, Refreshable
from connectors.capabilities import Capability, UnsupportedCapability, refuses, unsupported
from connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedPayloadError,
    OutcomeUnknownError,
    PermanentError,
    SignatureError,
    TransientError,
    error_json,
)
from connectors.idempotency import KeyedCodes
from connectors.options import OptionRule, option_problems
from connectors.paging import PageRequest, Paginator
from connectors.streams import IdLists, Stream, read_stream
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
from connectors.values import ClockFn, SleepFn, unwrap

#: Methods whose repetition cannot change the outcome, so a timeout or 5xx may be retried in-call.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``%1`` or ``%name`` in a platform's message (``connectors.http.filled``).
PLACEHOLDER = re.compile(r"%(\w+)")


#: A connector class built beside another (:meth:`RestConnector.companion`).
C = TypeVar("C", bound="RestConnector")


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
    ``{"code", "message", "data": {"status"}}``; BigCommerce v3 ``{"status", "title", "type",
    "errors": {field: detail}}`` (https://developer.bigcommerce.com/docs/start/about/status-codes ),
    also as a list under ``data`` (the refund endpoint's 422), and ``{"title", "detail"}``;
    Magento ``{"message", "parameters"}``; OData v4 ``{"error": {"code", "message"}}`` and v3
    ``{"error": {"code", "message": {"lang", "value"}}}`` (SAP Business One: ``-5002: …``); Oracle REST
    (NetSuite, https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156570709583.html )
    ``{"title", "o:errorDetails": [{"detail", "o:errorCode"}]}``, each detail with its code;
    Lightspeed X-Series ``{"error": "Too Many Requests", "message": "Rate limiting enforced"}``
    (https://x-series-api.lightspeedhq.com/docs/rate_limiting) as ``error: message``; ASP.NET Web API
    ``{"Message", "ExceptionMessage"}`` (ShipStation V1), the exception's message first.
    """
    if isinstance(body, Mapping):
        details = [d for d in body.get("o:errorDetails") or [] if isinstance(d, Mapping) and d.get("detail")]
        if details:
            return "; ".join(f"{d['o:errorCode']}: {d['detail']}" if d.get("o:errorCode") else str(d["detail"])
                             for d in details)
        if isinstance(body.get("status"), int) and body.get("title"):  # BigCommerce v3 (RFC 7807 style)
            errors = body.get("errors")
            fields = "; ".join(f"{key}: {value}" for key, value in errors.items()) if isinstance(errors, Mapping) else ""
            return f"{body['title']} ({fields})" if fields else str(body["title"])
        wrapped = body.get("data")
        if isinstance(wrapped, list) and wrapped and isinstance(wrapped[0], Mapping) and wrapped[0].get("title"):
            return "; ".join(platform_error_message(error) for error in wrapped if isinstance(error, Mapping))
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
                return "; ".join(filled(str(e.get("message", e)), e.get("parameters")) if isinstance(e, Mapping)
                                 else str(e) for e in errors)
        if isinstance(body.get("error"), Mapping):
            inner = body["error"]
            if isinstance(inner.get("message"), Mapping):  # OData v3: {"lang", "value"}, code first
                return f"{inner.get('code')}: {inner['message'].get('value') or fallback}"
            return str(inner.get("message") or inner.get("code") or fallback)
        if isinstance(body.get("error"), str) and body.get("message"):  # Lightspeed X-Series' shape
            return f"{body['error']}: {body['message']}"
        if body.get("message"):
            code, message = body.get("code"), filled(str(body["message"]), body.get("parameters"))
            return f"{code}: {message}" if code else message
        if body.get("title") or body.get("detail"):
            return " ".join(str(body[k]) for k in ("title", "detail") if body.get(k))
        if isinstance(body.get("error"), str):
            return str(body.get("error_description") or body["error"])
        if body.get("ExceptionMessage") or body.get("Message"):
            return str(body.get("ExceptionMessage") or body["Message"])
    return fallback


def filled(message: str, parameters: Any) -> str:
    """A message with its placeholders filled from ``parameters``, as Magento / Adobe Commerce
    answers errors: ``%1`` … from a list (``{"message": "The most money available to refund is %1.",
    "parameters": ["10.00"]}``), ``%name`` from an object (``{"resources": "Magento_Sales::sales"}``),
    https://developer.adobe.com/commerce/webapi/get-started/gs-web-api-response/ ; a placeholder
    without a value stays as it is."""
    if isinstance(parameters, list):
        values = {str(n): value for n, value in enumerate(parameters, start=1)}
    elif isinstance(parameters, Mapping):
        values = {str(name): value for name, value in parameters.items()}
    else:
        return message
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), message)


@dataclass(frozen=True)
class RateLimitHeaders:
    """Which headers tell a platform's wait, beyond the standard ``Retry-After``.

    ``reset_header`` is e.g. BigCommerce ``X-Rate-Limit-Time-Reset-Ms`` with ``reset_unit="ms"``.
    ``penalty_s`` is the wait a platform documents after a 429 that names none (Airtable: 30 s,
    https://airtable.com/developers/web/api/rate-limits ).
    """

    reset_header: str | None = None
    reset_unit: str = "s"
    #: Statuses that mean "over a per-window limit" on a platform that names no wait (Zoho's 429 on
    #: its 100 a minute, Cin7 Core's 503 on its 60 a minute): wait ``window_s``, the next window.
    window_statuses: tuple[int, ...] = ()
    window_s: float = 60.0
    #: A wait a platform imposes after a 429 without naming it (Airtable's 30 s penalty).
    penalty_s: float | None = None

    def retry_after(self, response: requests.Response) -> float | None:
        wait = self.named_wait(response)
        return self.window_s if wait is None and response.status_code in self.window_statuses else wait

    def named_wait(self, response: requests.Response) -> float | None:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is None and self.penalty_s is not None and response.status_code == 429:
            return self.penalty_s
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


@dataclass(frozen=True)
class Bucket:
    """A declared client-side leaky bucket; ``bucket_size``, ``leak_rate`` and ``bucket_reserve``
    options resize it per store."""

    capacity: float
    leak_per_s: float
    reserve: float = 0.0
    header: str | None = None

    def pacer(self, options: Mapping[str, Any], *, clock: ClockFn, sleep: SleepFn) -> LeakyBucketPacer:
        return LeakyBucketPacer(
            capacity=float(options.get("bucket_size", self.capacity)),
            leak_per_s=float(options.get("leak_rate", self.leak_per_s)),
            reserve=float(options.get("bucket_reserve", self.reserve)), header=self.header, clock=clock, sleep=sleep)


class QuotaPacer:
    """A request quota per window that the platform reports on every answer (BigCommerce:
    ``X-Rate-Limit-Requests-Left`` and ``X-Rate-Limit-Time-Reset-Ms``,
    https://docs.bigcommerce.com/developer/docs/overview/api-fundamentals/rate-limits ).

    The quota is shared by every app on the store, so only the platform's count is trusted:
    :meth:`observe` keeps the last answer's figures, and once no more than ``reserve`` requests
    are left, :meth:`acquire` waits out the reset before the next one instead of spending it on a
    429. Before the first answer nothing is known and nothing waits.
    """

    def __init__(self, left_header: str, reset_header: str, *, reset_unit: str = "ms", reserve: float = 0.0,
                 clock: ClockFn = time.monotonic, sleep: SleepFn = time.sleep) -> None:
        self.left_header, self.reset_header = left_header, reset_header
        self.scale = 1000.0 if reset_unit == "ms" else 1.0
        self.reserve = reserve
        self.clock, self.sleep = clock, sleep
        self.left: float | None = None
        self.reset_at = 0.0
        self._lock = threading.Lock()

    def wait_needed(self) -> float:
        with self._lock:
            if self.left is None or self.left > self.reserve:
                return 0.0
            return max(0.0, self.reset_at - self.clock())

    def acquire(self) -> float:
        """Block until the window has room; returns the seconds waited (0 when it had)."""
        wait = self.wait_needed()
        if wait > 0:
            self.sleep(wait)
        with self._lock:
            if wait > 0 or (self.left is not None and self.clock() >= self.reset_at):
                self.left = None  # a new window: the next answer says how much of it is left
            elif self.left is not None:
                self.left -= 1
        return wait

    def observe(self, response: requests.Response) -> None:
        left, reset = response.headers.get(self.left_header), response.headers.get(self.reset_header)
        try:
            left_f, reset_s = float(left or ""), float(reset or "") / self.scale
        except ValueError:
            return
        with self._lock:
            self.left, self.reset_at = left_f, self.clock() + reset_s


@dataclass(frozen=True)
class Quota:
    """A declared :class:`QuotaPacer`: the two headers, the reset's unit and the requests kept in
    reserve for the store's other apps (``quota_reserve`` option per store)."""

    left_header: str
    reset_header: str
    reset_unit: str = "ms"
    reserve: float = 0.0

    def pacer(self, options: Mapping[str, Any], *, clock: ClockFn, sleep: SleepFn) -> QuotaPacer:
        return QuotaPacer(self.left_header, self.reset_header, reset_unit=self.reset_unit,
                          reserve=float(options.get("quota_reserve", self.reserve)), clock=clock, sleep=sleep)


class RestConnector:
    """HTTP plumbing shared by every REST platform connector.

    Subclasses declare ``platform``, ``capabilities``, ``api_prefix`` (``{option}`` placeholders
    are filled from the options, e.g. ``/admin/api/{api_version}``), ``auth`` (or override
    :meth:`build_auth`), ``bucket`` (or override :meth:`build_pacer`), ``max_page_size`` and read
    declared streams with :meth:`read`; they may set ``rate_limits`` (reset header) and
    ``transient_statuses``. ``sleep`` and ``clock`` are injectable so tests can assert waits
    without waiting.
    """

    platform: ClassVar[str] = ""
    #: What this connector can do (``connectors.capabilities``); callers check it, never ``getattr``.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    api_prefix: ClassVar[str] = ""
    rate_limits: ClassVar[RateLimitHeaders] = RateLimitHeaders()
    transient_statuses: ClassVar[tuple[int, ...]] = ()
    connect_timeout_s: ClassVar[float] = 5.0
    stock_per_location: ClassVar[bool] = True
    #: Requests one :meth:`push_levels` makes, ``(once per SKU, once per location)``, when the
    #: platform's write is not one request per location (:meth:`write_calls`).
    write_requests: ClassVar[tuple[int, int] | None] = None
    #: Options a store's file may leave out (``{"api_version": "2025-01"}``); ``self.options`` merges them.
    option_defaults: ClassVar[Mapping[str, Any]] = {}
    #: Checks of the options a store's file gives (``connectors.options``): ``config check`` reports
    #: each broken one, and the connector refuses to be built with one.
    option_rules: ClassVar[tuple[OptionRule, ...]] = ()
    #: The auth scheme and the credentials that feed it (``connectors.auth.header_auth`` …).
    auth: ClassVar[AuthFrom | None] = None
    #: The client-side pacing: a leaky bucket resizable by options (``connectors.http.Bucket``), or
    #: a quota the platform reports per window (:class:`Quota`).
    bucket: ClassVar[Bucket | Quota | None] = None
    #: When set, ``self.page_size`` is ``options["page_size"]`` (else ``default_page_size``, else
    #: this maximum) clamped to 1…this maximum.
    max_page_size: ClassVar[int | None] = None
    default_page_size: ClassVar[int | None] = None
    #: Where the platform lists its locations (a ``map`` giving each one's id, None for an inactive
    #: one), read by :meth:`location_ids` when the store's ``location_ids`` option names none.
    locations: ClassVar[Stream | None] = None
    _location_ids: list[str] | None = None

    #: Why this platform refuses a capability it does not declare, added to the refusal's message
    #: (``{Capability.STOCK_WRITE: "read-only: the back office, not a channel"}``).
    refusals: ClassVar[Mapping[Capability, str]] = {}
    #: Refusals a platform wraps in a 5xx although retrying cannot change them: the body's ``code``
    #: → the ``message`` values that are final (:meth:`is_final`).
    final_refusals: ClassVar[Mapping[str, frozenset[str]]] = {}
    #: How store-credit codes are derived from the idempotency key (:meth:`credit_code`).
    credit_codes: ClassVar[KeyedCodes | None] = None
    #: Headers a stored webhook delivery must keep to be parsed again, besides the built-in
    #: platforms' own prefixes (``domain.stock.apply_events.stored_payload``); a ``rest`` store
    #: names its topic and delivery-id headers here.
    webhook_headers: tuple[str, ...] = ()
    #: True where a webhook names its resources by id only (BigCommerce): the drain has each one
    #: fetched with :meth:`resolve_webhook`, between its transactions (``flows.inbound``).
    thin_webhooks: ClassVar[bool] = False

    def __init__(self, config: ConnectorConfig, *, session: requests.Session | None = None,
                 sleep: SleepFn = time.sleep, clock: ClockFn = time.monotonic,
                 retry: RetryPolicy | None = None, rng: random.Random | None = None) -> None:
        self.config = config
        problems = option_problems(config.options, self.option_rules)
        if problems:
            raise ValueError("; ".join(f"{self.platform} {key}: {problem}" for key, problem in problems))
        self.options: dict[str, Any] = {**self.option_defaults, **config.options}
        self.base_url = config.base_url.rstrip("/")
        if self.max_page_size is not None:
            wanted = int(config.options.get("page_size", self.default_page_size or self.max_page_size))
            self.page_size = max(1, min(wanted, self.max_page_size))
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
        return self.auth.make(self.config.credentials) if self.auth is not None else None

    def build_pacer(self) -> LeakyBucketPacer | QuotaPacer | None:
        if self.bucket is None:
            return None
        return self.bucket.pacer(self.options, clock=self.clock, sleep=self.sleep)

    def error_message(self, body: Any, fallback: str) -> str:
        return platform_error_message(body, fallback)

    def is_final(self, error: TransientError) -> bool:
        """True when an answer its status calls transient (a 5xx) is a refusal that retrying cannot
        change, as a platform that wraps business refusals in a 500 says in the body; it is then
        raised as :class:`PermanentError`, so the task alerts instead of retrying forever.

        By default: a 5xx whose JSON body names a ``code`` and ``message`` declared in
        ``final_refusals``; a platform with another shape overrides this."""
        body = error_json(error)
        return error.status_code is not None and error.status_code >= 500 \
            and body.get("message") in self.final_refusals.get(str(body.get("code")), frozenset())

    def credit_code(self, idempotency_key: str) -> str:
        """The store-credit code for ``idempotency_key`` as ``credit_codes`` declares it: stable
        across retries, unguessable without the secret."""
        if self.credit_codes is None:
            raise self.refusal(Capability.STORE_CREDIT, "no credit codes declared")
        return self.credit_codes.code(self.options, self.config.credentials, idempotency_key)

    def location_ids(self) -> list[str]:
        """The ``location_ids`` option, else the ids the declared ``locations`` stream lists (read once)."""
        if self._location_ids is None:
            listed = self.options.get("location_ids") or (self.records(self.locations) if self.locations else [])
            self._location_ids = [str(one) for one in listed]
        return self._location_ids

    def companion(self, cls: type[C], base_url: str, credential: str) -> C | None:
        """Another API of the same account on its own host with its own auth (ShipStation V2 beside
        V1), sharing this one's options, clock, sleep, retries and randomness; None without the
        ``credential`` it needs."""
        if not self.config.credentials.get(credential):
            return None
        return cls(replace(self.config, base_url=base_url), sleep=self.sleep, clock=self.clock, retry=self.retry,
                   rng=self.rng)

    # --- requests ---------------------------------------------------------------------------

    def own_url(self, url: str) -> tuple[str, dict[str, str]]:
        """A URL a webhook names, as (the URL without its query, the query), refused with
        :class:`PermanentError` unless it is on this connector's own API host and path: a forged
        body cannot make us send our credentials elsewhere."""
        parts, ours = urlsplit(url), urlsplit(self.base_url)
        if (parts.scheme, parts.netloc) != (ours.scheme, ours.netloc) or not parts.path.startswith(ours.path):
            raise PermanentError(f"{self.platform}: resource_url {url!r} is not on {self.base_url}",
                                 platform=self.platform)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), dict(parse_qsl(parts.query))

    def url(self, path: str) -> str:
        """Absolute URLs (from Link headers) pass through; paths hang off base URL + API prefix."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}{self.api_prefix.format_map(self.options)}/{path.lstrip('/')}"

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
        if isinstance(error, TransientError) and self.is_final(error):
            error = PermanentError(str(error), status_code=error.status_code, platform=error.platform, body=error.body)
        if error is not None:
            raise error
        return response

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, data: Any = None, headers: Mapping[str, str] | None = None,
                retry: bool | None = None) -> requests.Response:
        """Send with classification and bounded retries.

        By default only safe methods are retried on any TransientError; a 429 is retried for every
        method (the platform refused it unprocessed). OutcomeUnknownError is never retried here.
        A 401 under an auth scheme whose credential lapses (:class:`~connectors.auth.Refreshable`:
        a login token) takes a new credential and is sent once more, whatever the method: the
        platform refused it unprocessed.
        """
        method = method.upper()
        retry_all = method in SAFE_METHODS if retry is None else retry
        url = self.url(path)
        kwargs: dict[str, Any] = {"params": dict(params) if params else None, "headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        attempt, refreshed = 0, False
        while True:
            try:
                return self._send_once(method, url, **kwargs)
            except OutcomeUnknownError:
                raise
            except AuthError as exc:
                auth = self.session.auth
                if refreshed or exc.status_code != 401 or not isinstance(auth, Refreshable) or not auth.refresh():
                    raise
                refreshed = True
            except TransientError as exc:
                retryable = retry_all or exc.status_code == 429
                if not retryable or attempt >= self.retry.max_retries:
                    raise
                self.sleep(self.retry.delay(attempt, exc.retry_after_s, self.rng))
                attempt += 1

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.decode(self.request("GET", path, params=params))

    def sign_in(self, path: str, body: Any) -> Any:
        """POST ``body`` to a login endpoint without the session's auth (the credential it asks for
        is what that auth is waiting on), classified like any answer; the decoded answer."""
        return self.decode(self._send_once("POST", self.url(path), json=body, auth=lambda request: request))

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
        """Platforms whose write is one location at a time: one :meth:`push_availability` each.

        Where the platform holds one figure per product (``stock_per_location`` False) the
        locations add up to that figure, written by one :meth:`push_availability`."""
        if not self.stock_per_location:
            total = sum(max(0, int(figure)) for figure in levels.values())
            return [self.push_availability(listing, total, backorder)]
        results = []
        for location, figure in levels.items():
            result = self.push_availability(replace(listing, location_external_id=location), figure, backorder)
            results.append(replace(result, levels={location: max(0, int(figure))}))
        return results

    def write_calls(self, levels: Mapping[str | None, int]) -> int:
        """``write_requests`` when declared; else one request per location, or one in all where the
        platform holds one figure per product."""
        if self.write_requests is not None:
            per_sku, per_location = self.write_requests
            return per_sku + per_location * len(levels)
        return max(1, len(levels)) if self.stock_per_location else 1

    def fetch_one(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET one resource wrapped in a root key (``{"order": {...}}``): the inner object, {} if none."""
        return unwrap(self.get_json(path, params), key)

    def send(self, method: str, path: str, body: Any, key: str | None = None, *,
             params: Mapping[str, Any] | None = None, retry: bool | None = None) -> tuple[dict[str, Any], int]:
        """Write and unwrap the answer's root key (none: the whole object): ``(object, status code)``."""
        response = self.request(method, path, params=params, json_body=body, retry=retry)
        return unwrap(self.decode(response), key), response.status_code

    def records(self, stream: Stream, since: str | None = None, **kwargs: Any) -> Iterator[Any]:
        """Every record of a declared stream, page after page (look-ups that need no cursor)."""
        for page in self.read(stream, since, **kwargs):
            yield from page.records

    def read(self, stream: Stream, since: str | None = None, *, ids: IdLists | None = None,
             map: Callable[[Mapping[str, Any]], Any] | None = None) -> Iterator[Any]:
        """Read a declared :class:`~connectors.streams.Stream`: its pages with their safe cursors,
        id lists chunked at the stream's declared size (``connectors.streams``)."""
        return read_stream(self, stream, since, ids=ids, map=map)

    def resolve_webhook(self, event: WebhookEvent) -> WebhookEvent:
        """The event with the records of the resources it names, read from the platform now; a
        platform whose webhooks carry their records (``thin_webhooks`` False) is never asked."""
        return event

    # --- what a class does not declare is refused by name (``refusals`` says why) -----------

    def refusal(self, capability: Capability, detail: str = "") -> UnsupportedCapability:
        """The :class:`UnsupportedCapability` for ``capability``, with this platform's reason."""
        return unsupported(self, capability, "; ".join(r for r in (self.refusals.get(capability), detail) if r))

    @refuses(Capability.STOCK_READ)
    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Platforms not read for stock here (a back office used for purchase orders only) refuse."""
        raise self.refusal(Capability.STOCK_READ)

    @refuses(Capability.STOCK_WRITE)
    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        """Platforms channel sync does not write (back offices) refuse: a silent "ok" would hide a
        misconfigured store."""
        raise self.refusal(Capability.STOCK_WRITE, f"refusing to write {listing.sku}")

    @refuses(Capability.WEBHOOKS)
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """No webhooks from this platform: every delivery is refused as unsigned (answered 401)."""
        raise SignatureError(str(self.refusal(Capability.WEBHOOKS)))

    @refuses(Capability.WEBHOOKS)
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        raise MalformedPayloadError(str(self.refusal(Capability.WEBHOOKS)))

    @refuses(Capability.BACKORDER_STATUS)
    def write_backorder_status(self, listing: ListingRef, backorder: bool) -> PushResult:
        """Platforms without a place for our backorder status (a channel shows it through its own
        backorder mode, ``push_availability``) refuse, naming why."""
        raise self.refusal(Capability.BACKORDER_STATUS, f"not writing {listing.sku}")

    @refuses(Capability.ORDERS)
    def fetch_orders(self, since: str | None) -> Iterator[OrderPage]:
        """Back offices and point-of-sale systems are not read for orders: the storefronts are."""
        return iter(())

    @refuses(Capability.REFUNDS)
    def refund_line(self, request: RefundRequest) -> RefundResult:
        """Platforms without a refund API here (read-only back-ends) refuse: staff refund by hand."""
        raise self.refusal(Capability.REFUNDS)

    @refuses(Capability.STORE_CREDIT)
    def credit_line(self, request: RefundRequest) -> RefundResult:
        """Platforms without store credit here refuse, so the task escalates instead of guessing."""
        raise self.refusal(Capability.STORE_CREDIT)

    @refuses(Capability.SUBSTITUTE_ORDERS)
    def place_substitute(self, request: SubstituteOrderRequest) -> SubstituteOrderResult:
        """Platforms without order creation here refuse: staff place the substitute by hand."""
        raise self.refusal(Capability.SUBSTITUTE_ORDERS)


class OrderReads(RestConnector):
    """``fetch_orders`` as a read of the declared ``orders`` stream (its cursor, its mapping), for a
    platform whose orders are one collection; an instance may replace the stream (an option-made
    time filter)."""

    orders: Stream

    def fetch_orders(self, since: str | None) -> Iterator[OrderPage]:
        """Order pages changed since the cursor, each with the cursor safe to save after it."""
        return self.read(self.orders, since)
