"""From a score to the review queue: a score at ``review_at`` opens exactly one ``fraud_hold`` case
(routed by ``[[cases.routes]]``) whose reasons carry the figures; scoring again opens no second one;
``hold_at`` opens it urgent; nothing is declined unless ``decline_at`` is set; the sweeper finds
what a lost message left unscored."""
from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.types import PaymentRisk
from domain.cases import views
from domain.core.business_config import BusinessConfig
from domain.core.case_config import CaseRoute, CasesConfig
from domain.core.models import Case, CaseEvent, FraudScore, Order, OutboxMessage
from domain.core.stages import Stage
from domain.fraud import scoring
from tests.integration.fraud.conftest import FRAME, HOME, Orders, address

SUSPECT = PaymentRisk(customer_ip="203.0.113.9", avs_result="N", cvv_result="N", card="Visa 400000 •••• 0002",
                      billing_country="US", shipping_country="US", billing_address=HOME, shipping_address=HOME)
#: The same payment from a Canadian billing address, shipped to a listed reshipper: 30 + 30 + 20 + 30.
WORSE = dataclasses.replace(SUSPECT, billing_country="CA", shipping_address=address("8800 NE Airport Way", "97230", "US"))


def cases_of(session: Session, order_id: int) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.order_id == order_id)))


def with_fraud(config: BusinessConfig, **changes: Any) -> BusinessConfig:
    return dataclasses.replace(config, fraud=dataclasses.replace(config.fraud, **changes))


def test_a_review_score_opens_one_case_in_the_review_queue_with_its_reasons(
        orders: Orders, db_session: Session, catalog: BusinessConfig, journey_settings: Any) -> None:
    orders.place(hours_ago=300, risk=SUSPECT)  # a returning customer: only AVS and CVV fire
    order_id = orders.place(hours_ago=1, risk=SUSPECT, sku=FRAME, total=49_900)
    scored = scoring.score_order(db_session, order_id, catalog)
    assert scored is not None and scored.row.score == 60 and scored.row.verdict == "review"
    [case] = cases_of(db_session, order_id)
    assert scored.case is not None and scored.case.id == case.id == scored.row.case_id
    assert (case.kind, case.queue, case.route_index, case.subject_type) == ("fraud_hold", "risk", 3, "order")
    assert case.sku_codes == [FRAME]
    assert "fraud score 60 (review, review at 50)" in case.summary and "AVS N" in case.summary
    shown = views.show(db_session, case.id, catalog.cases)
    assert shown is not None
    assert shown["reasons"] == ["AVS N: street and postal code do not match (+30)",
                                "CVV N: security code does not match (+30)"]
    assert shown["playbook"][0] == "Review the fraud signals and the customer's prior orders"
    # the risk queue's route hears of it, and the messages go out with the scoring's commit
    outbox = list(db_session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
    assert outbox and [f.args[0] for f in scored.follow_ups if f.stage == Stage.DELIVER] == outbox
    assert db_session.scalar(select(OutboxMessage.recipient)) == "risk@futonloft.example"

    again = scoring.score_order(db_session, order_id, catalog)  # redelivered, re-polled: inputs unchanged
    assert again is not None and not again.rescored and again.row.times_scored == 1
    orders.place(number=db_session.get(Order, order_id).number, hours_ago=1, risk=WORSE)  # type: ignore[union-attr]
    changed = scoring.score_order(db_session, order_id, catalog)
    assert changed is not None and changed.rescored and changed.row.score == 110 and changed.row.verdict == "hold"
    assert changed.row.times_scored == 2 and not changed.follow_ups
    assert [c.id for c in cases_of(db_session, order_id)] == [case.id], "re-scoring never opens a second case"
    assert db_session.scalar(select(func.count()).select_from(FraudScore)) == 1, "one row per order, updated"
    note = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())).first()
    assert note is not None and note.action == "note" and note.note == "re-scored: 60 (review) → 110 (hold)"
    assert "billing country CA ≠ shipping country US (+20)" in views.show(db_session, case.id, catalog.cases)["reasons"]  # type: ignore[index]


def test_below_the_review_threshold_or_cancelled_no_case(orders: Orders, db_session: Session,
                                                         catalog: BusinessConfig, journey_settings: Any) -> None:
    orders.place(hours_ago=300, risk=SUSPECT)
    partial = orders.place(hours_ago=1, risk=dataclasses.replace(SUSPECT, avs_result="A", cvv_result="N"))
    cancelled = orders.place(hours_ago=1, risk=SUSPECT, status="cancelled")
    low = scoring.score_order(db_session, partial, catalog)
    gone = scoring.score_order(db_session, cancelled, catalog)
    assert low is not None and (low.row.score, low.row.verdict) == (45, "pass")
    assert gone is not None and gone.row.verdict == "review", "a cancelled order is scored…"
    assert cases_of(db_session, partial) == [] and cases_of(db_session, cancelled) == [], "…but opens no case"
    again = scoring.score_order(db_session, partial, with_fraud(catalog, review_at=45), again=True)
    assert again is not None and again.row.verdict == "review" and len(cases_of(db_session, partial)) == 1


