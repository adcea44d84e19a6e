"""The order's path to the doorstep, polled from the stand-ins: a stuck parcel opens one case and
one customer message however often (and on however many workers) the check runs; a carrier
exception and a return to sender open their cases; a split order is told apart; a backordered
line that ships tells the customer; the policy can keep the customer out of it; every decision
keeps its figures for ``backorders why``."""
from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import domain.core.env_settings as runtime_settings
from domain import why
from domain.core.clock import utcnow
from domain.core.db import get_sessionmaker
from domain.core.models import (
    Backorder, Case, CaseEvent, OutboxMessage, Shipment, ShippingAccount, Timer, TrackingEvent,
)
from domain.journey import customer_journey
from domain.shipping import accounts, rules
from flows import shipping as flows_shipping
from tasks.timers import fire_due
from tests.integration.shipping.conftest import Shipping, place_order
from workers.cli import main


def poll(shipping: Shipping, key: str = "shipstation-main") -> flows_shipping.PollReport:
    sessions = get_sessionmaker()
    with sessions() as session, session.begin():
        ids = accounts.sync(session, runtime_settings.current().config.shipping)
    return flows_shipping.poll(sessions, ids[key], "test-poll", shipping.send)


def fresh(session: Session) -> Session:
    session.expire_all()
    return session


def cases(session: Session, kind: str) -> list[Case]:
    return list(fresh(session).scalars(select(Case).where(Case.kind == kind)))


def told(session: Session, template: str) -> list[tuple[str, str]]:
    rows = fresh(session).execute(select(OutboxMessage.channel, OutboxMessage.recipient)
                                  .where(OutboxMessage.template == template).order_by(OutboxMessage.id)).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def tracked_again(session: Session) -> None:
    """Time passes: every shipment is due its tracking read again (a poll reads it at most every
    half poll interval)."""
    session.execute(update(Shipment).values(last_tracked_at=None))
    session.commit()


def label(shipping: Shipping, order: int, *items: tuple[str, int], key: str | None = None) -> dict[str, Any]:
    return shipping.shipstation.post("labels", {"order_number": f"#{order}", "items": [
        {"sku": sku, "quantity": qty, "line_item_key": key} for sku, qty in items]})["shipments"][0]


def test_a_stuck_shipment_opens_one_case_and_one_message_however_often_the_check_runs(
        shipping: Shipping, db_session: Session) -> None:
    place_order(db_session, 5201, [("FUT-FRM-OAK-FULL", 1, 5)], phone="+15005550006")
    made = label(shipping, 5201, ("FUT-FRM-OAK-FULL", 1))
    shipping.shipstation.post("scans", {"tracking_number": made["trackingNumber"], "status": "in_transit",
                                        "location": "MEMPHIS, TN"})
    shipping.shipstation.post("age", {"tracking_number": made["trackingNumber"], "days": 5})

    report = poll(shipping)
    assert (report.records, report.tracked) == (1, 1)
    shipment = fresh(db_session).scalars(select(Shipment)).one()
    assert shipment.status == "in_transit" and utcnow() - shipment.last_scan_at > timedelta(days=4, hours=23)
    timer = db_session.scalars(select(Timer).where(Timer.kind == rules.STUCK_TIMER, Timer.state == "pending")).one()
    assert timer.due_at == shipment.last_scan_at + timedelta(days=4), "the last scan + stuck_after_days"

    barrier = threading.Barrier(2)
    fired: list[int] = []

    def worker() -> None:  # two workers sweep the clock at the same moment
        barrier.wait()
        fired.append(fire_due.apply().get())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(fired) == [0, 1], "the timer row fired on one worker only"

    settings = runtime_settings.current()
    sessions = get_sessionmaker()
    checks: list[list[Any]] = []

    def check() -> None:  # the rule run again, twice at once (a re-fired or duplicated check)
        with sessions() as session, session.begin():
            checks.append(rules.check_stuck(session, shipment.id, settings))

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert checks == [[], []]
    poll(shipping)  # a later poll with no new scan does not arm the timer again
    assert fresh(db_session).scalar(select(func.count()).select_from(Timer).where(
        Timer.kind == rules.STUCK_TIMER, Timer.state == "pending")) == 0

    status = CliRunner().invoke(main, ["status"])
    assert status.exit_code == 0 and "1 on their way, 1 stuck" in status.output, status.output
    [case] = cases(db_session, "stuck_in_transit")
    assert (case.subject_type, case.subject_id, case.queue, case.priority) == ("shipment", shipment.id,
                                                                                "fulfilment", "high")
    assert told(db_session, "shipment_stuck") == [("email", "customer5201@example.com"), ("sms", "+15005550006")]
    note = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "note")).one()
    assert note.note.startswith("no carrier scan for 5.0 days") and "rule: stuck_after_days = 4" in note.note
    assert note.detail["days_since_last_scan"] == 5.0 and note.detail["stuck_after_days"] == 4
    trail = why.order(db_session, "5201")
    texts = [event.text for event in trail.events]
    assert any("shipment.stuck" in t and "days_since_last_scan 5.0" in t and "rule: stuck_after_days" in t for t in texts)
    assert any(t.startswith(f"case {case.id} (stuck_in_transit") and "no carrier scan for 5.0 days" in t for t in texts)
    assert any("shipment_stuck by email" in t for t in texts)

    shipping.shipstation.post("scans", {"tracking_number": made["trackingNumber"], "status": "delivered"})
    tracked_again(db_session)
    poll(shipping)
    assert fresh(db_session).scalars(select(Shipment)).one().status == "delivered"
    assert len(cases(db_session, "stuck_in_transit")) == 1 and len(told(db_session, "shipment_stuck")) == 2


