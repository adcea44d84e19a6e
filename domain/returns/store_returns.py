"""Returns a store keeps itself (Shopify's ``returns/*`` webhooks) mirrored by ours.

* ``requested`` (``returns/request``: the customer asked) or ``open`` (``returns/approve``; a return
  the merchant created open): our return is opened as a Loop return is — one per store and return
  (source ``shopify``, reference ``<store>:<return gid>``, so a redelivery or the approval after the
  request is the same return), decided by the refund policy's rules and checked for fraud
  (:func:`domain.returns.flow.request`). Its lines are the order's lines the store names, each
  mapped to the SKU stored with the order (or the SKU the store gave), its reason the first line's
  (``defective``, ``wrong_item``, ``unwanted`` … as Shopify's ``ReturnReason``, lower case). An
  approval on the store of a return ours already holds is noted on ours (``store_approved``); what
  ours pays is still ours to decide.
* ``declined`` / ``canceled``: ours is closed — rejected when it is still being decided, cancelled
  otherwise — unless the goods are already back (received or settled), which is only noted.
* ``closed`` (the store finished the return): noted on ours.

A return that cannot be taken (an order this product never stored, a line it cannot map, more
units than were bought) quarantines the inbox event that carried it, with the reason, and staff
are alerted as for any quarantined webhook; ``backorders redrive --inbox ID`` takes it again once
the order is known. With ``[returns] enabled = false`` the store's returns are left alone.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import ReturnRecord
from domain.core.business_config import BusinessConfig
from domain.core.models import InboxEvent, Order, OrderLine, ReturnRequest, Sku, Store
from domain.core.stages import FollowUp
from domain.returns import flow, machine

log = logging.getLogger(__name__)
SOURCE = "shopify"
#: Our states a store's decline or cancel can no longer undo: the goods are back.
BACK = ("received", "settled")


@dataclass
class Taken:
    follow_ups: list[FollowUp] = field(default_factory=list)
    #: (inbox event id, why) of the returns that could not be taken: their events are quarantined.
    quarantined: list[tuple[int, str]] = field(default_factory=list)
    rmas: list[str] = field(default_factory=list)


def reference(store: Store, record: ReturnRecord) -> str:
    return f"{store.key}:{record.external_id}"[:128]


def _wanted(session: Session, order: Order, record: ReturnRecord) -> dict[str, int]:
    """``{sku: quantity}`` of the lines the store names: its SKU, else the order line's we stored."""
    by_line = dict(session.execute(select(OrderLine.external_id, Sku.code).join(Sku, Sku.id == OrderLine.sku_id)
                                   .where(OrderLine.order_id == order.id)).tuples().all())
    wanted: dict[str, int] = {}
    for line in record.lines:
        code = line.sku or by_line.get(line.external_id)
        if not code:
            raise flow.ReturnError(f"order {order.number} has no line {line.external_id} with a SKU")
        wanted[code] = wanted.get(code, 0) + line.quantity
    if not wanted:
        raise flow.ReturnError(f"{record.external_id} lists no line")
    return wanted


def _open(session: Session, config: BusinessConfig, store: Store, record: ReturnRecord, now: datetime,
          taken: Taken) -> None:
    order = session.scalar(select(Order).where(Order.store_id == store.id,
                                               Order.external_id == record.order_external_id))
    if order is None:
        raise flow.ReturnError(f"no order {record.order_external_id} of {store.key} is known here")
    done = flow.request(session, config, order, _wanted(session, order, record), record.reason or "return", SOURCE,
                        reference(store, record), f"shopify:{store.key}", now)
    assert done.row is not None
    taken.follow_ups += done.follow_ups
    taken.rmas.append(done.row.rma)
    if not done.created and record.status == "open":
        machine.note(session, done.row, "store_approved", f"shopify:{store.key}", now, store_return=record.external_id)


def _close(session: Session, store: Store, record: ReturnRecord, now: datetime) -> None:
    row = session.scalar(select(ReturnRequest).where(ReturnRequest.source == SOURCE,
                                                     ReturnRequest.source_ref == reference(store, record))
                         .with_for_update().execution_options(populate_existing=True))
    if row is None:
        log.info("%s %s on %s: no return of ours to close", record.external_id, record.status, store.key)
        return
    actor, detail = f"shopify:{store.key}", {"store_return": record.external_id, "note": record.note}
    if record.status == "closed" or row.state in BACK or not machine.MOVES.get(row.state):
        machine.note(session, row, f"store_{record.status}", actor, now, **detail)
        return
    to_state = "rejected" if record.status == "declined" and "rejected" in machine.MOVES[row.state] else "cancelled"
    machine.move(session, row, to_state, f"store_{record.status}", actor, now, **detail)
    row.due_at = None


def apply(session: Session, config: BusinessConfig, store: Store, returns: Sequence[tuple[InboxEvent, ReturnRecord]],
          now: datetime) -> Taken:
    """Mirror each of the store's returns onto ours, in arrival order; each in a savepoint, so one
    that cannot be taken quarantines its own event and leaves the others applied."""
    taken = Taken()
    if not config.returns.enabled:
        return taken
    for event, record in returns:
        try:
            with session.begin_nested():
                if record.status in ("requested", "open"):
                    _open(session, config, store, record, now, taken)
                elif record.status in ("declined", "canceled", "closed"):
                    _close(session, store, record, now)
        except flow.ReturnError as exc:
            reason = f"store return {record.external_id}: {exc}"[:2000]
            event.state, event.error, event.processed_at = "quarantined", reason, now
            taken.quarantined.append((event.id, reason))
    return taken
