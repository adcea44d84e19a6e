"""The ``rest`` platform: any REST inventory API described entirely in the TOML file.

A store with ``platform = "rest"`` names no module of its own: its ``options`` say how to
authenticate, where the stock (and optionally orders) collection is, how it pages, which field
is the change time and which query parameter carries it, where each of our fields sits in a raw
record, how to write a figure back and how webhooks are signed (``connectors.declarative_spec``
reads and checks that description; ``docs/connectors.md``, "A REST platform from the TOML file",
shows a whole one). This module turns the description into the same declared streams every
platform uses (``connectors.streams``), so incremental cursors ("only the last page moves the
cursor"), retries honouring ``Retry-After`` (RFC 9110 §10.2.3,
https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3) and error classes are the shared base's.

Capabilities follow from the description: stock reads always; orders when ``options.orders``
is described, stock write-back when ``options.write`` is, webhooks when ``options.webhooks`` is.
Each store gets a connector class declaring exactly those (:func:`declared_class`), whose other
abilities refuse by name, so ``supports(connector, Capability.STOCK_WRITE)`` tells the truth.

Webhook signatures are HMAC-SHA256 (RFC 2104, https://www.rfc-editor.org/rfc/rfc2104) of the raw
body, hex or base64, optionally behind a prefix (GitHub's ``X-Hub-Signature-256: sha256=…``,
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries), compared in
constant time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, ClassVar, Iterator, Mapping
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase

from connectors.auth import BasicAuth, BearerToken, HeaderToken
from connectors.capabilities import METHODS, Capability, refuses, unsupported
from connectors.declarative_spec import FieldRule, ReadSpec, RestSpec, WebhookSpec, parse_path, read_spec, webhook_spec
from connectors.errors import MalformedPayloadError, PermanentError, SignatureError
from connectors.http import RestConnector
from connectors.paging import (
    LinkHeaderPaginator,
    ODataNextLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    Paginator,
)
from connectors.signing import constant_time_equals, header_value, query_value, verify_shared_secret
from connectors.streams import HighWater, Stream
from connectors.types import (
    ConnectorConfig,
    ListingRef,
    OrderLineRecord,
    OrderPage,
    OrderRecord,
    PushResult,
    StockPage,
    StockRecord,
    WebhookEvent,
    WebhookKind,
)
from connectors.values import parse_timestamp, utc_iso

WHOLE_PLACEHOLDER = re.compile(r"^\{(\w+)\}$")
#: What the description may add to reading stock; stock reads are always declared.
OPTIONAL = (Capability.ORDERS, Capability.STOCK_WRITE, Capability.WEBHOOKS)


class NextLinkInBody(ODataNextLinkPaginator):
    """The next page's URL at a dotted path of the body (``links.next``, ``@odata.nextLink``)."""

    def __init__(self, field: Callable[[Any], Any]) -> None:
        super().__init__()
        self.field = field

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        link = self.field(body)
        if not link or not isinstance(link, str):
            return None
        parts = urlsplit(link)
        return PageRequest(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), dict(parse_qsl(parts.query)))


def paginator(read: ReadSpec) -> tuple[Paginator | None, dict[str, Any]]:
    """The paginator a read declares and the page-size parameter its first request carries."""
    style, s = read.pagination.style, read.pagination.settings
    size = {s["size_param"]: s.get("page_size", 100)} if s.get("size_param") else {}
    if style == "link_header":
        return LinkHeaderPaginator(), size
    if style == "page_number":
        return PageNumberPaginator(s.get("page_param", "page"), s.get("size_param", "per_page"),
                                   int(s.get("page_size", 100)), s.get("total_pages_header")), {}
    if style == "offset":
        return OffsetPaginator(s.get("offset_param", "offset"), s.get("limit_param", "limit"),
                               int(s.get("limit", 100)), s.get("total_field")), {}
    if style == "next_link":
        path = parse_path(s["field"])
        assert path is not None  # checked by read_spec
        return NextLinkInBody(path.get), size
    return None, {}


class _OnePage:
    """``style = "none"``: the collection answers in one page."""

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        return None


def high_water(read: ReadSpec) -> HighWater | None:
    """The shared high-water cursor over the mapped ``updated_at``, travelling as ISO-8601 or epoch seconds."""
    if read.cursor is None:
        return None
    if read.cursor.format == "epoch_seconds":
        return HighWater("updated_at", parse=lambda text: datetime.fromtimestamp(int(float(text)), tz=timezone.utc),
                         format=lambda when: str(int(when.timestamp())))
    return HighWater("updated_at", parse=parse_timestamp, format=utc_iso)