def test_a_shipment_that_keeps_moving_is_not_stuck(shipping: Shipping, db_session: Session) -> None:
    place_order(db_session, 5202, [("FUT-FRM-OAK-FULL", 1, 5)])
    made = label(shipping, 5202, ("FUT-FRM-OAK-FULL", 1))
    shipping.shipstation.post("scans", {"tracking_number": made["trackingNumber"], "status": "in_transit"})
    shipping.shipstation.post("age", {"tracking_number": made["trackingNumber"], "days": 3})
    poll(shipping)
    shipment = fresh(db_session).scalars(select(Shipment)).one()
    with get_sessionmaker()() as session, session.begin():
        assert rules.check_stuck(session, shipment.id, runtime_settings.current()) == []
    assert cases(db_session, "stuck_in_transit") == [] and fresh(db_session).scalar(select(Shipment.stuck_at)) is None


def test_a_carrier_exception_and_a_return_to_sender_open_their_cases_once(
        shipping: Shipping, db_session: Session) -> None:
    place_order(db_session, 5203, [("FUT-MAT-COT-FULL", 1, 5)])
    made = label(shipping, 5203, ("FUT-MAT-COT-FULL", 1))
    for status in ("in_transit", "exception"):
        shipping.shipstation.post("scans", {"tracking_number": made["trackingNumber"], "status": status})
    poll(shipping)
    tracked_again(db_session)
    poll(shipping)  # the same scans read again: nothing new
    [exception] = cases(db_session, "delivery_exception")
    assert "address not found" in exception.summary
    assert told(db_session, "shipment_exception") == [("email", "customer5203@example.com")]
    assert fresh(db_session).scalar(select(func.count()).select_from(TrackingEvent)) == 2
    shipping.shipstation.post("scans", {"tracking_number": made["trackingNumber"], "status": "exception",
                                        "description": "Delivery attempted, no access to building"})
    tracked_again(db_session)
    poll(shipping)  # a second exception: a note on the open case, not a second case or message
    assert [c.id for c in cases(db_session, "delivery_exception")] == [exception.id]
    notes = db_session.scalars(select(CaseEvent.note).where(CaseEvent.case_id == exception.id,
                                                            CaseEvent.action == "note").order_by(CaseEvent.id)).all()
    assert len(notes) == 2 and notes[1].startswith("again: carrier exception") and "no access to building" in notes[1]
    assert len(told(db_session, "shipment_exception")) == 1

    shipping.shipstation.post("scans", {"tracking_number": made["trackingNumber"], "status": "returned"})
    tracked_again(db_session)
    poll(shipping)
    shipment = fresh(db_session).scalars(select(Shipment)).one()
    assert shipment.status == "returned"
    [returned] = cases(db_session, "carrier_failure")
    assert returned.subject_id == shipment.id and "return to sender" in returned.summary
    assert told(db_session, "shipment_returned") == [("email", "customer5203@example.com")]
    assert fresh(db_session).scalar(select(func.count()).select_from(Timer).where(
        Timer.kind == rules.STUCK_TIMER, Timer.state == "pending")) == 0, "a returned parcel is not watched"