def test_hold_opens_the_case_urgent_whatever_its_route(orders: Orders, db_session: Session,
                                                       catalog: BusinessConfig, journey_settings: Any) -> None:
    config = dataclasses.replace(catalog, cases=CasesConfig(routes=(
        CaseRoute(queue="fraud-review", kind="fraud_hold", priority="low"),)))
    orders.place(hours_ago=300, risk=SUSPECT)
    review = orders.place(hours_ago=1, risk=SUSPECT)
    hold = orders.place(hours_ago=1, risk=WORSE)
    for order_id in (review, hold):
        scoring.score_order(db_session, order_id, config)
    [reviewed], [held] = cases_of(db_session, review), cases_of(db_session, hold)
    assert (reviewed.queue, reviewed.priority) == ("fraud-review", "low")
    assert (held.queue, held.priority) == ("fraud-review", "urgent")


def test_no_automatic_decline_unless_the_store_sets_decline_at(orders: Orders, db_session: Session,
                                                               catalog: BusinessConfig, journey_settings: Any) -> None:
    assert catalog.fraud.decline_at is None, "the example never declines"
    order_id = orders.place(hours_ago=1, risk=WORSE, total=99_000)  # new customer too: 130
    never = scoring.score_order(db_session, order_id, catalog)
    assert never is not None and never.row.score == 130 and never.row.verdict == "hold"
    assert never.row.thresholds == {"review_at": 50, "hold_at": 80, "decline_at": None}
    [case] = cases_of(db_session, order_id)
    assert not db_session.scalar(select(CaseEvent.id).where(CaseEvent.detail["decision"].astext == "decline"))

    declining = with_fraud(catalog, decline_at=120)
    declined = scoring.score_order(db_session, order_id, declining, again=True)
    assert declined is not None and declined.row.verdict == "decline"
    other = orders.place(hours_ago=1, risk=WORSE, total=99_000, email="new@example.com")
    fresh = scoring.score_order(db_session, other, declining)
    assert fresh is not None and fresh.row.verdict == "decline" and fresh.case is not None
    notes = list(db_session.scalars(select(CaseEvent.note).where(CaseEvent.case_id == fresh.case.id,
                                                                 CaseEvent.action == "note")))
    assert any(n.startswith("declined by the store's rule: score 130 ≥ decline_at 120") for n in notes), notes
    assert fresh.case.priority == "urgent"


def test_the_sweeper_finds_unscored_and_changed_orders(orders: Orders, db_session: Session,
                                                       catalog: BusinessConfig, journey_settings: Any) -> None:
    recent = orders.place(hours_ago=1, risk=SUSPECT)
    old = orders.place(hours_ago=24 * 8, risk=SUSPECT)  # placed before order_max_age (7 days)
    db_session.commit()
    now = orders.now
    assert scoring.unscored(db_session, catalog, now) == [], "a new order's own message gets its chance first"
    later = now + scoring.SWEEP_AFTER + timedelta(seconds=5)
    assert scoring.unscored(db_session, catalog, later) == [recent]
    assert scoring.score_order(db_session, old, catalog, now=now) is None, "too old to score on its own"
    scoring.score_order(db_session, recent, catalog)
    assert scoring.unscored(db_session, catalog, later) == []
    orders.place(number=db_session.get(Order, recent).number, hours_ago=1,  # type: ignore[union-attr]
                 risk=dataclasses.replace(SUSPECT, cvv_result="M"))
    assert scoring.unscored(db_session, catalog, now) == [recent], "its inputs changed: scored again"
    assert scoring.unscored(db_session, with_fraud(catalog, enabled=False), later) == []


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, celery_app: object) -> list[tuple[str, tuple[Any, ...]]]:
    """What tasks queue after their commits, instead of the broker (nothing consumes it here); the
    product's Celery app is loaded, as in a worker (its metrics directory included)."""
    queued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr("tasks.base.send_all", lambda messages: queued.extend(
        (task.name, tuple(args)) for task, args, _options in messages))
    return queued


def test_the_score_task_and_the_sweep_task(orders: Orders, db_session: Session, catalog: BusinessConfig,
                                           journey_settings: Any, sent: list[tuple[str, tuple[Any, ...]]],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks import fraud

    monkeypatch.setattr(fraud, "current_config", lambda: catalog)
    returning = orders.place(hours_ago=100, risk=SUSPECT)
    order_id = orders.place(hours_ago=1, risk=SUSPECT)
    db_session.commit()
    monkeypatch.setattr(scoring, "SWEEP_AFTER", timedelta(0))
    assert fraud.sweep.apply(throw=True).result == 2
    assert [args for name, args in sent if name == "tasks.fraud.score"] == [([returning, order_id],)]
    assert fraud.score.apply(args=[[order_id]], throw=True).result == 1
    assert fraud.score.apply(args=[[order_id]], throw=True).result == 0, "scored once"
    db_session.expire_all()
    assert db_session.scalar(select(FraudScore.verdict).where(FraudScore.order_id == order_id)) == "review"
    delivered = [args[0] for name, args in sent if name == "tasks.notify.deliver"]
    assert delivered == list(db_session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
    monkeypatch.setattr(fraud, "current_config", lambda: with_fraud(catalog, enabled=False))
    assert fraud.score.apply(args=[[returning]], throw=True).result == 0, "without [fraud] nothing is scored"
