"""Plain records every shipping connector returns (ShipStation, Flexport), so the shipping part of
the domain treats a parcel label and a freight shipment alike.

A :class:`ShipmentRecord` is one package or freight shipment as the provider knows it: which order
it serves, which lines and quantities it carries, its carrier and tracking number, and the scans
(:class:`ScanRecord`) read with it. Statuses are ours (:data:`STATUSES`); each connector maps its
provider's words onto them. A verified webhook becomes a :class:`ShippingNotice`: the records it
carries, or the resource URLs the drain must fetch (ShipStation sends only a ``resource_url``).

Shared by the label APIs: :class:`ShipmentFields` (where a label or shipment keeps its fields, so
ShipStation V1 shipments and V2 labels map through one function), :class:`TrackingEvents` (the
ShipEngine-style tracking events ShipStation V2 answers, one scan each), :func:`resource_notice`
(a webhook that only names a resource to GET), :func:`carrier_address` (a store's address as a
label's ``ship_to`` / ``ship_from``) and :class:`ReturnLabel` (a return label bought or found).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator, Literal, Mapping, Protocol, runtime_checkable

from connectors.errors import MalformedPayloadError, SignatureError
from connectors.records import field_at
from connectors.signing import constant_time_equals, header_value
from connectors.types import Page
from connectors.values import json_object, parse_timestamp

ShipmentStatus = Literal["label_created", "manifested", "in_transit", "out_for_delivery", "delivered",
                         "exception", "returned", "voided"]
STATUSES: tuple[ShipmentStatus, ...] = ("label_created", "manifested", "in_transit", "out_for_delivery",
                                        "delivered", "exception", "returned", "voided")
#: The header a shipping webhook may carry our token in, where the provider lets a subscription
#: set headers; otherwise the token travels in the URL we subscribe (``?token=``).
TOKEN_HEADER = "X-Shipping-Token"


@dataclass(frozen=True)
class ShipmentLineRecord:
    """What one shipment carries of one order line: the store's line id when the provider keeps it
    (ShipStation ``lineItemKey``), else the SKU; ``quantity`` None means the whole line."""

    sku: str | None
    quantity: int | None
    line_external_id: str | None = None


@dataclass(frozen=True)
class ScanRecord:
    """One carrier scan or freight milestone. ``event_id`` is the provider's id, or a stable hash of
    the scan's time, code and words where it gives none, so a scan read twice is stored once.
    ``status`` None is activity that moves no status (an unmapped milestone, a customs note)."""

    event_id: str
    status: ShipmentStatus | None
    occurred_at: datetime
    description: str = ""
    location: str = ""
    code: str = ""


@dataclass(frozen=True)
class ShipmentRecord:
    external_id: str
    order_number: str | None
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""
    #: The status the provider states outright (a voided label); scans decide it otherwise.
    status: ShipmentStatus | None = None
    label_created_at: datetime | None = None
    shipped_at: datetime | None = None
    lines: tuple[ShipmentLineRecord, ...] = ()
    scans: tuple[ScanRecord, ...] = ()
    #: The time a cursor over this record moves to (creation, or the milestone that carried it).
    updated_at: datetime | None = None
    #: The provider's handle for reading tracking later (a ShipStation V2 ``label_id``).
    label_ref: str | None = None


class ShipmentPage(Page[ShipmentRecord]):
    """A page of shipment records and the cursor to save once the page is stored."""


@dataclass(frozen=True)
class TrackRequest:
    """A stored shipment whose scans are read again by polling."""

    external_id: str
    carrier: str
    tracking_number: str
    label_ref: str | None = None


@dataclass(frozen=True)
class ShippingNotice:
    """A verified, parsed shipping webhook."""

    dedupe_key: str
    topic: str
    records: tuple[ShipmentRecord, ...] = ()
    #: Provider URLs to GET (with our credentials) for the records the notice is about.
    fetch: tuple[str, ...] = ()
    occurred_at: datetime | None = None


@runtime_checkable
class ShippingConnector(Protocol):
    """What a shipping provider's connector offers the flows; no Celery, no database."""

    provider: str

    def fetch_shipments(self, since: str | None) -> Iterator[ShipmentPage]:
        """Shipments created or moved since the cursor, page by page, each with its safe cursor."""
        ...

    def fetch_resource(self, url: str) -> list[ShipmentRecord]:
        """The records a webhook's resource URL names (refused unless it is the provider's own host)."""
        ...

    def track(self, shipment: TrackRequest) -> list[ScanRecord] | None:
        """The shipment's scans now; None where polling ``fetch_shipments`` already brings them."""
        ...

    def verify_delivery(self, headers: Mapping[str, str], body: bytes, token: str | None = None) -> None:
        """Raise :class:`SignatureError` unless the delivery is authentic (signature or our token)."""
        ...

    def parse_delivery(self, headers: Mapping[str, str], body: bytes) -> ShippingNotice:
        ...

    def subscribe(self, target_url: str) -> list[str]:
        """Register our webhook URL with the provider where its API allows; what was done, per event."""
        ...


