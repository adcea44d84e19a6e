"""The connector interface and the one import point for the shared connector framework.

After the Singer SDK / Airbyte low-code CDK: a connector declares its auth scheme, streams,
capabilities and record mappings; the session, timeouts, error classification, ``Retry-After``
handling, bounded retries, client-side pacing, incremental cursors, id-list chunking and webhook
HMAC helpers live once in small modules, re-exported here so ``from connectors.base import …``
keeps working:

* ``connectors.auth`` — :class:`HeaderToken`, :class:`BasicAuth`, :class:`BearerToken`, :class:`OAuth1`,
  :class:`SessionCookies` (a login's session cookies, renewed before they time out and once on a 401);
* ``connectors.odata`` — OData query paths, literals, ``Prefer: odata.maxpagesize`` and the v3/v4
  next link (:data:`~connectors.odata.NEXT_LINK`);
* ``connectors.paging`` — :class:`LinkHeaderPaginator`, :class:`PageNumberPaginator`,
  :class:`MetaPaginationPaginator`, :class:`OffsetPaginator`, :class:`ODataNextLinkPaginator`,
  :class:`VersionCursorPaginator`, :class:`BodyLinksPaginator`, :class:`TotalCountPaginator`;
* ``connectors.streams`` — :class:`Stream`, :class:`HighWater`, :class:`PageCursor`: what to read,
  how the cursor moves, how many ids a request carries; :func:`time_after` for strict time filters;
  :class:`Collections`: a platform's convention for all its collections, declared once;
* ``connectors.capabilities`` — :class:`Capability`, :func:`supports`, :func:`require`;
* ``connectors.http`` — :func:`classify_response`, :class:`RetryPolicy`, :class:`LeakyBucketPacer`,
  :class:`QuotaPacer` (a per-window quota the platform reports, declared as :class:`Quota`),
  :class:`RestConnector` (the base every REST platform connector extends), :class:`OrderReads`
  (orders read from a declared stream);
* ``connectors.hooks`` — :class:`JsonWebhooks`: signed JSON webhooks declared by header names;
  :class:`FormWebhooks`: form-encoded ones with the JSON in one field (Lightspeed X-Series);
  :func:`subscribe_once`: each event's webhook subscribed unless it is there already;
* ``connectors.rpc`` — :class:`JsonRpcConnector`: JSON-RPC 2.0 calls on the same plumbing;
* ``connectors.model_rpc`` — :class:`ModelRpcConnector`: model methods by name, ``execute_kw``
  over JSON-RPC or JSON-2 (``POST /json/2/{model}/{method}`` with a bearer key), error objects
  classified by the exception class they name;
* ``connectors.signing`` — :func:`hmac_sha256_base64`, :func:`verify_base64_hmac`, :func:`header_value`,
  :func:`verify_shared_secret` (a secret header echoed back instead of a signature);
  :func:`verify_keyed_hmac` (a ``signature=…,algorithm=…`` header);
* ``connectors.idempotency`` — markers in platform free text, find-then-create, keyed codes
  (:class:`KeyedCodes`), create-then-find when a keyed code is already taken, and
  :func:`found_or_created` (what was already made under our own reference, else make it);
* ``connectors.carriers`` — the shipping records and, for label APIs, :class:`ShipmentFields` (where a
  label or shipment keeps its fields), :class:`TrackingEvents` (ShipEngine-style scans),
  :func:`resource_notice` (a webhook naming only a resource URL), :func:`carrier_address` and
  :class:`ReturnLabel`;
* ``connectors.writes`` — :class:`LevelWrites`, and refunds, store credit and substitute orders as
  declared request shapes (:class:`RefundShape`, :class:`CreditShape`, :class:`OrderShape`,
  :class:`Marker`, :class:`Refusal`) run by :class:`DeclaredRefunds`, :class:`DeclaredCredit` and
  :class:`DeclaredSubstitutes`;
* ``connectors.records`` — :class:`LineFields`: where a platform keeps an order line's fields;
  :class:`RiskFields` (:data:`ORDER_RISK`): where it keeps what fraud hints read;
  :func:`held_back`: what a pool of locations will not sell, counted at its first location;
  :func:`located_stock`: rows summed per product and location, 0 at every location without one;
* ``connectors.storefront`` — :class:`Storefront`: a selling platform's connector, every channel
  ability (:data:`STOREFRONT`) from its declarations;
* ``connectors.values`` — :func:`money_cents` / :func:`cents_to_money`, :func:`id_str`, :func:`paid_by`,
  :func:`whole_units`, :func:`full_name`, :func:`parse_timestamp`, :func:`utc_iso`, :func:`with_last_flag`,
  :func:`last_path_id`, :func:`all_found`, :func:`wall_clock_time` (offset-less local times).

``docs/connectors.md`` shows how to write a connector on them.
"""
from __future__ import annotations

