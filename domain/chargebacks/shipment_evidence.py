"""Shipments as evidence: carrier, tracking number, ship date, delivered scan or signature, and
the address it went to — what a "not received" dispute needs (Visa 13.1 asks for proof the
cardholder received the goods: https://usa.review.visa.com/supporting-info/merchandise-services-not-received-condition-13-1.html).

The chargebacks part does not own shipments; it reads the rows the shipping part keeps
(``shipments`` and their ``tracking_events``, ``domain.shipping``) through one lookup,
:func:`recorded_shipments` by default. A test or another source of tracking may set its own::

    shipment_evidence.use_lookup(lambda session, order_id: [ShipmentFacts(...), ...])

With the lookup set to ``None`` the source reports the shipment facts as missing with that
reason, so the case owner sees why the packet is short. Delivery proof follows the carriers' tracking data:
a delivered status and time, the scan's message and place, and who signed
(https://docs.easypost.com/docs/trackers, https://www.aftership.com/docs/tracking/2026-07/enum/delivery-sub-statuses).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.chargebacks.order_sources import address_text
from domain.chargebacks.sources import Fact, Found, Gap, Scope, source

SHIPMENT_FACTS = ("carrier", "tracking_number", "ship_date", "delivery_proof", "shipping_address")


@dataclass(frozen=True)
class ShipmentFacts:
    """One shipment of the order as the shipping part knows it."""

    carrier: str = ""
    tracking_number: str = ""
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    #: The delivered scan's words and place ("Delivered, front door", "Brooklyn NY 11201").
    delivery_scan: str = ""
    delivery_location: str = ""
    signed_by: str = ""
    #: A photo or signature image the carrier keeps (named, not linked: issuers do not follow links).
    proof_note: str = ""
    address: str = ""


Lookup = Callable[[Session, int], Sequence[ShipmentFacts]]


def recorded_shipments(session: Session, order_id: int) -> list[ShipmentFacts]:
    """The order's shipments as the shipping part recorded them (voided labels left out), each
    with its delivered scan's words and place when the carrier reported one."""
    from domain.core.models import Shipment, TrackingEvent

    found = []
    for shipment in session.scalars(select(Shipment).where(Shipment.order_id == order_id,
                                                           Shipment.status != "voided").order_by(Shipment.id)):
        delivered = session.scalar(select(TrackingEvent).where(
            TrackingEvent.shipment_id == shipment.id, TrackingEvent.status == "delivered")
            .order_by(TrackingEvent.occurred_at.desc()).limit(1))
        found.append(ShipmentFacts(
            carrier=shipment.carrier, tracking_number=shipment.tracking_number,
            shipped_at=shipment.shipped_at or shipment.label_created_at,
            delivered_at=shipment.delivered_at or (delivered.occurred_at if delivered else None),
            delivery_scan=delivered.description if delivered else "",
            delivery_location=delivered.location if delivered else ""))
    return found


_lookup: Lookup | None = recorded_shipments


def use_lookup(lookup: Lookup | None) -> Lookup | None:
    """Set how an order's shipments are found; returns the one it replaces (tests put it back)."""
    global _lookup
    previous, _lookup = _lookup, lookup
    return previous


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def delivery_text(shipment: ShipmentFacts) -> str:
    """The delivered scan and signature in one line, or "" when the carrier has neither."""
    parts = []
    if shipment.delivered_at is not None:
        where = ", ".join(p for p in (shipment.delivery_scan, shipment.delivery_location) if p)
        parts.append(f"delivered {_stamp(shipment.delivered_at)}" + (f" ({where})" if where else ""))
    if shipment.signed_by:
        parts.append(f"signed for by {shipment.signed_by}")
    if parts and shipment.proof_note:
        parts.append(shipment.proof_note)
    return "; ".join(parts)


def facts_from(shipments: Sequence[ShipmentFacts]) -> Found:
    """The shipment facts from an order's shipments (several shipments: each listed). The address
    only when a shipment records one: the order is where the customer's address is kept (the
    ``checkout`` source), so its absence here is no gap of ours."""
    if not shipments:
        return {name: Gap("no shipment is recorded for the order", "shipments")
                for name in SHIPMENT_FACTS if name != "shipping_address"}

    def joined(values: list[str]) -> str:
        return "; ".join(dict.fromkeys(v for v in values if v))

    carriers = joined([s.carrier for s in shipments])
    tracking = joined([s.tracking_number for s in shipments])
    shipped = joined([s.shipped_at.strftime("%Y-%m-%d") for s in shipments if s.shipped_at])
    delivered = joined([f"{s.tracking_number or s.carrier}: {delivery_text(s)}" if len(shipments) > 1
                        else delivery_text(s) for s in shipments if delivery_text(s)])
    address = joined([address_text(s.address) for s in shipments])
    rows = tuple({"carrier": s.carrier, "tracking_number": s.tracking_number,
                  "shipped": s.shipped_at.strftime("%Y-%m-%d") if s.shipped_at else "",
                  "delivered": delivery_text(s)} for s in shipments)

    def fact_or_gap(text: str, why: str, with_rows: bool = False) -> Fact | Gap:
        return Fact(text, "shipments", rows if with_rows else ()) if text else Gap(why, "shipments")

    found: Found = {
        "carrier": fact_or_gap(carriers, "the shipment names no carrier"),
        "tracking_number": fact_or_gap(tracking, "the shipment has no tracking number"),
        "ship_date": fact_or_gap(shipped, "the shipment has no ship date"),
        "delivery_proof": fact_or_gap(delivered, "the carrier has no delivered scan or signature yet", True),
    }
    if address:
        found["shipping_address"] = Fact(address, "shipments")
    return found


@source("shipments", priority=10)
def shipments(scope: Scope) -> Found:
    """Runs first: what the carrier saw beats what checkout was told (e.g. the shipping address)."""
    if scope.order is None:
        return {name: Gap("no order carries this payment reference", "shipments") for name in SHIPMENT_FACTS}
    if _lookup is None:
        return {name: Gap("shipment tracking is not connected", "shipments")
                for name in SHIPMENT_FACTS if name != "shipping_address"}
    return facts_from(list(_lookup(scope.session, scope.order.id)))
