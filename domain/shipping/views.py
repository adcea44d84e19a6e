"""Shipments read back: for ``backorders why order N`` (each shipment, each scan, each decision with
its figures) and for ``backorders shipping list``."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import AuditLog, Order, Shipment, ShipmentLine, ShippingAccount, TrackingEvent

#: One line of an order's trail: when, kind, text, figures.
Entry = tuple[datetime | None, str, str, dict[str, Any]]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def order_shipments(session: Session, order_id: int) -> list[dict[str, Any]]:
    """The order's shipments as facts: carrier, tracking, status, last sign of life, lines."""
    out = []
    for shipment in session.scalars(select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)):
        lines = session.execute(select(ShipmentLine.sku, ShipmentLine.quantity, ShipmentLine.order_line_id)
                                .where(ShipmentLine.shipment_id == shipment.id).order_by(ShipmentLine.id)).tuples()
        out.append({"id": shipment.id, "carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
                    "status": shipment.status, "last_scan_at": _iso(shipment.last_scan_at),
                    "stuck_at": _iso(shipment.stuck_at),
                    "lines": [{"sku": sku, "quantity": quantity, "order_line_id": line} for sku, quantity, line in lines]})
    return out


def order_entries(session: Session, order_id: int) -> list[Entry]:
    """Each shipment's label, scans and decisions (with the figures and rule they kept)."""
    entries: list[Entry] = []
    parcels = list(session.scalars(select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)))
    for shipment in parcels:
        name = f"{shipment.carrier} {shipment.tracking_number}".strip()
        entries.append((shipment.label_created_at or shipment.created_at, "shipment",
                        f"shipment {shipment.id} ({name}) label created", {"shipment_id": shipment.id}))
        for scan in session.scalars(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)
                                    .order_by(TrackingEvent.occurred_at, TrackingEvent.id)):
            where = f" at {scan.location}" if scan.location else ""
            entries.append((scan.occurred_at, "shipment.scan",
                            f"shipment {shipment.id} scan{where}: {scan.description} → {scan.status or 'no change'}",
                            {"shipment_id": shipment.id, "status": scan.status, "code": scan.code}))
    subjects = [("shipment", str(s.id)) for s in parcels] + [("order", str(order_id))]
    for entry in session.scalars(select(AuditLog).where(AuditLog.action.startswith("shipment."),
                                                        AuditLog.subject_type.in_(["shipment", "order"]))
                                 .order_by(AuditLog.at, AuditLog.id)):
        if (entry.subject_type, entry.subject_id) not in subjects or entry.action == "shipment.status":
            continue
        data = entry.data or {}
        figures = ", ".join(f"{k} {v}" for k, v in data.items() if k in ("days_since_last_scan", "stuck_after_days",
                                                                         "scan", "shipments", "customer_told"))
        entries.append((entry.at, entry.action, f"{entry.action} on {entry.subject_type} {entry.subject_id}: "
                        f"{figures}; rule: {data.get('rule', '-')}", dict(data)))
    return entries


def message_prefixes(session: Session, order_id: int) -> list[str]:
    """Outbox key prefixes of the order's shipping notices (``backorders why`` lists those messages)."""
    ids = session.scalars(select(Shipment.id).where(Shipment.order_id == order_id))
    return [f"shipment:{shipment_id}:" for shipment_id in ids] + [f"order:{order_id}:shipment_"]


def recent(session: Session, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
    """The newest shipments, for ``backorders shipping list``."""
    query = (select(Shipment, ShippingAccount.key, Order.number).join(ShippingAccount,
                                                                      ShippingAccount.id == Shipment.account_id)
             .outerjoin(Order, Order.id == Shipment.order_id).order_by(Shipment.id.desc()).limit(limit))
    if status:
        query = query.where(Shipment.status == status)
    return [{"id": s.id, "account": key, "order": number or s.order_number or None, "carrier": s.carrier,
             "tracking_number": s.tracking_number, "status": s.status, "status_at": _iso(s.status_at),
             "last_scan_at": _iso(s.last_scan_at), "stuck_at": _iso(s.stuck_at)}
            for s, key, number in session.execute(query).tuples()]


def accounts(session: Session) -> list[dict[str, Any]]:
    """Each shipping account's last poll and how its shipments stand (``backorders status``)."""
    from sqlalchemy import func

    from domain.shipping.shipments import MOVING

    counts = dict(session.execute(select(Shipment.account_id, func.count()).where(Shipment.status.in_(MOVING))
                                  .group_by(Shipment.account_id)).tuples().all())
    stuck = dict(session.execute(select(Shipment.account_id, func.count()).where(
        Shipment.status.in_(MOVING), Shipment.stuck_at.is_not(None), Shipment.stuck_at >= Shipment.last_scan_at)
        .group_by(Shipment.account_id)).tuples().all())
    rows = []
    for account in session.scalars(select(ShippingAccount).order_by(ShippingAccount.key)):
        polled = f"last polled {account.last_polled_at:%Y-%m-%d %H:%M} UTC" if account.last_polled_at else "never polled"
        outcome = f"failed: {account.last_error}" if account.last_error else "ok"
        moving, silent = counts.get(account.id, 0), stuck.get(account.id, 0)
        rows.append({"key": account.key, "provider": account.provider, "enabled": account.enabled,
                     "last_polled_at": _iso(account.last_polled_at), "last_error": account.last_error,
                     "moving": moving, "stuck": silent,
                     "line": f"{account.key}  {polled} {outcome}; {moving} on their way, {silent} stuck"})
    return rows
