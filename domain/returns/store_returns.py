"""Returns a store keeps itself (Shopify's ``returns/*`` webhooks) mirrored by ours.

* ``requested`` (``returns/request``: the customer asked) or ``open`` (``returns/approve``; a return
  the merchant created open): our return is opened as a Loop return is — one per store and return
  (source ``shopify``, reference ``<store>:<return gid>``, so a redelivery or the approval after the
  request is the same return), decided by the refund policy's rules and checked for fraud
  (:func:`domain.returns.flow.request`). Its lines are the order's lines the store names, each
  mapped to the SKU stored with the order (or the SKU the store gave), its reason the first line's
  (``defective``, ``wrong_item``, ``unwanted`` … as Shopify's ``ReturnReason``, lower case). An
  ``open`` return is noted on ours (``store_approved``: the store shows it open, so a cancel or a
  settlement of ours is written to it); what ours pays is still ours to decide.
* ``declined`` / ``canceled``: ours is closed — rejected when it is still being decided, cancelled
  otherwise — unless the goods are already back (received or settled), which is only noted.
* ``closed`` (the store finished the return): noted on ours.
* ``returns/reopen`` (a closed return opened again: status back to ``open``; topics:
  https://shopify.dev/docs/api/webhooks?reference=toml , the move:
  https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnReopen): noted on ours
  (``store_reopened``). Only a ``closed`` return reopens there, and the store closing it only noted
  ours, so ours is still where it was; one a person here cancelled or rejected stays so — those
  states are final in :mod:`domain.returns.machine` (a refund decision, a case and the customer's
  email hang on them) — and the note says so for staff to request it again. A reopened return we
  never held opens ours, as an ``open`` one does.
* ``returns/update`` (its lines or quantities changed while ``requested`` or ``open``; the payload
  names changes, not the lines, so the connector reads the return through GraphQL first): while
  ours is still being decided (``requested`` or ``review``) its lines and amount become the store's
  (``store_updated``, with the lines before and after); in ``review`` its ``refund_request`` case is
  told the new amount (:func:`domain.payments.refund_requests.request_changed`: its summary, its
  reasons and an ``amount_changed`` event), so the person deciding reads the current figures. Later
  it is only noted — what comes back and what is paid were settled by then. One we never held
  opens ours.

Our own moves are written back to the store (:mod:`domain.returns.store_writes`, each a row sent
after the commit): the decision on a return still ``requested`` there (approve or decline), and
the end of one open there (cancelled here → cancel, settled here → close). The store's echo of
each (``returns/approve``, ``returns/decline``, ``returns/cancel``, ``returns/close``) finds ours
moved already and is only noted (``echo`` in its detail): applying a store's move owes no write,
so nothing is decided twice, closed twice, or written again.

A return that cannot be taken (an order this product never stored, a line it cannot map, more
units than were bought) quarantines the inbox event that carried it, with the reason, and staff
are alerted as for any quarantined webhook; ``backorders redrive --inbox ID`` takes it again once
the order is known. With ``[returns] enabled = false`` the store's returns are left alone and
nothing is written to them; ``[returns] write_back = false`` mirrors them without writing back.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import ReturnRecord
from domain.core.business_config import BusinessConfig
from domain.core.models import InboxEvent, Order, OrderLine, ReturnRequest, Sku, Store
from domain.core.stages import FollowUp
from domain.payments import refund_requests
from domain.returns import flow, machine, store_writes

log = logging.getLogger(__name__)
SOURCE = "shopify"
#: Our states a store's decline or cancel can no longer undo: the goods are back.
BACK = ("received", "settled")
#: Our states in which the return is still being decided: a change of its lines is taken.
DECIDING = ("requested", "review")
REOPEN, UPDATE = "returns/reopen", "returns/update"


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
    if done.created and record.status == "requested":  # the store waits for a decision: ours is written
        taken.follow_ups += store_writes.owe(session, config, done.row, now)
    if record.status == "open":  # approved there (ours just opened, or held already): it is open there
        machine.note(session, done.row, "store_approved", f"shopify:{store.key}", now, store_return=record.external_id,
                     **_echo(session, done.row, "approve"))


#: The store's status after each of our writes (its echo carries it).
ECHOES = {"open": "approve", "declined": "decline", "canceled": "cancel", "closed": "close"}


def _echo(session: Session, row: ReturnRequest, action: str | None) -> dict[str, bool]:
    """``{"echo": True}`` when the store's move is our own write coming back."""
    return {"echo": True} if action and store_writes.written(session, row.id, action) is not None else {}


