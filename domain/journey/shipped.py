"""A backorder whose line has shipped: the customer hears it is on its way, with the tracking.

The warehouse's label is the proof (``domain.shipping`` calls this when a shipment carries all the
units the backordered line still owes). A filled backorder moves to ``shipped``; one still waiting
(the stock came in somewhere this product does not watch, and the warehouse shipped it) is filled
first, its line's units moved from backordered to allocated and its timers cancelled, exactly as a
restock fill does. The notice is ``backorder_shipped``, once per backorder (its outbox key).

A store that ships the order itself says so too: Shopify's ``orders/fulfilled`` webhook carries the
order with its ``fulfillments``, each naming its lines, carrier and tracking number
(https://shopify.dev/docs/api/admin-rest/latest/resources/fulfillment ). :func:`ship_fulfilled`
takes each line those fulfillments shipped in full and gives its backorders the same notice, with
that fulfillment's carrier and tracking number; a read-only store's customers are not contacted.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import FulfillmentRecord
from domain.core import blocked_writes, timers
from domain.core.env_settings import JourneySettings
from domain.core.models import Backorder, Order, OrderLine
from domain.core.stages import FollowUp
from domain.journey import backorders
from domain.journey.customer_journey import notify_customer


def ship(session: Session, backorder_id: int, settings: JourneySettings, now: datetime, *, carrier: str,
         tracking_number: str) -> list[FollowUp]:
    backorder = backorders.lock(session, backorder_id)
    if backorder is None or backorder.state not in (*backorders.WAITING_STATES, "filled"):
        return []
    if backorder.state in backorders.WAITING_STATES:
        line = session.get(OrderLine, backorder.order_line_id, with_for_update={"key_share": True})
        assert line is not None
        moved = min(backorder.quantity, line.backordered_qty)
        line.allocated_qty += moved
        line.backordered_qty -= moved
        backorder.filled_at = now
        backorders.move(session, backorder, "filled", cause="shipped by the warehouse", now=now)
        timers.cancel(session, "backorder", backorder.id)
    backorders.move(session, backorder, "shipped", cause=f"shipped: {carrier} {tracking_number}".strip(), now=now,
                    carrier=carrier, tracking_number=tracking_number)
    return notify_customer(session, backorder, "backorder_shipped", "1", settings, now, carrier=carrier,
                           tracking_number=tracking_number)


def ship_fulfilled(session: Session, store_id: int, fulfillments: Sequence[FulfillmentRecord],
                   settings: JourneySettings, now: datetime) -> list[FollowUp]:
    """The backorders of every order line the store's fulfillments shipped in full: shipped, each
    customer told once. An order this product never stored has no backorders: nothing to do."""
    follow_ups: list[FollowUp] = []
    by_order: dict[str, list[FulfillmentRecord]] = {}
    for fulfillment in fulfillments:
        by_order.setdefault(fulfillment.order_external_id, []).append(fulfillment)
    for external_id, shipped in by_order.items():
        order = session.scalar(select(Order).where(Order.store_id == store_id, Order.external_id == external_id))
        if order is None:
            continue
        units: dict[str, int] = {}
        parcel: dict[str, FulfillmentRecord] = {}
        for fulfillment in shipped:
            for sent in fulfillment.lines:
                units[sent.external_id] = units.get(sent.external_id, 0) + sent.quantity
                parcel[sent.external_id] = fulfillment  # the latest fulfillment naming the line
        lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id,
                                                        OrderLine.external_id.in_(list(units))))
        for line in lines:
            if units[line.external_id] < line.quantity:
                continue  # shipped in part: the backordered units may be the ones still to come
            for backorder in session.scalars(select(Backorder).where(
                    Backorder.order_line_id == line.id, Backorder.state.in_((*backorders.WAITING_STATES, "filled")))
                    .order_by(Backorder.id)):
                store = blocked_writes.store_of_backorder(session, backorder.id)
                if blocked_writes.held_back(session, store, "backorder.shipped_notice", "backorder", backorder.id):
                    continue
                found = parcel[line.external_id]
                follow_ups += ship(session, backorder.id, settings, now, carrier=found.carrier,
                                   tracking_number=found.tracking_number)
    return follow_ups
