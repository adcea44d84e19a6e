"""Shipments and their scans stored once, and what they say about the order.

A provider record (``connectors.carriers.ShipmentRecord``) becomes one ``shipments`` row per
account and provider id, its lines (matched to the order's lines by the store's line id, else by
SKU) and its scans, each ``tracking_events`` row unique per provider event: a webhook redelivered,
a page read twice or a poll overlapping a webhook adds nothing. The shipment's status is the status
of its latest scan that names one (a voided label is voided whatever its scans); ``last_scan_at``
is the latest sign of life: the newest scan, else the label's creation.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connectors.carriers import ShipmentRecord
from domain.core.clock import utcnow
from domain.core.models import Backorder, Order, OrderLine, Shipment, ShipmentLine, Sku, TrackingEvent

#: Shipments still on their way: the only ones the stuck rule watches and polling tracks.
MOVING = ("label_created", "manifested", "in_transit", "out_for_delivery")
#: Backorder states whose units will never ship (the customer took their money or another item).
ENDED = ("cancelled_by_customer", "auto_cancelled", "substituted")


@dataclass
class Recorded:
    shipment: Shipment
    created: bool
    previous_status: str | None
    new_scans: list[TrackingEvent] = field(default_factory=list)


def order_for(session: Session, number: str | None) -> Order | None:
    """The order a provider names by number (``1001`` or ``#1001``); the newest when two stores share one."""
    if not number:
        return None
    bare = number.strip().lstrip("#")
    return session.scalar(select(Order).where(Order.number.in_({number.strip(), bare, f"#{bare}"}))
                          .order_by(Order.placed_at.desc(), Order.id.desc()).limit(1))


def record(session: Session, account_id: int, rec: ShipmentRecord, now: datetime | None = None) -> Recorded:
    """Store (or update) one provider record in the caller's transaction; the row stays locked."""
    now = now or utcnow()
    statement = insert(Shipment).values(
        account_id=account_id, external_id=rec.external_id, order_number=rec.order_number or "",
        carrier=rec.carrier, service=rec.service, tracking_number=rec.tracking_number, label_ref=rec.label_ref,
        label_created_at=rec.label_created_at, shipped_at=rec.shipped_at,
        last_scan_at=rec.label_created_at or rec.shipped_at or now, status_at=rec.label_created_at or now)
    keep = statement.excluded
    upserted: Any = session.execute(statement.on_conflict_do_update(
        constraint="uq_shipments_account_external",
        set_={"carrier": func.coalesce(func.nullif(keep.carrier, ""), Shipment.carrier),
              "service": func.coalesce(func.nullif(keep.service, ""), Shipment.service),
              "tracking_number": func.coalesce(func.nullif(keep.tracking_number, ""), Shipment.tracking_number),
              "order_number": func.coalesce(func.nullif(keep.order_number, ""), Shipment.order_number),
              "label_ref": func.coalesce(keep.label_ref, Shipment.label_ref),
              "label_created_at": func.coalesce(Shipment.label_created_at, keep.label_created_at),
              "shipped_at": func.coalesce(Shipment.shipped_at, keep.shipped_at)})
        .returning(Shipment.id, literal_column("xmax = 0").label("created"))).one()
    shipment = session.get(Shipment, upserted.id, populate_existing=True)
    assert shipment is not None
    previous = None if upserted.created else shipment.status
    if shipment.order_id is None:
        order = order_for(session, shipment.order_number)
        shipment.order_id = order.id if order is not None else None
    if rec.lines and shipment.order_id is not None:
        _lines(session, shipment, rec)
    new = _scans(session, shipment, rec)
    _restate(session, shipment, rec, now)
    return Recorded(shipment, bool(upserted.created), previous, new)


def _lines(session: Session, shipment: Shipment, rec: ShipmentRecord) -> None:
    """Replace the shipment's lines with the record's, each matched to an order line."""
    lines = list(session.execute(select(OrderLine, Sku.code).outerjoin(Sku, Sku.id == OrderLine.sku_id)
                                 .where(OrderLine.order_id == shipment.order_id)).tuples())
    by_external = {line.external_id: line for line, _ in lines}
    by_sku = {code: line for line, code in lines if code}
    session.execute(delete(ShipmentLine).where(ShipmentLine.shipment_id == shipment.id))
    for item in rec.lines:
        line = by_external.get(item.line_external_id or "") or by_sku.get(item.sku or "")
        quantity = item.quantity if item.quantity is not None else (line.quantity if line else 0)
        session.add(ShipmentLine(shipment_id=shipment.id, order_line_id=line.id if line else None,
                                 sku=item.sku or "", quantity=max(0, quantity)))


def _scans(session: Session, shipment: Shipment, rec: ShipmentRecord) -> list[TrackingEvent]:
    """Insert the record's scans; returns those stored now (not seen before)."""
    if not rec.scans:
        return []
    ids = session.scalars(insert(TrackingEvent).values([
        {"shipment_id": shipment.id, "event_key": scan.event_id[:200], "status": scan.status,
         "occurred_at": scan.occurred_at, "description": scan.description, "location": scan.location[:200],
         "code": scan.code[:64]} for scan in rec.scans])
        .on_conflict_do_nothing(constraint="uq_tracking_events_shipment_event").returning(TrackingEvent.id)).all()
    return list(session.scalars(select(TrackingEvent).where(TrackingEvent.id.in_(ids)).order_by(
        TrackingEvent.occurred_at, TrackingEvent.id))) if ids else []


def _restate(session: Session, shipment: Shipment, rec: ShipmentRecord, now: datetime) -> None:
    """Status and times from every stored scan (an older scan arriving late changes nothing)."""
    latest = session.scalar(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id,
                                                        TrackingEvent.status.is_not(None))
                            .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc()).limit(1))
    newest = session.scalar(select(func.max(TrackingEvent.occurred_at)).where(TrackingEvent.shipment_id == shipment.id))
    if rec.status == "voided" or shipment.status == "voided":
        shipment.status, shipment.status_at = "voided", shipment.status_at or now
    elif latest is not None and latest.status is not None:
        shipment.status, shipment.status_at = latest.status, latest.occurred_at
    elif rec.status is not None:
        shipment.status = rec.status
    if shipment.status == "delivered" and shipment.delivered_at is None:
        shipment.delivered_at = shipment.status_at
    shipment.last_scan_at = max(filter(None, (newest, shipment.label_created_at, shipment.shipped_at,
                                              shipment.last_scan_at)), default=now)