from typing import Iterator, Mapping, Protocol, runtime_checkable

from connectors.auth import (
    AuthFrom,
    BasicAuth,
    BearerToken,
    HeaderToken,
    OAuth1,
    SessionCookies,
    basic_auth,
    bearer_auth,
    header_auth,
    oauth_base_string_uri,
    oauth_normalized_parameters,
    oauth_percent_encode,
    oauth_signature_base_string,
    shared_session,
)
from connectors.capabilities import Capability, UnsupportedCapability, refuses, require, supports
from connectors.carriers import ReturnLabel, ShipmentFields, TrackingEvents, carrier_address, resource_notice
from connectors.http import (
    SAFE_METHODS,
    Bucket,
    LeakyBucketPacer,
    OrderReads,
    Quota,
    QuotaPacer,
    RateLimitHeaders,
    RestConnector,
    RetryPolicy,
    classify_response,
    parse_retry_after,
    platform_error_message,
)
from connectors.hooks import (
    FormWebhookConnector,
    FormWebhooks,
    JsonWebhookConnector,
    JsonWebhooks,
    WebhookRecords,
    subscribe_once,
)
from connectors.idempotency import (
    KeyedCodes,
    at_most_once,
    created_or_found,
    found_or_created,
    field_error,
    find_marked,
    idempotency_marker,
    keyed_code,
    marked,
    outcome,
    spread_cents,
)
from connectors.paging import (
    BodyLinksPaginator,
    LinkHeaderPaginator,
    MetaPaginationPaginator,
    ODataNextLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    Paginator,
    TotalCountPaginator,
    VersionCursorPaginator,
    shopify_link_paginator,
)
from connectors.model_rpc import ModelRpcConnector
from connectors.records import (
    ORDER_RISK,
    FulfillmentFields,
    LineFields,
    RefundFields,
    RiskFields,
    refunded_by_transactions,
    held_back,
    located_stock,
)
from connectors.rpc import JsonRpcConnector
from connectors.signing import (
    constant_time_equals,
    header_value,
    hmac_sha256_base64,
    hmac_sha256_matches,
    keyed_fields,
    verify_base64_hmac,
    verify_shared_secret,
    verify_keyed_hmac,
)
from connectors.store_returns import ReturnFields, ReturnLookup
from connectors.storefront import STOREFRONT, Storefront
from connectors.streams import Collections, HighWater, Page, PageCursor, Stream, incremental, time_after
from connectors.types import (
    ErpResult,
    ListingRef,
    OrderPage,
    OrderRecord,
    PurchaseOrderRequest,
    PushResult,
    ReceiptLine,
    RefundRequest,
    RefundResult,
    StockPage,
    StockRecord,
    SubstituteOrderRequest,
    SubstituteOrderResult,
    WebhookEvent,
)
from connectors.values import (
    ClockFn,
    all_found,
    SleepFn,
    cents_to_money,
    full_name,
    id_str,
    last_path_id,
    money_cents,
    newest,
    nonblank_id_str,
    paid_by,
    parse_timestamp,
    unwrap,
    utc_iso,
    whole_units,
    wall_clock_time,
    with_last_flag,
)
from connectors.writes import (
    CreditShape,
    DeclaredCredit,
    DeclaredRefunds,
    DeclaredSubstitutes,
    LevelWrites,
    Marker,
    OrderShape,
    RefundShape,
    Refusal,
)

