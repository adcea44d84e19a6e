"""What a shipment's news decides: stuck, carrier exception, return to sender, split order, and a
backordered line that ships.

* **Stuck in transit**: every moving shipment has one pending ``shipment.stuck`` timer at its last
  sign of life + ``[shipping] stuck_after_days``; a new scan moves it. When the sweeper fires it and
  the shipment is still silent that long, a ``stuck_in_transit`` case opens with the figures (days
  since the last scan, the rule) and the customer is told. ``stuck_at`` marks the silence handled,
  so the timer is armed again only by new activity.
* **Carrier exception** (including a failed delivery attempt): a ``delivery_exception`` case.
* **Return to sender**: a ``carrier_failure`` case (the carrier gave the parcel up).
* **Split shipment**: an order whose lines travel in more than one shipment, or whose shipped
  lines leave quantities or other lines behind, opens one ``split_shipment`` case for the order.
* **A backordered line that ships**: the journey's ``backorder_shipped`` notice
  (``domain.journey.shipped``).

Each case opens once per kind and subject (``domain.cases.lifecycle``), and the shipment's (or the
order's) row is locked before deciding, so a rule that runs twice, or on two workers at once, opens
one case and stores one message. Every decision keeps its figures and rule in the case's history
and the audit log; ``backorders why order N`` lists them (``domain.shipping.views``).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import domain.core.env_settings as runtime_settings
from connectors.carriers import ShipmentRecord
from domain.cases import lifecycle
from domain.core import audit, blocked_writes, timers
from domain.core.clock import utcnow
from domain.core.env_settings import JourneySettings
from domain.core.models import (
    Alert, Backorder, Case, Order, OrderLine, OutboxMessage, Shipment, ShipmentLine, ShippingAccount, Timer, TrackingEvent,
)
from domain.core.stages import FollowUp, Stage
from domain.journey import shipped
from domain.journey.backorders import WAITING_STATES
from domain.shipping import notices, shipments
from domain.shipping.shipments import MOVING, Recorded

STUCK_TIMER = "shipment.stuck"
ACTOR = "shipping"
#: Our rule → the case kind it opens and the ``tell_customer`` switch and template that go with it.
RULES = {"stuck": ("stuck_in_transit", "shipment_stuck"), "exception": ("delivery_exception", "shipment_exception"),
         "returned": ("carrier_failure", "shipment_returned"), "split": ("split_shipment", "shipment_split")}


def take(session: Session, account_id: int, records: Sequence[ShipmentRecord], settings: JourneySettings,
         now: datetime | None = None) -> list[FollowUp]:
    """Store the records and decide what their news calls for, in the caller's transaction."""
    now = now or utcnow()
    follow_ups: list[FollowUp] = []
    orders: set[int] = set()
    for rec in records:
        stored = shipments.record(session, account_id, rec, now)
        follow_ups += after_record(session, stored, settings, now)
        if stored.shipment.order_id is not None:
            orders.add(stored.shipment.order_id)
    for order_id in sorted(orders):
        follow_ups += check_split(session, order_id, settings, now)
        follow_ups += ship_backorders(session, order_id, settings, now)
    return follow_ups


def after_record(session: Session, stored: Recorded, settings: JourneySettings, now: datetime) -> list[FollowUp]:
    shipment = stored.shipment
    if shipment.status in MOVING:
        watch(session, shipment, stuck_days(session, settings, shipment))
    else:
        timers.cancel(session, "shipment", shipment.id, kinds=(STUCK_TIMER,))
    if stored.previous_status != shipment.status:
        audit.record(session, ACTOR, "shipment.status", "shipment", shipment.id, from_status=stored.previous_status,
                     to_status=shipment.status, at=_iso(shipment.status_at), carrier=shipment.carrier,
                     tracking_number=shipment.tracking_number, order=shipment.order_number)
    news = {scan.status for scan in stored.new_scans} | {shipment.status if stored.previous_status != shipment.status
                                                         else None}
    follow_ups: list[FollowUp] = []
    for rule, status in (("exception", "exception"), ("returned", "returned")):
        if status in news:
            scan = _latest(session, shipment, status)
            follow_ups += _scan_case(session, shipment, rule, scan, settings, now)
    return follow_ups


def watch(session: Session, shipment: Shipment, days: int) -> None:
    """Arm the stuck timer at the last sign of life + ``days``, unless this silence was handled."""
    if shipment.last_scan_at is None or (shipment.stuck_at is not None and shipment.stuck_at >= shipment.last_scan_at):
        return
    timers.schedule(session, STUCK_TIMER, "shipment", shipment.id, shipment.last_scan_at + timedelta(days=days),
                    {"stuck_after_days": days, "last_scan_at": shipment.last_scan_at.isoformat()})


def stuck_days(session: Session, settings: JourneySettings, shipment: Shipment) -> int:
    """``stuck_after_days`` of the shipment's account, else of ``[shipping]``."""
    key = session.scalar(select(ShippingAccount.key).where(ShippingAccount.id == shipment.account_id))
    return settings.config.shipping.stuck_days(key)