def stream(read: ReadSpec, record_map: Callable[[Mapping[str, Any]], Any],
           page: Callable[[list[Any], str | None], Any]) -> Stream:
    pages, size = paginator(read)
    return Stream(path=read.path, records=lambda body: _rows(read.records.get(body)), paginator=pages or _OnePage(),
                  map=record_map, params={**read.params, **size},
                  since_param=read.cursor.param if read.cursor else None, cursor=high_water(read), page=page)


def _rows(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    return [row for row in value if isinstance(row, Mapping)] if isinstance(value, list) else []


def _values(rules: Mapping[str, FieldRule], raw: Mapping[str, Any]) -> dict[str, Any]:
    return {name: rule.value(raw) for name, rule in rules.items()}


def render(template: Any, values: Mapping[str, Any]) -> Any:
    """A body template with ``{placeholders}``: a string that is one placeholder keeps the value's
    type (``"{available}"`` → ``7``), any other string is formatted; tables and lists recurse."""
    if isinstance(template, dict):
        return {key: render(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, values) for value in template]
    if isinstance(template, str):
        whole = WHOLE_PLACEHOLDER.match(template)
        if whole:
            return values.get(whole.group(1))
        return template.format_map({k: "" if v is None else v for k, v in values.items()})
    return template


def spec_of(config: ConnectorConfig) -> RestSpec:
    spec, problems = read_spec({"options": config.options, "credentials": config.credentials}, runtime=True)
    if spec is None:
        listed = "; ".join(f"{key}: {message}" for key, message in problems)
        raise PermanentError(f"rest store {config.store_key}: its description is not usable: {listed}",
                             platform="rest")
    return spec


class DeclaredWebhooks:
    """``verify_webhook`` / ``parse_webhook`` from a declared scheme (``hooks``): the signature
    checked by :func:`verify_signature`, the delivery read by :func:`declared_delivery`, each record
    mapped by the platform's ``webhook_stock`` (stock kinds) or ``webhook_order`` (``order_created``).

    The ``rest`` platform declares the scheme in its description; a built-in platform whose store
    posts its own signed webhooks (Magento's observer module) declares its defaults and the store's
    ``options.webhooks`` overrides them (``connectors.declarative_spec.webhook_spec``)."""

    platform: ClassVar[str]
    config: ConnectorConfig
    options: dict[str, Any]
    #: A built-in platform's defaults (what its sender posts), under the store's ``options.webhooks``.
    webhook_defaults: ClassVar[Mapping[str, Any] | None] = None

    @property
    def hooks(self) -> WebhookSpec:
        """The declared scheme: the ``rest`` description's (overridden there), else a platform's
        ``webhook_defaults`` with the store's ``options.webhooks`` on top; a class that declares
        neither is named."""
        if self.webhook_defaults is None:
            raise TypeError(f"{type(self).__name__} mixes in DeclaredWebhooks but declares no webhook scheme (hooks)")
        spec, problems = webhook_spec(self.options, self.webhook_defaults)
        if spec is None:
            raise PermanentError(f"{self.platform} store {self.config.store_key}: options.webhooks: {problems}")
        return spec

    def webhook_stock(self, row: Mapping[str, Any]) -> StockRecord | None:
        """A stock delivery's record (None: drop it)."""
        return None

    def webhook_order(self, row: Mapping[str, Any]) -> OrderRecord | None:
        """An order delivery's record (None: drop it)."""
        return None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        verify_signature(self.hooks, self.config.webhook_secret, headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """The topic names the kind; a stock or order delivery without one record is malformed."""
        topic, kind, delivery, rows = declared_delivery(self.hooks, headers, body)
        try:
            stock = [r for r in map(self.webhook_stock, rows) if r is not None] \
                if kind in ("inventory_update", "sku_modified") else []
            orders = [r for r in map(self.webhook_order, rows) if r is not None] if kind == "order_created" else []
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedPayloadError(f"{topic or 'webhook'} payload lacks {exc}") from exc
        if kind in ("inventory_update", "sku_modified", "order_created") and not (stock or orders):
            raise MalformedPayloadError(f"{topic or 'webhook'} payload holds no record with an id")
        records: list[StockRecord | OrderRecord] = [*stock, *orders]
        times = [r.updated_at for r in records if r.updated_at is not None]
        return WebhookEvent(kind, topic, f"{self.platform}:{delivery}", max(times) if times else None, stock=stock,
                            orders=orders, resource_ids=[r.external_id for r in records])


class DeclarativeConnector(DeclaredWebhooks, RestConnector):
    """A REST platform from its description; instances are of :func:`declared_class` subclasses."""

    platform: ClassVar[str] = "rest"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.STOCK_READ, *OPTIONAL})
    spec: RestSpec

    def __new__(cls, config: ConnectorConfig, **kwargs: Any) -> DeclarativeConnector:
        spec = spec_of(config)
        wanted = {Capability.ORDERS: spec.orders, Capability.STOCK_WRITE: spec.write,
                  Capability.WEBHOOKS: spec.webhooks}
        chosen = frozenset({Capability.STOCK_READ, *(c for c, part in wanted.items() if part is not None)})
        instance = super().__new__(declared_class(chosen, "location" in spec.stock.fields))
        instance.spec = spec
        hooks = spec.webhooks  # a stored delivery keeps its topic and id headers to be parsed again
        instance.webhook_headers = tuple(h for h in (hooks.topic_header, hooks.id_header) if h) if hooks else ()
        return instance

    def build_auth(self) -> AuthBase | None:
        auth, creds = self.spec.auth, self.config.credentials
        if auth.scheme == "header":
            return HeaderToken(auth.header, creds.get(auth.credential, ""), auth.prefix)
        if auth.scheme == "bearer":
            return BearerToken(creds.get(auth.credential, ""))
        if auth.scheme == "basic":
            return BasicAuth(creds.get(auth.user, ""), creds.get(auth.password, ""))
        return None

    # --- reads ------------------------------------------------------------------------------

    def stock_record(self, raw: Mapping[str, Any]) -> StockRecord | None:
        """One raw record → a stock figure; a record with neither id nor SKU is dropped. When only
        one of ``available`` / ``on_hand`` is mapped, both carry it."""
        v = _values(self.spec.stock.fields, raw)
        external = v.get("external_id") or v.get("sku")
        if not external:
            return None
        available, on_hand = v.get("available"), v.get("on_hand")
        return StockRecord(
            external_id=external, sku=v.get("sku"), location_external_id=v.get("location"),
            available=on_hand if available is None else available, on_hand=available if on_hand is None else on_hand,
            committed=v.get("committed"), updated_at=v.get("updated_at"), inventory_item_id=v.get("inventory_item_id"),
            parent_external_id=v.get("parent_external_id"), backorders_allowed=v.get("backorders_allowed"),
            reorder_point=v.get("reorder_point"))

    def order_record(self, raw: Mapping[str, Any]) -> OrderRecord | None:
        """One raw order and its lines; a line without an id is ``<order id>:<position>``."""
        read = self.spec.orders
        if read is None or read.lines is None:
            return None
        v = _values(read.fields, raw)
        external = v.get("external_id")
        if not external:
            return None
        lines = []
        for index, item in enumerate(_rows(read.lines.records.get(raw))):
            line = _values(read.lines.fields, item)
            lines.append(OrderLineRecord(
                external_id=line.get("external_id") or f"{external}:{index}", sku=line.get("sku"),
                quantity=line.get("quantity") or 0, title=line.get("title") or "", price_cents=line.get("price") or 0,
                variant_external_id=line.get("variant_external_id")))
        return OrderRecord(
            external_id=external, number=v.get("number") or external, placed_at=v.get("placed_at"),
            email=v.get("email"), phone=v.get("phone"), customer_name=v.get("customer_name") or "", lines=lines,
            currency=v.get("currency") or "USD", total_cents=v.get("total") or 0, status=v.get("status") or "open",
            updated_at=v.get("updated_at"))

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """The stock collection from ``since`` (all of it when None); the last page moves the cursor."""
        return self.read(stream(self.spec.stock, self.stock_record, StockPage), since or None)

    def fetch_orders(self, since: str | None) -> Iterator[OrderPage]:
        assert self.spec.orders is not None  # a class without orders refuses before this
        return self.read(stream(self.spec.orders, self.order_record, OrderPage), since or None)

    # --- write-back -------------------------------------------------------------------------

    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        """One request per location: the described method, path and body with the figure filled in."""
        write = self.spec.write
        assert write is not None  # a class without write-back refuses before this
        amount = max(0, int(available))
        values: dict[str, Any] = {
            "external_id": listing.external_id, "sku": listing.sku, "location": listing.location_external_id,
            "inventory_item_id": listing.inventory_item_id, "parent_external_id": listing.parent_external_id,
            "available": amount, "backorder": bool(backorder)}
        path = write.path.format_map({k: quote("" if v is None else str(v), safe="") for k, v in values.items()})
        body = render(write.body, values)
        response = self.request(write.method, path, json_body=body)
        return self.push_result(response, {"method": write.method, "path": path, "body": body},
                                {listing.location_external_id: amount})

    # --- webhooks (``DeclaredWebhooks``) ------------------------------------------------------

    @property
    def hooks(self) -> WebhookSpec:
        assert self.spec.webhooks is not None  # a class without webhooks refuses before this
        return self.spec.webhooks

    def webhook_stock(self, row: Mapping[str, Any]) -> StockRecord | None:
        return self.stock_record(row)

    def webhook_order(self, row: Mapping[str, Any]) -> OrderRecord | None:
        if self.spec.orders is None:
            raise MalformedPayloadError("an order webhook, but orders are not described for this store")
        return self.order_record(row)


