"""Signed JSON webhooks, declared: which headers carry the signature, the topic and the delivery id.

Shopify (https://shopify.dev/docs/apps/build/webhooks/delivery-structure) and WooCommerce
(https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks) both POST a JSON object, sign
the raw body with base64 HMAC-SHA256 and name the topic and the delivery in headers; BigCommerce
(https://developer.bigcommerce.com/docs/integrations/webhooks) names the topic in the body
(``topic_field``) and sends back a header set at subscription instead of a signature. A connector
mixes in :class:`JsonWebhookConnector` and declares a :class:`JsonWebhooks`: the headers, the
topics, and which mapping turns a payload of each kind into records (``order_record`` for
``order_created``, ``stock_records`` per stock kind); it overrides
:meth:`JsonWebhookConnector.webhook_records` only for a payload no declared mapping reads.

Form-encoded deliveries are the same declaration with the JSON in one form field:
:class:`FormWebhooks` and :class:`FormWebhookConnector`. Lightspeed X-Series
(https://x-series-api.lightspeedhq.com/docs/webhooks) POSTs ``application/x-www-form-urlencoded``
with a ``payload`` field holding the JSON object and a ``type`` field naming the topic, and signs
the body in one header of ``key=value`` pairs (``connectors.signing.verify_keyed_hmac``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar, Iterable, Mapping
from urllib.parse import parse_qs

from connectors.errors import MalformedPayloadError
from connectors.signing import header_value, verify_base64_hmac
from connectors.types import ConnectorConfig, OrderRecord, StockRecord, WebhookEvent, WebhookKind
from connectors.values import id_str, json_object, parse_timestamp

#: What a topic's payload carries: stock records, order records and the resource ids it names.
WebhookRecords = tuple[list[StockRecord], list[OrderRecord], list[str]]
#: A stock payload → its record, or the records it carries (a product's variants).
StockMap = Callable[[Mapping[str, Any]], StockRecord | list[StockRecord]]
#: A dedupe key from ``(topic, headers, payload, raw body)``, for platforms whose delivery id is not one.
DedupeFn = Callable[[str, Mapping[str, str], Mapping[str, Any], bytes], str]


def subscribe_once(events: Iterable[str], present: Iterable[Any], create: Callable[[str], Any]) -> list[str]:
    """Subscribe each event not ``present`` already (``create(event)`` → the new hook's id), in
    order; what was done, per event, for ``webhooks subscribe`` to print."""
    have = set(present)
    return [f"{event}: already subscribed" if event in have else f"{event}: subscribed (id {id_str(create(event))})"
            for event in events]


@dataclass(frozen=True)
class JsonWebhooks:
    """Header names are tried in order (platforms rename them between API versions).

    ``dedupe`` replaces the delivery-id header (or the body hash when there is none) as the
    dedupe key; the platform name is still put in front of what it returns.
    """

    signature_headers: tuple[str, ...]
    topic_headers: tuple[str, ...]
    kinds: Mapping[str, WebhookKind]
    #: The body field naming the topic where no header does (BigCommerce ``scope``).
    topic_field: str | None = None
    dedupe_headers: tuple[str, ...] = ()
    occurred_field: str = "updated_at"
    occurred_headers: tuple[str, ...] = ()
    verify: Callable[[str | None, bytes, str | None], None] = field(default=verify_base64_hmac)
    dedupe: DedupeFn | None = None
    #: The platform's order mapping: when declared, ``order_created`` payloads are mapped with it
    #: (None from it: the payload is not an order we keep, e.g. a parked sale).
    order_record: Callable[[Mapping[str, Any]], OrderRecord | None] | None = None
    #: Stock mappings per kind (``{"inventory_update": level_record}``): a payload of that kind is
    #: mapped with it; the payload's ``id`` names the resource, else each record's ``external_id``.
    stock_records: Mapping[str, StockMap] = field(default_factory=dict)
    #: Further records per kind, as ``WebhookEvent`` fields (``{"order_fulfilled": lambda p:
    #: {"fulfillments": [...]}}``): what a payload of that kind says beyond stock and orders.
    event_records: Mapping[str, Callable[[Mapping[str, Any]], Mapping[str, Any]]] = field(default_factory=dict)


def first_header(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = header_value(headers, name)
        if value:
            return value
    return None


class JsonWebhookConnector:
    """``verify_webhook`` / ``parse_webhook`` from a :class:`JsonWebhooks` declaration."""

    platform: ClassVar[str]
    webhooks: ClassVar[JsonWebhooks]
    config: ConnectorConfig

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        self.webhooks.verify(self.config.webhook_secret, body, first_header(headers, self.webhooks.signature_headers))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        spec = self.webhooks
        topic = first_header(headers, spec.topic_headers)
        if not topic and spec.topic_field is None:
            raise MalformedPayloadError(f"{spec.topic_headers[0]} header missing")
        payload = json_object(body)
        if not topic:
            topic = payload.get(str(spec.topic_field))
            if not isinstance(topic, str) or not topic:
                raise MalformedPayloadError(f"body field {spec.topic_field} missing")
        occurred: datetime | None = parse_timestamp(payload.get(spec.occurred_field)) or \
            parse_timestamp(first_header(headers, spec.occurred_headers))
        kind = spec.kinds.get(topic, "other")
        try:
            dedupe = spec.dedupe(topic, headers, payload, body) if spec.dedupe is not None else \
                first_header(headers, spec.dedupe_headers) or f"{topic}:{hashlib.sha256(body).hexdigest()}"
            stock, orders, resources = self.webhook_records(kind, payload)
            extra = spec.event_records[kind](payload) if kind in spec.event_records else {}
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedPayloadError(f"{topic} payload lacks {exc}") from exc
        return WebhookEvent(kind, topic, f"{self.platform}:{dedupe}", occurred, stock=stock, orders=orders,
                            resource_ids=resources, **extra)

    def webhook_records(self, kind: WebhookKind, payload: Mapping[str, Any]) -> WebhookRecords:
        """The records a payload of ``kind`` carries: an ``order_created`` payload mapped by the
        declared ``order_record``, a stock kind by its declared ``stock_records`` mapping; otherwise
        none, and the payload's ``id``."""
        if kind == "order_created" and self.webhooks.order_record is not None:
            order = self.webhooks.order_record(payload)
            return [], [order] if order else [], [order.external_id if order else str(payload["id"])]
        resource = id_str(payload.get("id"))
        if kind in self.webhooks.stock_records:
            mapped = self.webhooks.stock_records[kind](payload)
            stock = mapped if isinstance(mapped, list) else [mapped]
            return stock, [], [resource] if resource else [record.external_id for record in stock]
        return [], [], [resource] if resource else []


@dataclass(frozen=True)
class FormWebhooks(JsonWebhooks):
    """Form-encoded webhooks: the JSON object in the ``payload_field``, the topic in the
    ``topic_field`` or, when a delivery has none, ``infer_topic(payload)``. The dedupe key is the
    topic and the payload's ``key_fields`` (``id`` and ``version``: one change of one resource),
    else the topic and a hash of the JSON. ``occurred_fields`` are tried in order. Without a
    webhook secret the credential named ``secret_credential`` verifies (an app's client secret)."""

    payload_field: str = "payload"
    topic_field: str = "type"
    infer_topic: Callable[[Mapping[str, Any]], str] = lambda payload: "unknown"
    key_fields: tuple[str, ...] = ("id", "version")
    occurred_fields: tuple[str, ...] = ("updated_at", "created_at")
    secret_credential: str | None = None


class FormWebhookConnector(JsonWebhookConnector):
    """``verify_webhook`` / ``parse_webhook`` from a :class:`FormWebhooks` declaration; the record
    mapping per kind is :meth:`JsonWebhookConnector.webhook_records`'."""

    webhooks: ClassVar[FormWebhooks]

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        spec = self.webhooks
        secret = self.config.webhook_secret or self.config.credentials.get(spec.secret_credential or "")
        spec.verify(secret, body, first_header(headers, spec.signature_headers))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        spec = self.webhooks
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise MalformedPayloadError(f"body is not UTF-8: {exc}") from exc
        raw = (form.get(spec.payload_field) or [""])[0]
        if not raw:
            raise MalformedPayloadError(f"form field {spec.payload_field!r} missing")
        payload = json_object(raw, spec.payload_field)
        topic = (form.get(spec.topic_field) or [""])[0] or spec.infer_topic(payload)
        keys = [key for key in (id_str(payload.get(name)) for name in spec.key_fields) if key]
        dedupe = ":".join([topic, *keys]) if len(keys) == len(spec.key_fields) else \
            f"{topic}:{hashlib.sha256(raw.encode()).hexdigest()}"
        occurred = next((when for when in map(parse_timestamp, (payload.get(f) for f in spec.occurred_fields))
                         if when), None)
        kind = spec.kinds.get(topic, "other")
        try:
            stock, orders, resources = self.webhook_records(kind, payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedPayloadError(f"{topic} payload lacks {exc}") from exc
        return WebhookEvent(kind, topic, f"{self.platform}:{dedupe}", occurred, stock=stock, orders=orders,
                            resource_ids=resources)
