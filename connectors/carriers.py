"""Plain records every shipping connector returns (ShipStation, Flexport), so the shipping part of
the domain treats a parcel label and a freight shipment alike.

A :class:`ShipmentRecord` is one package or freight shipment as the provider knows it: which order
it serves, which lines and quantities it carries, its carrier and tracking number, and the scans
(:class:`ScanRecord`) read with it. Statuses are ours (:data:`STATUSES`); each connector maps its
provider's words onto them. A verified webhook becomes a :class:`ShippingNotice`: the records it
carries, or the resource URLs the drain must fetch (ShipStation sends only a ``resource_url``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Literal, Mapping, Protocol, runtime_checkable

from connectors.errors import SignatureError
from connectors.signing import constant_time_equals, header_value
from connectors.types import Page

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