def verify_signature(hooks: WebhookSpec, secret: str | None, headers: Mapping[str, str], body: bytes) -> None:
    """Raise :class:`SignatureError` unless the declared header carries the HMAC-SHA256 of ``body``
    keyed with ``secret``, hex or base64 as declared, after the declared prefix (constant time)."""
    if not secret:
        raise SignatureError("no webhook secret configured for this store")
    if hooks.encoding == "secret":  # nothing signed: the secret itself travels with the delivery
        given_secret = hooks.signature_param and query_value(headers, hooks.signature_param)
        verify_shared_secret(secret, body, given_secret or header_value(headers, hooks.signature_header or "-"))
        return
    signature = (header_value(headers, hooks.signature_header) or "").strip()
    if not signature:
        raise SignatureError(f"{hooks.signature_header} header missing")
    if hooks.prefix:
        if not signature.startswith(hooks.prefix):
            raise SignatureError(f"{hooks.signature_header} does not start with {hooks.prefix!r}")
        signature = signature[len(hooks.prefix):]
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    expected = digest.hex() if hooks.encoding == "hex" else base64.b64encode(digest).decode()
    given = signature.lower() if hooks.encoding == "hex" else signature
    if not constant_time_equals(expected, given):
        raise SignatureError("signature does not match the body")