@timers.handler(STUCK_TIMER)
def _stuck_timer(session: Session, timer: Timer) -> list[FollowUp]:
    return check_stuck(session, timer.subject_id, runtime_settings.current())


def check_stuck(session: Session, shipment_id: int, settings: JourneySettings,
                now: datetime | None = None) -> list[FollowUp]:
    """The stuck rule for one shipment: a case and a message when it has been silent long enough."""
    now = now or utcnow()
    shipment = session.scalar(select(Shipment).where(Shipment.id == shipment_id).with_for_update())
    if shipment is None or shipment.status not in MOVING or shipment.last_scan_at is None:
        return []
    days = stuck_days(session, settings, shipment)
    silent = now - shipment.last_scan_at
    if silent < timedelta(days=days):
        watch(session, shipment, days)  # a scan came after the timer was set: wait for the new silence
        return []
    if shipment.stuck_at is not None and shipment.stuck_at >= shipment.last_scan_at:
        return []  # this silence was handled already
    shipment.stuck_at = now
    last = session.scalar(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)
                          .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc()).limit(1))
    said = last.description if last is not None else "label created, no carrier scan yet"
    figures = {"rule": "stuck_after_days", "stuck_after_days": days,
               "days_since_last_scan": round(silent / timedelta(days=1), 1), "last_scan_at": _iso(shipment.last_scan_at),
               "last_scan": said, "status": shipment.status, **_parcel(shipment)}
    audit.record(session, ACTOR, "shipment.stuck", "shipment", shipment.id, **figures)
    note = (f"no carrier scan for {figures['days_since_last_scan']} days since "
            f"{shipment.last_scan_at:%Y-%m-%d %H:%M} UTC ({said}); rule: stuck_after_days = {days}")
    order = notices.order_of(session, shipment)
    return _decide(session, "stuck", "shipment", shipment.id, order, shipment, settings, now, figures, note,
                   f"{_order_label(order, shipment)}: {_parcel_label(shipment)} has had no scan for "
                   f"{int(figures['days_since_last_scan'])} days",
                   days_since_last_scan=int(figures["days_since_last_scan"]), last_scan=said,
                   last_scan_at=_iso(shipment.last_scan_at))


def _scan_case(session: Session, shipment: Shipment, rule: str, scan: TrackingEvent | None,
               settings: JourneySettings, now: datetime) -> list[FollowUp]:
    said = scan.description if scan is not None else shipment.status
    when = scan.occurred_at if scan is not None else shipment.status_at
    figures = {"rule": f"{rule}_scan", "scan": said, "scanned_at": _iso(when), "code": scan.code if scan else "",
               "location": scan.location if scan else "", **_parcel(shipment)}
    what = "carrier exception" if rule == "exception" else "return to sender"
    note = f"{what} scanned {_iso(when)} at {figures['location'] or 'unknown location'}: {said}; rule: a {what} scan opens a case"
    order = notices.order_of(session, shipment)
    summary = f"{_order_label(order, shipment)}: {_parcel_label(shipment)} {what}: {said}"
    return _decide(session, rule, "shipment", shipment.id, order, shipment, settings, now, figures, note, summary,
                   scan=said)


def check_split(session: Session, order_id: int, settings: JourneySettings, now: datetime) -> list[FollowUp]:
    """An order in several shipments, or shipped short: one ``split_shipment`` case for the order."""
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    active = shipments.active_shipments(session, order_id)
    if order is None or not active:
        return []
    lines = list(session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)))
    owed, sent = shipments.owed_units(session, lines), shipments.shipped_units(session, order_id)
    counted = bool(sent)  # the shipments name their lines: partial quantities can be told
    partial = [line for line in lines if counted and 0 < sent.get(line.id, 0) < owed[line.id]]
    waiting = [line for line in lines if counted and owed[line.id] > 0 and sent.get(line.id, 0) == 0]
    if len(active) < 2 and not partial and not waiting:
        return []
    reasons = ([f"{len(active)} shipments"] if len(active) > 1 else []) + \
        ([f"{len(partial)} line(s) shipped short"] if partial else []) + \
        ([f"{len(waiting)} line(s) not shipped yet"] if waiting else [])
    figures = {"rule": "split_shipment", "shipments": len(active),
               "lines": [{"line_id": line.id, "title": line.title, "owed": owed[line.id], "shipped": sent.get(line.id, 0)}
                         for line in lines],
               "parcels": [_parcel(s) for s in active]}
    note = f"order {order.number} split: {', '.join(reasons)}; rule: more than one shipment, or a line shipped short or left behind"
    return _decide(session, "split", "order", order.id, order, None, settings, now, figures, note,
                   f"order {order.number} ships in parts: {', '.join(reasons)}", again=False,
                   parcels=[_parcel(s) for s in active],
                   shipped_items=[f"{sent[line.id]} × {line.title}" for line in lines if sent.get(line.id)],
                   waiting_items=[f"{owed[line.id] - sent.get(line.id, 0)} × {line.title}" for line in lines
                                  if owed[line.id] > sent.get(line.id, 0)])


