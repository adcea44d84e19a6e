"""Backorders as cases: the journey's first notice opens one ``backorder`` case (routed by the
customer's tier, the SKU's category and the channel), waiting mirrors the customer's choice, and
the backorder's end resolves it. The journey itself runs unchanged."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import domain.cases.backorder_cases  # noqa: F401  (the listener, as every worker process has it)
from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.cases import lifecycle
from domain.core.models import Case, CaseEvent, Order, Store, Timer
from domain.journey import customer_journey
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SKU = "FUT-FRM-OAK-FULL"


def _backorder(session: Session, number: int, quantity: int = 1, store: str = "shopify-main") -> int:
    store_id = session.scalar(select(Store.id).where(Store.key == store))
    record_batch(session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id=f"v-{SKU}", sku=SKU, location_external_id="655441491", available=0, on_hand=0,
        updated_at=NOW)])
    [backorder_id] = record_orders(session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id=str(number), number=f"#{number}", placed_at=NOW, email=f"customer{number}@example.com",
        phone=None, customer_name=f"Customer {number}",
        lines=[OrderLineRecord(external_id=f"{number}-1", sku=SKU, quantity=quantity, title="Oak futon frame",
                               price_cents=64900)])]).backorder_ids
    session.commit()
    return backorder_id


def _cases(session: Session, backorder_id: int) -> list[Case]:
    session.expire_all()
    return list(session.scalars(select(Case).where(Case.subject_type == "backorder", Case.subject_id == backorder_id)))


def test_a_backorder_opens_one_case_and_its_end_resolves_it(db_session: Session, journey_settings: Any) -> None:
    backorder_id = _backorder(db_session, 5001)
    assert _cases(db_session, backorder_id) == []  # allocation alone opens nothing: the journey's notice does
    customer_journey.offer(db_session, backorder_id, journey_settings, now=NOW)
    db_session.commit()
    customer_journey.offer(db_session, backorder_id, journey_settings, now=NOW + timedelta(minutes=1))  # a retry
    db_session.commit()
    [case] = _cases(db_session, backorder_id)
    assert (case.kind, case.state, case.queue, case.route_index, case.sku_codes) == (
        "backorder", "waiting", "fulfilment", 2, [SKU])  # on the customer's choice: no SLA clock running
    assert db_session.scalar(select(func.count()).select_from(Timer).where(
        Timer.subject_type == "case", Timer.state == "pending")) == 0
    assert case.order_id is not None and case.summary.startswith("order #5001: 1 × FUT-FRM-OAK-FULL backordered")
    assert db_session.scalar(select(func.count()).select_from(Case)) == 1

    outcome, _ = customer_journey.choose(db_session, backorder_id, "wait", journey_settings, source="customer",
                                         now=NOW + timedelta(hours=1))
    db_session.commit()
    assert outcome.result == "applied"
    [case] = _cases(db_session, backorder_id)
    assert case.state == "waiting"
    lifecycle.move(db_session, lifecycle.lock(db_session, case.id), "in_progress", actor="dana",
                   now=NOW + timedelta(hours=1, minutes=30))  # staff take it up: a full SLA from now
    db_session.commit()
    [case] = _cases(db_session, backorder_id)
    assert case.sla_due_at == NOW + timedelta(hours=25, minutes=30)
    assert db_session.scalar(select(Timer.due_at).where(Timer.subject_type == "case", Timer.state == "pending")) \
        == case.sla_due_at
    customer_journey.choose(db_session, backorder_id, "cancel", journey_settings, source="customer",
                            now=NOW + timedelta(hours=2))
    db_session.commit()
    [case] = _cases(db_session, backorder_id)
    assert case.state == "resolved" and case.resolution_note == "backorder accepted_wait → cancelled_by_customer"
    history = db_session.execute(select(CaseEvent.actor, CaseEvent.action, CaseEvent.to_state, CaseEvent.note)
                                 .where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).tuples().all()
    assert history == [("journey", "opened", "open", ""), ("journey", "state", "waiting", "backorder open → notified"),
                       ("journey", "note", None, "backorder notified → accepted_wait"),
                       ("dana", "state", "in_progress", ""),
                       ("journey", "resolved", "resolved", "backorder accepted_wait → cancelled_by_customer")]
    assert db_session.scalar(select(func.count()).select_from(Timer).where(
        Timer.subject_type == "case", Timer.state == "pending")) == 0


def test_a_high_value_customer_routes_to_vip_care(db_session: Session, journey_settings: Any) -> None:
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    db_session.add(Order(store_id=store_id, external_id="4001", number="#4001", email="customer5002@example.com",
                         total_cents=180000, placed_at=NOW - timedelta(days=90)))  # $1,800 before: high_value
    backorder_id = _backorder(db_session, 5002)
    customer_journey.offer(db_session, backorder_id, journey_settings, now=NOW)
    db_session.commit()
    [case] = _cases(db_session, backorder_id)
    assert (case.customer_tier, case.queue, case.owner, case.priority, case.route_index) == (
        "high_value", "vip-care", "dana", "high", 0)


def test_why_order_lists_its_case_events(db_session: Session, journey_settings: Any) -> None:
    from domain import why

    backorder_id = _backorder(db_session, 5003)
    customer_journey.offer(db_session, backorder_id, journey_settings, now=NOW)
    customer_journey.choose(db_session, backorder_id, "cancel", journey_settings, source="customer",
                            now=NOW + timedelta(hours=1))
    db_session.commit()
    trail = why.explain(db_session, "order", "5003").as_dict()
    lines = [e["text"] for e in trail["events"] if e["kind"] == "case"]
    assert len(lines) == 3 and "(backorder, queue fulfilment) opened →open by journey" in lines[0]
    assert "state open→waiting by journey: backorder open → notified" in lines[1]
    assert "resolved waiting→resolved by journey: backorder notified → cancelled_by_customer" in lines[2]
    assert trail["facts"]["orders"][0]["cases"][0]["state"] == "resolved"


def test_a_backorder_case_opens_quietly(db_session: Session, journey_settings: Any) -> None:
    from domain.core.models import Alert

    backorder_id = _backorder(db_session, 5004)
    customer_journey.offer(db_session, backorder_id, journey_settings, now=NOW)
    db_session.commit()
    assert len(_cases(db_session, backorder_id)) == 1
    assert db_session.scalar(select(func.count()).select_from(Alert).where(Alert.kind.like("case.%"))) == 0