def _ours(session: Session, store: Store, record: ReturnRecord) -> ReturnRequest | None:
    """Our return mirroring the store's, locked."""
    return session.scalar(select(ReturnRequest).where(ReturnRequest.source == SOURCE,
                                                      ReturnRequest.source_ref == reference(store, record))
                          .with_for_update().execution_options(populate_existing=True))


def _reopen(session: Session, config: BusinessConfig, store: Store, record: ReturnRecord, now: datetime,
            taken: Taken) -> None:
    row = _ours(session, store, record)
    if row is None:
        _open(session, config, store, record, now, taken)
        return
    final = not machine.MOVES.get(row.state) and row.state not in BACK
    machine.note(session, row, "store_reopened", f"shopify:{store.key}", now, store_return=record.external_id,
                 status=record.status, **({"note": f"ours stays {row.state}: request it again to take it"}
                                          if final else {}))


def _update(session: Session, config: BusinessConfig, store: Store, record: ReturnRecord, now: datetime,
            taken: Taken) -> None:
    row = _ours(session, store, record)
    if row is None:
        if record.status in ("requested", "open"):
            _open(session, config, store, record, now, taken)
        return
    order = session.get(Order, row.order_id)
    assert order is not None
    wanted = _wanted(session, order, record)
    was = [{"sku": line["sku"], "quantity": line["quantity"]} for line in row.lines]
    now_lines = [{"sku": sku, "quantity": quantity} for sku, quantity in wanted.items()]
    held: Counter[str] = Counter()
    for line in was:
        held[line["sku"]] += int(line["quantity"])
    if held == Counter(wanted):
        return  # nothing of ours changes (a second delivery, or a change we do not keep: a fee)
    if row.state not in DECIDING:
        machine.note(session, row, "store_updated", f"shopify:{store.key}", now, store_return=record.external_id,
                     lines=now_lines, taken=False, note=f"ours is {row.state}: its lines stay as they were")
        return
    lines = flow.order_lines(session, order, wanted)
    amount = sum(int(line["price_cents"]) * int(line["quantity"]) for line in lines)
    # in review, the person deciding reads the case: it is told the figures it is now about
    case = refund_requests.request_changed(
        session, row.decision_id, amount, f"{row.rma}: lines changed at the store ({record.external_id}): "
        + ", ".join(f"{one['quantity']} × {one['sku']}" for one in now_lines), f"shopify:{store.key}", now,
        rma=row.rma, lines=now_lines) if row.state == "review" and row.decision_id else None
    machine.note(session, row, "store_updated", f"shopify:{store.key}", now, store_return=record.external_id,
                 was=was, lines=now_lines, amount_was_cents=row.amount_cents, amount_cents=amount, taken=True,
                 **({"case_id": case.id} if case is not None else {}))
    row.lines, row.amount_cents = lines, amount


def _close(session: Session, store: Store, record: ReturnRecord, now: datetime) -> None:
    row = _ours(session, store, record)
    if row is None:
        log.info("%s %s on %s: no return of ours to close", record.external_id, record.status, store.key)
        return
    actor, detail = f"shopify:{store.key}", {"store_return": record.external_id, "note": record.note,
                                             **_echo(session, row, ECHOES.get(record.status))}
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
                if event.topic == REOPEN:
                    _reopen(session, config, store, record, now, taken)
                elif event.topic == UPDATE:
                    _update(session, config, store, record, now, taken)
                elif record.status in ("requested", "open"):
                    _open(session, config, store, record, now, taken)
                elif record.status in ("declined", "canceled", "closed"):
                    _close(session, store, record, now)
        except flow.ReturnError as exc:
            reason = f"store return {record.external_id}: {exc}"[:2000]
            event.state, event.error, event.processed_at = "quarantined", reason, now
            taken.quarantined.append((event.id, reason))
    return taken