def ship_backorders(session: Session, order_id: int, settings: JourneySettings, now: datetime) -> list[FollowUp]:
    """Each backordered line of the order whose owed units have all shipped: the shipped notice."""
    lines = list(session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)))
    owed, sent = shipments.owed_units(session, lines), shipments.shipped_units(session, order_id)
    follow_ups: list[FollowUp] = []
    for backorder in session.scalars(select(Backorder).where(
            Backorder.order_line_id.in_([line.id for line in lines]),
            Backorder.state.in_((*WAITING_STATES, "filled"))).order_by(Backorder.id)):
        if owed.get(backorder.order_line_id, 0) == 0 or sent.get(backorder.order_line_id, 0) < owed[backorder.order_line_id]:
            continue
        store = blocked_writes.store_of_backorder(session, backorder.id)
        if blocked_writes.held_back(session, store, "backorder.shipped_notice", "backorder", backorder.id):
            continue  # a read-only store's customers are not contacted: switched on, the next poll tells them
        parcel = session.scalar(select(Shipment).join(ShipmentLine, ShipmentLine.shipment_id == Shipment.id)
                                .where(ShipmentLine.order_line_id == backorder.order_line_id,
                                       Shipment.status != "voided").order_by(Shipment.id.desc()).limit(1))
        follow_ups += shipped.ship(session, backorder.id, settings, now, carrier=parcel.carrier if parcel else "",
                                   tracking_number=parcel.tracking_number if parcel else "")
    return follow_ups


def _decide(session: Session, rule: str, subject_type: str, subject_id: int, order: Order | None,
            shipment: Shipment | None, settings: JourneySettings, now: datetime, figures: dict[str, Any], note: str,
            summary: str, again: bool = True, **message_facts: Any) -> list[FollowUp]:
    """Open the rule's case once, note its figures, and tell the customer when the policy says so.

    ``again``: a case already open for this rule and subject gets the new figures as a note (a new
    silence, a new exception scan); the split check, which runs on every poll of the order, passes
    False."""
    kind, template = RULES[rule]
    existing = session.scalar(select(Case).where(Case.kind == kind, Case.subject_type == subject_type,
                                                 Case.subject_id == subject_id))
    if existing is not None:  # told once; a new event on an open case is a note in its history
        if again and existing.state != "resolved":
            lifecycle.record(session, existing, ACTOR, "note", note=f"again: {note}", now=now, **figures)
        return []
    lines = list(session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))) if order else []
    case = lifecycle.open_case(session, lifecycle.NewCase(
        kind=kind, subject_type=subject_type, subject_id=subject_id, summary=summary,
        order_id=order.id if order else None, order_line_ids=tuple(line.id for line in lines),
        store_id=order.store_id if order else None,
        sku_ids=tuple(dict.fromkeys(line.sku_id for line in lines if line.sku_id is not None)),
        detail=figures), settings.config, actor=ACTOR, now=now)
    lifecycle.record(session, case, ACTOR, "note", note=note, now=now, **figures)
    follow_ups = _alert_deliveries(session, case)
    told = settings.config.shipping.tells(rule) and order is not None
    audit.record(session, ACTOR, f"shipment.{rule}", subject_type, subject_id, case_id=case.id, customer_told=told,
                 **figures)
    if told and order is not None:
        key = f"shipment:{subject_id}:{template}" if subject_type == "shipment" else f"order:{order.id}:{template}"
        follow_ups += notices.tell(session, order, template, key, settings, now, shipment=shipment, **message_facts)
    return follow_ups


def _alert_deliveries(session: Session, case: Case) -> list[FollowUp]:
    """The ``case.opened`` alert's messages, sent now rather than by the outbox sweeper."""
    alert_id = session.scalar(select(Alert.id).where(Alert.dedupe_key == f"case:{case.id}:opened"))
    if alert_id is None:
        return []
    ids = session.scalars(select(OutboxMessage.id).where(OutboxMessage.idempotency_key.startswith(f"alert:{alert_id}:"),
                                                         OutboxMessage.state == "pending"))
    return [FollowUp(Stage.DELIVER, (outbox_id,)) for outbox_id in ids]


def _latest(session: Session, shipment: Shipment, status: str) -> TrackingEvent | None:
    return session.scalar(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id,
                                                      TrackingEvent.status == status)
                          .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc()).limit(1))


def _parcel(shipment: Shipment) -> dict[str, Any]:
    return {"shipment_id": shipment.id, "carrier": shipment.carrier, "tracking_number": shipment.tracking_number}


def _parcel_label(shipment: Shipment) -> str:
    return f"{shipment.carrier} {shipment.tracking_number}".strip() or f"shipment {shipment.id}"


def _order_label(order: Order | None, shipment: Shipment) -> str:
    return f"order {order.number}" if order else f"order {shipment.order_number or '(unknown)'}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