def declared_delivery(hooks: WebhookSpec, headers: Mapping[str, str], body: bytes
                      ) -> tuple[str, WebhookKind, str, list[Mapping[str, Any]]]:
    """``(topic, kind, delivery key, raw records)`` of a signed JSON delivery as ``hooks`` declares
    it: the topic from its header or body field names the kind (no topics declared: every
    delivery is a stock update), the delivery id header (else the topic and a body hash) keys it,
    the records sit at ``records``."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise MalformedPayloadError(f"body is not JSON: {exc}") from exc
    topic = (header_value(headers, hooks.topic_header) if hooks.topic_header else None) \
        or (hooks.topic_field.get(payload) if hooks.topic_field else None) or ""
    kind: WebhookKind = hooks.kinds.get(str(topic), "other" if hooks.kinds else "inventory_update")  # type: ignore[assignment]
    delivery = (header_value(headers, hooks.id_header) if hooks.id_header else None) \
        or f"{topic}:{hashlib.sha256(body).hexdigest()}"
    return str(topic), kind, delivery, _rows(hooks.records.get(payload))


def _refusal(capability: Capability, name: str) -> Callable[..., Any]:
    """A method that refuses ``capability`` by name (reading orders yields nothing, as the base's)."""
    if capability is Capability.ORDERS:
        return RestConnector.fetch_orders
    if capability is Capability.WEBHOOKS:
        @refuses(capability)
        def no_webhooks(self: Any, headers: Mapping[str, str], body: bytes) -> Any:
            raise SignatureError("webhooks are not described for this store (options.webhooks)")
        return no_webhooks

    @refuses(capability)
    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise unsupported(self, capability, "the store's description has no options.write")
    return refuse


@lru_cache(maxsize=None)
def declared_class(capabilities: frozenset[Capability], per_location: bool) -> type[DeclarativeConnector]:
    """The connector class for one description's abilities: it declares them, and each other
    optional ability's methods refuse, so the declaration and the methods agree."""
    namespace: dict[str, Any] = {"capabilities": capabilities, "stock_per_location": per_location,
                                 "__module__": __name__}
    for capability in OPTIONAL:
        if capability not in capabilities:
            namespace.update({name: _refusal(capability, name) for name in METHODS[capability]})
    label = "+".join(sorted(c.value for c in capabilities))
    return type(f"DeclarativeConnector[{label}]", (DeclarativeConnector,), namespace)


def check_store(store: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems of a ``rest`` store's ``[[stores]]`` table, as (key under the store, message)."""
    return read_spec(store)[1]