def verify_token(expected: str | None, headers: Mapping[str, str], token: str | None) -> None:
    """For providers that sign nothing (ShipStation V1): the delivery must carry our unguessable
    secret, in :data:`TOKEN_HEADER` or as the ``token`` the URL we subscribed carries."""
    if not expected:
        raise SignatureError("no webhook token configured for this shipping account")
    offered = header_value(headers, TOKEN_HEADER) or token
    if not offered:
        raise SignatureError("webhook token missing")
    if not constant_time_equals(expected, offered):
        raise SignatureError("webhook token does not match")


@dataclass(frozen=True)
class ShipmentFields:
    """Where a label API keeps a shipment's fields (dotted paths into the raw record): ShipStation
    V1 ``shipmentId`` / ``shipmentItems[].lineItemKey``, V2 ``label_id`` with its order's
    ``items[].external_order_item_id`` merged in under ``order``. A record is voided when one of
    ``voided`` is set or ``void_status`` reads ``voided``; lines flagged ``skip_line`` (V1
    adjustments) carry no goods; ``created_time`` reads the creation time (V1's is Pacific
    wall-clock text), which is also the time a cursor over the record moves to."""

    id: str
    order_number: str
    carrier: str
    service: str
    tracking_number: str
    created: str
    shipped: str
    items: str
    line_id: str
    sku: str = "sku"
    quantity: str = "quantity"
    voided: tuple[str, ...] = ("voided",)
    void_status: str | None = None
    skip_line: str | None = None
    created_time: Callable[[Any], datetime | None] = parse_timestamp
    #: True where the record's id is also the handle its tracking is read by (a V2 ``label_id``).
    id_is_label_ref: bool = False

    def lines(self, raw: Mapping[str, Any]) -> tuple[ShipmentLineRecord, ...]:
        return tuple(ShipmentLineRecord(sku=item.get(self.sku) or None, quantity=int(item.get(self.quantity) or 0),
                                        line_external_id=item.get(self.line_id) or None)
                     for item in field_at(raw, self.items) or [] if not (self.skip_line and item.get(self.skip_line)))

    def record(self, raw: Mapping[str, Any]) -> ShipmentRecord:
        created = self.created_time(field_at(raw, self.created))
        voided = any(raw.get(key) for key in self.voided) or bool(self.void_status and
                                                                   raw.get(self.void_status) == "voided")
        return ShipmentRecord(
            external_id=str(raw[self.id]), order_number=field_at(raw, self.order_number) or None,
            carrier=field_at(raw, self.carrier) or "", service=field_at(raw, self.service) or "",
            tracking_number=field_at(raw, self.tracking_number) or "", status="voided" if voided else None,
            label_created_at=created, shipped_at=parse_timestamp(field_at(raw, self.shipped)), lines=self.lines(raw),
            updated_at=created, label_ref=str(raw[self.id]) if self.id_is_label_ref else None)