def test_a_split_shipment_is_told_apart_once_per_order(shipping: Shipping, db_session: Session) -> None:
    place_order(db_session, 5204, [("FUT-FRM-OAK-FULL", 1, 5), ("FUT-MAT-COT-FULL", 2, 5)])
    place_order(db_session, 5205, [("FUT-FRM-WAL-FULL", 1, 5), ("FUT-MAT-FOAM-FULL", 1, 5)])
    shipping.shipstation.post("labels", {"labels": [
        {"order_number": "#5204", "items": [{"sku": "FUT-FRM-OAK-FULL", "quantity": 1}]},
        {"order_number": "#5204", "items": [{"sku": "FUT-MAT-COT-FULL", "quantity": 1}]},
        {"order_number": "#5205", "items": [{"sku": "FUT-FRM-WAL-FULL", "quantity": 1},
                                            {"sku": "FUT-MAT-FOAM-FULL", "quantity": 1}]}]})
    poll(shipping)
    poll(shipping)
    [split] = cases(db_session, "split_shipment")
    assert split.subject_type == "order" and split.summary.startswith("order #5204 ships in parts: 2 shipments, "
                                                                      "1 line(s) shipped short")
    note = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == split.id, CaseEvent.action == "note")).one()
    assert note.detail["shipments"] == 2 and {(line["owed"], line["shipped"]) for line in note.detail["lines"]} == {
        (1, 1), (2, 1)}
    assert told(db_session, "shipment_split") == [("email", "customer5204@example.com")]
    context = fresh(db_session).scalar(select(OutboxMessage.context).where(OutboxMessage.template == "shipment_split"))
    assert context["waiting_items"] == ["1 × Item FUT-MAT-COT-FULL"]
    listed = CliRunner().invoke(main, ["shipping", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert sorted(row["order"] for row in json.loads(listed.output)) == ["#5204", "#5204", "#5205"]


def test_a_backordered_line_that_ships_tells_the_customer(shipping: Shipping, db_session: Session) -> None:
    [backorder_id] = place_order(db_session, 5206, [("FUT-FRM-OAK-QUEEN", 1, 0)])
    customer_journey.offer(db_session, backorder_id, runtime_settings.current())
    db_session.commit()
    made = label(shipping, 5206, ("FUT-FRM-OAK-QUEEN", 1))
    poll(shipping)
    backorder = fresh(db_session).get(Backorder, backorder_id)
    assert backorder is not None and backorder.state == "shipped"
    [(channel, recipient)] = told(db_session, "backorder_shipped")
    assert (channel, recipient) == ("email", "customer5206@example.com")
    context = db_session.scalar(select(OutboxMessage.context).where(OutboxMessage.template == "backorder_shipped"))
    assert context["tracking_number"] == made["trackingNumber"] and context["carrier"] == "ups"
    [case] = cases(db_session, "backorder")
    assert case.state == "resolved", "the backorder's case ends when it ships"
    poll(shipping)
    assert len(told(db_session, "backorder_shipped")) == 1


def test_the_policy_can_keep_a_case_from_the_customer(shipping: Shipping, db_session: Session,
                                                      monkeypatch: Any) -> None:
    settings = runtime_settings.current()
    quiet = replace(settings, config=replace(settings.config, shipping=replace(
        settings.config.shipping, tell_customer={**settings.config.shipping.tell_customer, "exception": False})))
    monkeypatch.setattr(runtime_settings, "current", lambda: quiet)
    place_order(db_session, 5207, [("FUT-MAT-COT-FULL", 1, 5)])
    made = label(shipping, 5207, ("FUT-MAT-COT-FULL", 1))
    shipping.shipstation.post("scans", {"tracking_number": made["trackingNumber"], "status": "exception"})
    poll(shipping)
    assert len(cases(db_session, "delivery_exception")) == 1 and told(db_session, "shipment_exception") == []
    assert fresh(db_session).scalar(select(ShippingAccount.last_error)) is None


def test_flexport_milestones_polled_feed_the_same_rules(shipping: Shipping, db_session: Session) -> None:
    place_order(db_session, 5208, [("FUT-MAT-WOOL-FULL", 1, 5)])
    booked = shipping.flexport.post("shipments", {"order_number": "#5208", "skus": ["FUT-MAT-WOOL-FULL"]})["shipment"]
    shipping.flexport.post("milestones", {"shipment_id": booked["id"], "milestone": "departed"})
    shipping.flexport.post("age", {"shipment_id": booked["id"], "days": 6})
    report = poll(shipping, "flexport-freight")
    assert report.records == 2 and report.tracked == 0
    shipment = fresh(db_session).scalars(select(Shipment)).one()
    assert (shipment.status, shipment.carrier) == ("in_transit", "flexport")
    fire_due.apply()
    assert cases(db_session, "stuck_in_transit") == [], "six days at sea: within the account's own 10 days"
    timer = db_session.scalars(select(Timer).where(Timer.kind == rules.STUCK_TIMER, Timer.state == "pending")).one()
    assert timer.due_at == shipment.last_scan_at + timedelta(days=10)

    with get_sessionmaker()() as session, session.begin():  # five days later, the timer's own check
        assert rules.check_stuck(session, shipment.id, runtime_settings.current(), now=utcnow() + timedelta(days=5))
    [case] = cases(db_session, "stuck_in_transit")
    assert case.subject_id == shipment.id and told(db_session, "shipment_stuck") == [("email", "customer5208@example.com")]
    note = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "note")).one()
    assert "rule: stuck_after_days = 10" in note.note and note.detail["days_since_last_scan"] == 11.0