def active_shipments(session: Session, order_id: int) -> list[Shipment]:
    return list(session.scalars(select(Shipment).where(Shipment.order_id == order_id, Shipment.status != "voided")
                                .order_by(Shipment.id)))


def shipped_units(session: Session, order_id: int) -> dict[int, int]:
    """Order line id → units in the order's shipments that are not voided."""
    rows = session.execute(select(ShipmentLine.order_line_id, func.sum(ShipmentLine.quantity))
                           .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
                           .where(Shipment.order_id == order_id, Shipment.status != "voided",
                                  ShipmentLine.order_line_id.is_not(None))
                           .group_by(ShipmentLine.order_line_id)).tuples().all()
    return {int(line_id): int(units) for line_id, units in rows if line_id is not None}


def owed_units(session: Session, lines: list[OrderLine]) -> dict[int, int]:
    """Per order line, the units that still have to ship: its quantity less what ended unshipped."""
    ended: dict[int, int] = defaultdict(int)
    for line_id, quantity in session.execute(select(Backorder.order_line_id, Backorder.quantity).where(
            Backorder.order_line_id.in_([line.id for line in lines]), Backorder.state.in_(ENDED))).tuples():
        ended[line_id] += quantity
    return {line.id: max(0, line.quantity - ended[line.id]) for line in lines}