@dataclass(frozen=True)
class TrackingEvents:
    """Tracking events as ShipEngine answers them (ShipStation V2 ``GET /v2/tracking``,
    https://docs.shipstation.com/tracking ): ``status_code`` maps through ``statuses``, except that a
    ``status_detail_code`` naming a return (or words saying "return(ed) to sender") is ``returned`` and
    ``OUT_FOR_DELIVERY`` is ``out_for_delivery``. The events carry no id, so a scan's id is a stable
    hash of its time, code, status and words; an event without a time is dropped."""

    statuses: Mapping[str, ShipmentStatus | None]
    events: str = "events"
    status: str = "status_code"
    detail: str = "status_detail_code"
    time: str = "occurred_at"
    code: str = "event_code"
    words: str = "description"
    place: tuple[str, ...] = ("city_locality", "state_province", "country_code")

    def status_of(self, event: Mapping[str, Any]) -> ShipmentStatus | None:
        detail, words = str(event.get(self.detail) or ""), str(event.get(self.words) or "").lower()
        if "RETURN" in detail or "return to sender" in words or "returned to sender" in words:
            return "returned"
        if detail == "OUT_FOR_DELIVERY":
            return "out_for_delivery"
        return self.statuses.get(str(event.get(self.status) or "").upper())

    def scan(self, event: Mapping[str, Any]) -> ScanRecord | None:
        occurred = parse_timestamp(event.get(self.time))
        if occurred is None:
            return None
        code, words = str(event.get(self.code) or ""), str(event.get(self.words) or "")
        digest = hashlib.sha256(f"{occurred.isoformat()}|{code}|{event.get(self.status)}|{words}".encode()).hexdigest()
        place = ", ".join(str(event[key]) for key in self.place if event.get(key))
        return ScanRecord(event_id=digest[:24], status=self.status_of(event), occurred_at=occurred, description=words,
                          location=place, code=code)

    def scans(self, body: Any) -> list[ScanRecord]:
        """Every timed scan of a tracking answer, oldest first as the API lists them."""
        events = body.get(self.events) or [] if isinstance(body, Mapping) else []
        return [scan for scan in map(self.scan, events) if scan is not None]


def resource_notice(provider: str, body: bytes, fetched: tuple[str, ...]) -> ShippingNotice:
    """A webhook whose body only names a resource, ``{resource_url, resource_type}`` (ShipStation
    V1: https://docs.shipstation.com/apis/shipstation-v1/docs/models/webhook ): deduplicated by the
    URL, which is fetched when the type is one of ``fetched``."""
    payload = json_object(body)
    url, kind = payload.get("resource_url"), payload.get("resource_type")
    if not isinstance(url, str) or not url or not isinstance(kind, str):
        raise MalformedPayloadError("body needs resource_url and resource_type")
    dedupe = hashlib.sha256(url.encode()).hexdigest()
    return ShippingNotice(f"{provider}:{kind}:{dedupe}", kind, fetch=(url,) if kind in fetched else ())


def carrier_address(raw: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """A store's address (Shopify-style ``address1`` / ``city`` / ``province_code`` / ``zip``, or
    already carrier-style) as a label API's address (ShipEngine / ShipStation V2
    ``address_line1`` / ``city_locality`` / ``state_province`` / ``postal_code``), named ``name``
    where it names nobody; the country defaults to US."""
    raw = raw or {}
    return {"name": raw.get("name") or name, "phone": raw.get("phone") or "",
            "address_line1": raw.get("address1") or raw.get("address_line1") or "",
            "city_locality": raw.get("city") or raw.get("city_locality") or "",
            "state_province": raw.get("province_code") or raw.get("state_province") or raw.get("state") or "",
            "postal_code": raw.get("zip") or raw.get("postal_code") or "",
            "country_code": raw.get("country_code") or "US"}


@dataclass(frozen=True)
class ReturnLabel:
    label_id: str
    tracking_number: str
    carrier_code: str
    url: str | None
    #: True when the label was found already bought under our reference (a retry), not bought now.
    found: bool = False

    @classmethod
    def of(cls, raw: Mapping[str, Any], found: bool) -> ReturnLabel:
        """From a label API's label (``label_id``, ``tracking_number``, ``label_download.pdf``/``href``)."""
        download = raw.get("label_download") or {}
        return cls(str(raw["label_id"]), str(raw.get("tracking_number") or ""), str(raw.get("carrier_code") or ""),
                   download.get("pdf") or download.get("href"), found)