__all__ = [
    "AuthFrom", "all_found", "BodyLinksPaginator", "Bucket", "at_most_once", "last_path_id", "JsonRpcConnector",
    "ModelRpcConnector", "located_stock",
    "JsonWebhookConnector", "JsonWebhooks", "WebhookRecords", "FormWebhookConnector", "FormWebhooks",
    "keyed_fields", "verify_keyed_hmac",
    "basic_auth", "bearer_auth", "created_or_found", "KeyedCodes", "outcome",
    "found_or_created", "subscribe_once", "wall_clock_time", "ReturnLabel", "ShipmentFields", "TrackingEvents",
    "carrier_address", "resource_notice",
    "field_error", "header_auth", "hmac_sha256_matches", "unwrap",
    "SAFE_METHODS", "BasicAuth", "BearerToken", "Capability", "ClockFn", "Connector", "ErpConnector", "HeaderToken",
    "StatusWriter", "SessionCookies", "shared_session",
    "HighWater", "LeakyBucketPacer", "LinkHeaderPaginator", "MetaPaginationPaginator",
    "ODataNextLinkPaginator", "OAuth1", "OffsetPaginator", "Page", "PageCursor", "PageNumberPaginator",
    "PageRequest", "Paginator", "TotalCountPaginator", "RateLimitHeaders", "RestConnector", "RetryPolicy",
    "SleepFn", "Stream",
    "UnsupportedCapability", "VersionCursorPaginator", "cents_to_money", "classify_response",
    "constant_time_equals", "find_marked", "full_name", "header_value", "hmac_sha256_base64", "id_str",
    "idempotency_marker", "incremental", "keyed_code", "marked", "money_cents", "newest",
    "nonblank_id_str", "paid_by", "oauth_base_string_uri", "oauth_normalized_parameters", "oauth_percent_encode",
    "oauth_signature_base_string", "parse_retry_after", "parse_timestamp", "platform_error_message",
    "refuses", "require", "shopify_link_paginator", "spread_cents", "supports", "time_after", "utc_iso",
    "verify_base64_hmac", "whole_units", "with_last_flag", "Quota", "QuotaPacer", "verify_shared_secret",
]
__all__ += [
    "STOREFRONT", "Collections", "CreditShape", "DeclaredCredit", "DeclaredRefunds", "DeclaredSubstitutes",
    "LevelWrites", "LineFields", "FulfillmentFields", "RefundFields", "ORDER_RISK", "RiskFields", "held_back", "Marker", "OrderReads", "OrderRecord", "OrderShape", "RefundShape", "Refusal",
    "StockRecord", "Storefront", "ReturnFields", "ReturnLookup", "refunded_by_transactions",
]


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
    #: Headers a stored webhook delivery keeps besides the platforms' own (empty for most).
    webhook_headers: tuple[str, ...]
    #: True where webhooks name their resources by id only, to be fetched with :meth:`resolve_webhook`.
    thin_webhooks: bool

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

    def resolve_webhook(self, event: WebhookEvent) -> WebhookEvent:
        """The event with the records of the resources it names, read now (``thin_webhooks`` only)."""
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


@runtime_checkable
class ErpConnector(Protocol):
    """What a back office declaring ``Capability.PURCHASE_ORDERS`` and ``Capability.RECEIPTS`` offers."""

    platform: str

    def create_purchase_order(self, po: PurchaseOrderRequest) -> ErpResult:
        """Create the purchase order once; a repeated send finds the first record."""
        ...

    def fetch_receipts(self, numbers: list[str]) -> list[ReceiptLine]:
        """Running received totals per line of the named purchase orders."""
        ...


@runtime_checkable
class StatusWriter(Protocol):
    """What a back office declaring ``Capability.BACKORDER_STATUS`` offers: the SKU's backorder
    status written into its own item record, where its users look (a user-defined field …)."""

    platform: str

    def write_backorder_status(self, listing: ListingRef, backorder: bool) -> PushResult:
        """Mark the item as on backorder (or no longer); writing the same status twice is harmless."""
        ...
