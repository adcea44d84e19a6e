"""Following up vendors: acknowledgement and ASN deadlines, the vendor's own date page, escalation.

After a PO is sent, two timers watch it: ``po.ack_due`` (the vendor's ``ack_within_hours``) and
``po.asn_due`` (the expected date: an advance ship notice should have come by then). A timer that
fires with its answer still missing sends the vendor ONE escalation email with the structured ask
(which lines, which dates) and alerts staff (``po.late``); the outbox idempotency key and the
alert's dedupe key make a second firing send nothing. An acknowledgement (the signed page) or an
ASN cancels its timer and re-dates the lines, which re-dates waiting customers (``journey``); an
ASN whose quantity differs from what the line expected alerts staff (``domain.purchasing.mismatches``).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core import timers
from domain.core.clock import utcnow
from domain.core.models import PurchaseOrder, PurchaseOrderEvent, PurchaseOrderLine, Sku, Timer, Vendor
from domain.core.stages import FollowUp, Stage
from domain.journey.links import sign_po_link
from domain.messaging import alerts, outbox
from domain.purchasing import mismatches, purchase_orders

ACK_DUE, ASN_DUE = "po.ack_due", "po.asn_due"
DELIVER = Stage.DELIVER
LINK_LIFETIME = timedelta(days=90)


def ack_link(public_base_url: str, secret: str, po_id: int, now: datetime) -> str:
    return f"{public_base_url}/po/{sign_po_link(secret, po_id, int((now + LINK_LIFETIME).timestamp()))}"


def _asn_due(po: PurchaseOrder) -> datetime | None:
    return datetime.combine(po.expected_at, time(0, 0), tzinfo=UTC) if po.expected_at else None


def watch(session: Session, po: PurchaseOrder) -> None:
    """Start (or move) the acknowledgement and ASN timers of a sent PO."""
    if po.ack_due_at and po.acknowledged_at is None:
        timers.schedule(session, ACK_DUE, "purchase_order", po.id, po.ack_due_at)
    po.asn_due_at = _asn_due(po)
    if po.asn_due_at and not _has_event(session, po.id, "asn"):
        timers.schedule(session, ASN_DUE, "purchase_order", po.id, po.asn_due_at)


def _has_event(session: Session, po_id: int, kind: str) -> bool:
    return session.scalar(select(PurchaseOrderEvent.id).where(PurchaseOrderEvent.purchase_order_id == po_id,
                                                              PurchaseOrderEvent.kind == kind).limit(1)) is not None


def acknowledge(session: Session, po_id: int, dates: Mapping[str, date], now: datetime | None = None
                ) -> list[FollowUp]:
    """The vendor confirmed (or changed) its dates on the signed page."""
    now = now or utcnow()
    follow_ups = purchase_orders.update_dates(session, po_id, dates, "acknowledged", now)
    po = session.get(PurchaseOrder, po_id)
    assert po is not None
    timers.cancel(session, "purchase_order", po_id, (ACK_DUE,))
    watch(session, po)
    return follow_ups


def record_asn(session: Session, po_id: int, arrival: date, shipped: Mapping[str, int] | None = None,
               now: datetime | None = None) -> list[FollowUp]:
    """An advance ship notice: what shipped (everything outstanding by default) and when it lands."""
    now = now or utcnow()
    rows = {sku.code: (line, sku) for line, sku in session.execute(
        select(PurchaseOrderLine, Sku).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
        .where(PurchaseOrderLine.purchase_order_id == po_id).with_for_update(of=PurchaseOrderLine)).tuples()}
    lines = {code: line for code, (line, _) in rows.items()}
    unknown = sorted(set(shipped or {}) - set(lines))
    if unknown:
        raise purchase_orders.PurchasingError(f"the purchase order has no line for SKU(s) {', '.join(unknown)}")
    negative = sorted(code for code, quantity in (shipped or {}).items() if quantity < 0)
    if negative:
        raise purchase_orders.PurchasingError(f"a shipped quantity cannot be negative: {', '.join(negative)}")
    quantities = shipped or {code: line.quantity - line.received_qty for code, line in lines.items()}
    found: list[mismatches.Mismatch] = []
    for code, quantity in sorted((shipped or {}).items()):  # "everything outstanding" is our own figure
        line, sku = rows[code]
        finding = mismatches.check_asn(sku.id, code, sku.title, line.quantity, line.shipped_qty, line.received_qty,
                                       quantity)
        if finding is not None:
            found.append(finding)
    for code, quantity in quantities.items():
        lines[code].shipped_qty = min(lines[code].quantity, lines[code].shipped_qty + max(0, quantity))
    follow_ups = purchase_orders.update_dates(session, po_id, {code: arrival for code in quantities}, "asn", now,
                                         shipped=quantities, mismatches=[m.as_dict() for m in found])
    timers.cancel(session, "purchase_order", po_id, (ASN_DUE,))
    if found:
        follow_ups += _asn_mismatch_alerts(session, po_id, found)
    return follow_ups


def _asn_mismatch_alerts(session: Session, po_id: int, found: list[mismatches.Mismatch]) -> list[FollowUp]:
    """Alert staff once per mismatched line of the ASN just recorded (its event id is the cause)."""
    from domain.core.business_config import current_config

    po = session.get(PurchaseOrder, po_id)
    assert po is not None
    vendor = session.get(Vendor, po.vendor_id)
    assert vendor is not None
    session.flush()
    event_id = session.scalar(select(PurchaseOrderEvent.id).where(
        PurchaseOrderEvent.purchase_order_id == po_id, PurchaseOrderEvent.kind == "asn")
        .order_by(PurchaseOrderEvent.id.desc()).limit(1))
    outbox_ids = mismatches.raise_alerts(session, found, po_id=po.id, po_number=po.number, vendor=vendor.name,
                                         cause=f"asn:{event_id}", routes=current_config().notifications.routes)
    return [FollowUp(DELIVER, (outbox_id,)) for outbox_id in outbox_ids]


def escalation_context(session: Session, po: PurchaseOrder, kind: str, link: str | None) -> dict[str, Any]:
    vendor = session.get(Vendor, po.vendor_id)
    assert vendor is not None
    rows = session.execute(select(PurchaseOrderLine, Sku).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
                           .where(PurchaseOrderLine.purchase_order_id == po.id).order_by(Sku.code)).tuples()
    from domain.core.business_config import current_config

    return {
        "business_name": current_config().name, "po_number": po.number, "vendor_name": vendor.name,
        "kind": kind, "sent_at": po.sent_at.isoformat() if po.sent_at else None,
        "expected_at": po.expected_at.isoformat() if po.expected_at else None, "ack_link": link,
        "lines": [{"sku": sku.code, "title": sku.title, "quantity": line.quantity - line.received_qty,
                   "promised_date": line.promised_date.isoformat() if line.promised_date else None,
                   "ask": ("confirm the ship date for this line" if kind == "acknowledgement"
                           else "send the advance ship notice: quantity shipped, carrier, tracking, arrival date")}
                  for line, sku in rows if line.quantity > line.received_qty],
    }


def escalate(session: Session, po: PurchaseOrder, kind: str, link: str | None, now: datetime) -> list[FollowUp]:
    """One escalation email to the vendor and one staff alert per PO and kind, whatever fires twice."""
    vendor = session.get(Vendor, po.vendor_id)
    assert vendor is not None
    context = escalation_context(session, po, kind, link)
    follow_ups: list[FollowUp] = []
    outbox_id = outbox.enqueue(session, idempotency_key=f"po:{po.id}:escalation:{kind}", channel="email",
                               template="po_escalation", recipient=vendor.email, context=context)
    if outbox_id is not None:
        follow_ups.append(FollowUp(DELIVER, (outbox_id,)))
        session.add(PurchaseOrderEvent(purchase_order_id=po.id, kind="escalated", at=now, data={"kind": kind}))
    from domain.core.business_config import current_config

    staff = {"event": "po.late", "sku": ", ".join(line["sku"] for line in context["lines"])[:200],
             "title": f"{po.number} for {vendor.name}", "from_state": po.state, "to_state": po.state,
             "available": 0, "threshold": 0, "open_demand": sum(line["quantity"] for line in context["lines"]),
             "locations": [], "channels": [],
             "detail": (f"{vendor.name} has not {'acknowledged' if kind == 'acknowledgement' else 'sent an ASN for'} "
                        f"{po.number}; the vendor was asked again by email.")}
    for alert_outbox_id in alerts.raise_alert(session, event="po.late", dedupe_key=f"po_late:{po.id}:{kind}",
                                              message=staff["detail"], context=staff,
                                              routes=current_config().notifications.routes):
        follow_ups.append(FollowUp(DELIVER, (alert_outbox_id,)))
    return follow_ups


def _link_for(po_id: int, now: datetime) -> str:
    from domain.core.env_settings import get_settings

    settings = get_settings()
    return ack_link(settings.public_base_url, settings.secret_key, po_id, now)


@timers.handler(ACK_DUE)
def _ack_due(session: Session, timer: Timer) -> list[FollowUp]:
    po = session.scalar(select(PurchaseOrder).where(PurchaseOrder.id == timer.subject_id).with_for_update(key_share=True))
    if po is None or po.acknowledged_at is not None or po.state != "sent":
        return []
    now = utcnow()
    return escalate(session, po, "acknowledgement", _link_for(po.id, now), now)


@timers.handler(ASN_DUE)
def _asn_due_fired(session: Session, timer: Timer) -> list[FollowUp]:
    po = session.scalar(select(PurchaseOrder).where(PurchaseOrder.id == timer.subject_id).with_for_update(key_share=True))
    if po is None or po.state not in ("sent", "acknowledged") or _has_event(session, po.id, "asn"):
        return []
    now = utcnow()
    return escalate(session, po, "asn", _link_for(po.id, now), now)
