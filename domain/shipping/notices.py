"""Proactive messages to the customer about their parcel: stuck, held up, returned, or coming in parts.

One email (and one SMS when the order has a phone) per cause, each an outbox row whose idempotency
key names the cause (``shipment:{id}:{template}:{channel}``, ``order:{id}:shipment_split:{channel}``):
a rule that runs twice, or on two workers, stores one message. Addresses that are invalid or opted
out are stored suppressed with the reason; an SMS waits out the store's quiet hours in the
customer's zone; a read-only store's customers hear nothing (``domain.core.blocked_writes``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core import blocked_writes
from domain.core.env_settings import JourneySettings
from domain.core.models import Order, OrderLine, Shipment, ShipmentLine, Sku, Store
from domain.core.stages import FollowUp, Stage
from domain.messaging import contacts, localtime, outbox


def items_of(session: Session, shipment: Shipment) -> list[str]:
    """What the shipment carries, as the customer knows it: the order line's title, else the SKU."""
    rows = session.execute(select(ShipmentLine.quantity, ShipmentLine.sku, OrderLine.title, Sku.title)
                           .outerjoin(OrderLine, OrderLine.id == ShipmentLine.order_line_id)
                           .outerjoin(Sku, Sku.id == OrderLine.sku_id)
                           .where(ShipmentLine.shipment_id == shipment.id).order_by(ShipmentLine.id)).tuples()
    return [f"{quantity} × {line_title or sku_title or sku}" for quantity, sku, line_title, sku_title in rows]


def context(session: Session, order: Order, settings: JourneySettings, shipment: Shipment | None,
            **facts: Any) -> dict[str, Any]:
    store = session.get(Store, order.store_id)
    zone = localtime.customer_zone(order.customer_timezone, settings.config.timezone)
    parcel = {"carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
              "items": items_of(session, shipment)} if shipment is not None else {}
    return {"store_name": settings.config.name or (store.name if store else ""), "order_number": order.number,
            "customer_name": order.customer_name, "timezone": zone.key, **parcel, **facts}


def tell(session: Session, order: Order, template: str, key: str, settings: JourneySettings, now: datetime,
         *, shipment: Shipment | None = None, **facts: Any) -> list[FollowUp]:
    """Store the email and SMS for ``template`` once per ``key``; the deliveries to send now."""
    store = session.get(Store, order.store_id)
    if blocked_writes.held_back(session, store, "shipment.notice", "order", order.id, template=template):
        return []
    ctx = context(session, order, settings, shipment, **facts)
    email, phone = contacts.valid_email(order.email), contacts.normalize_phone(order.phone)
    follow_ups: list[FollowUp] = []
    for channel, address, invalid in (("email", email, None if email else f"no valid email address ({order.email!r})"),
                                      ("sms", phone, None if phone else f"not a valid phone number ({order.phone!r})")):
        if channel == "sms" and not order.phone:
            continue
        reason = invalid or (f"{channel} opted out" if address and contacts.opted_out(session, channel, address)
                             else None)
        not_before = None
        if channel == "sms" and not reason and store is not None:
            zone = localtime.customer_zone(order.customer_timezone, settings.config.timezone)
            not_before = contacts.next_send_time(now, zone, settings.config.policy_for(store.key).quiet_hours)
        outbox_id = outbox.enqueue(session, idempotency_key=f"{key}:{channel}", channel=channel, template=template,
                                   recipient=address or (order.phone or order.email or ""), context=ctx,
                                   not_before=not_before, suppressed_because=reason)
        if outbox_id is not None and not reason and not_before is None:
            follow_ups.append(FollowUp(Stage.DELIVER, (outbox_id,)))
    return follow_ups


def order_of(session: Session, shipment: Shipment) -> Order | None:
    return session.scalar(select(Order).where(Order.id == shipment.order_id)) if shipment.order_id else None
