"""A backorder whose line has shipped: the customer hears it is on its way, with the tracking.

The warehouse's label is the proof (``domain.shipping`` calls this when a shipment carries all the
units the backordered line still owes). A filled backorder moves to ``shipped``; one still waiting
(the stock came in somewhere this product does not watch, and the warehouse shipped it) is filled
first, its line's units moved from backordered to allocated and its timers cancelled, exactly as a
restock fill does. The notice is ``backorder_shipped``, once per backorder (its outbox key).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from domain.core import timers
from domain.core.env_settings import JourneySettings
from domain.core.models import OrderLine
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
