"""An auto-cancelled backorder is a lost sale: merchandising hears it and the SKU's PO is pushed.

The "OOS hot path" ends here: no answer by the deadline → auto-cancel per policy → a
``merchandising.auto_cancelled`` alert naming the SKU, the order, the quantity and the reason →
the purchase order that should bring the SKU in is escalated:

* an open PO line for the SKU (the one expected first) gets an ``escalated``
  ``purchase_order_events`` row carrying the cancelled order and quantity, and the vendor or the
  buyer is chased through the vendor loop (``domain.purchasing.vendor_loop``): a sent PO without an
  acknowledgement asks the vendor to acknowledge, an acknowledged one without an ASN asks for
  the ASN (each at most once per PO, however many customers cancel); a PO not sent yet is the
  buyer's to approve or send, which the alert says;
* no open PO: purchasing planning runs for the SKU (``tasks.purchasing.plan_for_skus``).

It all happens in the transaction that moves the backorder to ``auto_cancelled``, under the
backorder's lock, so it happens once per cancellation: :func:`auto_cancelled` is registered with
``customer_journey.on_auto_cancel``, because the journey may not import purchasing (which imports
the journey); ``tasks.timers``, which fires the deadline, imports this module.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core import audit, effects
from domain.core.business_config import RouteConfig
from domain.core.stages import FollowUp, Stage
from domain.journey import customer_journey
from domain.messaging import alerts
from domain.purchasing import vendor_loop
from domain.core.models import (
    OPEN_PO_STATES,
    Backorder,
    Order,
    OrderLine,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    Sku,
    Vendor,
)

EVENT = "merchandising.auto_cancelled"
PLAN, DELIVER = Stage.PLAN, Stage.DELIVER
NOT_SENT = ("draft", "awaiting_approval", "approved")


def open_po_line(session: Session, sku_id: int) -> tuple[PurchaseOrder, PurchaseOrderLine] | None:
    """The open PO line with units still to come for the SKU, the one expected first."""
    row = session.execute(
        select(PurchaseOrder, PurchaseOrderLine)
        .join(PurchaseOrderLine, PurchaseOrderLine.purchase_order_id == PurchaseOrder.id)
        .where(PurchaseOrderLine.sku_id == sku_id, PurchaseOrder.state.in_(OPEN_PO_STATES),
               PurchaseOrderLine.quantity > PurchaseOrderLine.received_qty)
        .order_by(func.coalesce(PurchaseOrderLine.eta, PurchaseOrderLine.promised_date,
                                PurchaseOrder.expected_at).asc().nulls_last(), PurchaseOrder.id)
        .limit(1).with_for_update(of=PurchaseOrder, key_share=True)).first()
    return (row[0], row[1]) if row else None


def _has_asn(session: Session, po_id: int) -> bool:
    return session.scalar(select(PurchaseOrderEvent.id).where(
        PurchaseOrderEvent.purchase_order_id == po_id, PurchaseOrderEvent.kind == "asn").limit(1)) is not None


def _chase(session: Session, po: PurchaseOrder, vendor_name: str, ack_link: str, now: datetime
           ) -> tuple[str, list[FollowUp]]:
    """Who is asked for what, per the vendor loop; returns the sentence for the alert and the follow-ups."""
    if po.state in NOT_SENT:
        action = (f"approve it with `backorders po approve {po.id}`" if po.state == "awaiting_approval"
                  else "it goes to the vendor when its window closes" if po.state == "draft"
                  else "it is approved and waiting to be sent")
        return f"{po.number} has not reached the vendor yet ({po.state.replace('_', ' ')}): {action}.", []
    if po.state == "sent" and po.acknowledged_at is None:
        return (f"{vendor_name} was asked again to acknowledge {po.number}.",
                vendor_loop.escalate(session, po, "acknowledgement", ack_link, now))
    if not _has_asn(session, po.id):
        return (f"{vendor_name} was asked for the advance ship notice of {po.number}.",
                vendor_loop.escalate(session, po, "asn", ack_link, now))
    expected = po.expected_at.isoformat() if po.expected_at else "an unknown date"
    return f"{po.number} has shipped (ASN received), expected {expected}: nothing more to ask the vendor.", []


@customer_journey.on_auto_cancel
def auto_cancelled(session: Session, backorder: Backorder, reason: str, *, routes: tuple[RouteConfig, ...],
                   public_base_url: str, secret_key: str, now: datetime) -> list[FollowUp]:
    """Alert merchandising and escalate the SKU's PO (or start planning); returns the follow-ups."""
    line = session.get(OrderLine, backorder.order_line_id)
    assert line is not None
    order = session.get(Order, line.order_id)
    sku = session.get(Sku, backorder.sku_id)
    assert order is not None and sku is not None
    follow_ups: list[FollowUp] = []
    found = open_po_line(session, sku.id)
    escalation: dict[str, Any]
    if found is not None:
        po, po_line = found
        vendor = session.get(Vendor, po.vendor_id)
        session.add(PurchaseOrderEvent(purchase_order_id=po.id, kind="escalated", at=now, data={
            "kind": "auto_cancelled", "sku": sku.code, "order": order.number, "backorder_id": backorder.id,
            "quantity": backorder.quantity, "po_line_id": po_line.id, "reason": reason}))
        chased, chase_follow_ups = _chase(session, po, vendor.name if vendor else "The vendor",
                                          vendor_loop.ack_link(public_base_url, secret_key, po.id, now), now)
        follow_ups += chase_follow_ups
        escalation = {"purchase_order": po.number, "purchase_order_id": po.id, "po_state": po.state,
                      "po_line_outstanding": po_line.quantity - po_line.received_qty, "chased": chased}
        action = f"Escalated {po.number} ({po_line.quantity - po_line.received_qty} units to come). {chased}"
    else:
        effects.record(session, effects.PLAN, [sku.id], now)  # a row: the sweeper re-sends a lost message
        follow_ups.append(FollowUp(PLAN, ([sku.id],)))
        escalation = {"purchase_order": None, "planning": True}
        action = "No open purchase order brings this SKU in: purchasing planning was started for it."
    resolution = "store credit" if backorder.resolution == "store_credit" else "a refund"
    detail = (f"Order {order.number}: {backorder.quantity} × {sku.code} auto-cancelled for {resolution} "
              f"({reason}). {action}")
    context = {"event": EVENT, "sku": sku.code, "title": sku.title, "from_state": "backorder",
               "to_state": "auto_cancelled", "available": 0, "threshold": sku.threshold,
               "open_demand": backorder.quantity, "locations": [], "channels": [], "detail": detail[:2000],
               "order_number": order.number, "quantity": backorder.quantity, "reason": reason,
               "backorder_id": backorder.id, **escalation}
    for outbox_id in alerts.raise_alert(session, event=EVENT, dedupe_key=f"auto_cancelled:{backorder.id}",
                                        message=detail[:2000], context=context, routes=routes, sku_id=sku.id,
                                        store_id=order.store_id):
        follow_ups.append(FollowUp(DELIVER, (outbox_id,)))
    audit.record(session, "journey", EVENT, "backorder", backorder.id, sku=sku.code, order=order.number,
                 quantity=backorder.quantity, reason=reason, **escalation)
    return follow_ups
