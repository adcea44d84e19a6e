"""A refund the rules send to review opens one ``refund_request`` case carrying what the reviewer
needs — the decision's figures and rule, the order, the customer's history and lifetime value,
prior refunds, fraud hints — once per request id, however often the request comes."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig
from domain.core.models import Alert, Case, CaseEvent, Order, OrderLine, RefundDecision, RefundExecution, Store
from domain.payments import refund_requests
from workers.cli import main

NOW = datetime.now(UTC)


def _order(session: Session, number: str, email: str, total: int = 64_900) -> Order:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    session.add(Order(store_id=store_id, external_id=f"old-{number}", number=f"#{number}-0", email=email,
                      total_cents=12_000, status="closed", placed_at=NOW - timedelta(days=40)))
    order = Order(store_id=store_id, external_id=f"x-{number}", number=f"#{number}", email=email,
                  customer_name="Ben Ode", total_cents=total, placed_at=NOW - timedelta(days=3))
    session.add(order)
    session.flush()
    session.add(OrderLine(order_id=order.id, external_id=f"{number}-1", quantity=1, price_cents=total,
                          title="Oak futon frame"))
    session.commit()
    return order


def _cases(session: Session) -> list[Case]:
    session.expire_all()
    return list(session.scalars(select(Case).where(Case.kind == "refund_request").order_by(Case.id)))


def test_a_review_opens_one_case_with_the_reviewers_context_and_a_retry_opens_none(
        db_session: Session, catalog: BusinessConfig) -> None:
    order = _order(db_session, "5101", "ben@example.com")
    args = ["refunds", "decide", "--order", "#5101", "--reason", "defective", "--amount", "300.00",
            "--request-id", "TKT-300"]
    first = CliRunner().invoke(main, [*args, "--json"])
    assert first.exit_code == 0, first.output
    decided = json.loads(first.output)
    assert (decided["decision"], decided["rule"], decided["payment"]) == ("review", "over 250: review", None)
    [case] = _cases(db_session)
    assert decided["case"]["id"] == case.id and decided["case"]["queue"] == case.queue
    assert (case.subject_type, case.subject_id, case.order_id, case.state) == (
        "refund_decision", decided["id"], order.id, "open")
    assert (case.queue, case.owner) == ("refunds", "maya")  # the example's [[cases.routes]] for refund_request
    assert "TKT-300" in case.summary and "300.00 USD" in case.summary and "over 250: review" in case.summary
    assert "lifetime value 769.00 USD" in case.summary
    [opened] = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))
    detail = opened.detail
    assert (detail["request_id"], detail["rule"], detail["amount_asked_cents"]) == ("TKT-300", "over 250: review",
                                                                                    30_000)
    assert detail["figures"]["rule"]["over_cents"] == 25_000 and detail["figures"]["amount_asked_cents"] == 30_000
    assert detail["context"]["order"]["number"] == "#5101"
    assert detail["context"]["customer"]["orders"] == 2
    assert detail["context"]["customer"]["lifetime_value_cents"] == 76_900
    assert detail["context"]["prior_refunds"] == [] and detail["context"]["fraud_hints"] == []
    assert detail["reasons"][0].startswith("asks 300.00 USD for defective on shopify-main; rule 'over 250: review'")
    assert any(line.startswith("customer ben@example.com: 2 order(s), lifetime value 769.00 USD")
               for line in detail["reasons"])

    again = CliRunner().invoke(main, args)  # the same ticket again: a retry, a redelivery
    assert again.exit_code == 0, again.output
    assert "[decided before]" in again.output and f"review: case {case.id} (refund_request)" in again.output
    assert [c.id for c in _cases(db_session)] == [case.id]
    assert db_session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)) == 1
    assert db_session.scalar(select(func.count()).select_from(Alert).where(
        Alert.dedupe_key == f"case:{case.id}:opened")) == 1
    shown = json.loads(CliRunner().invoke(main, ["cases", "show", str(case.id), "--json"]).output)
    assert shown["reasons"] == detail["reasons"] and shown["kind"] == "refund_request"


def test_a_second_request_shows_the_first_as_a_prior_refund_and_an_approval_opens_no_case(
        db_session: Session, catalog: BusinessConfig) -> None:
    order = _order(db_session, "5102", "ana@example.com")
    approved = refund_requests.handle(db_session, catalog, order, "defective", 12_000, "TKT-120")
    assert approved.decided.row.decision == "approve" and approved.case is None
    assert db_session.scalar(select(func.count()).select_from(RefundExecution)) == 1
    review = refund_requests.handle(db_session, catalog, order, "damaged", 26_000, "TKT-260")
    db_session.commit()
    assert review.case is not None and review.follow_ups  # the case.opened alert's messages
    [case] = _cases(db_session)
    assert case.id == review.case.id
    opened = db_session.scalar(select(CaseEvent.detail).where(CaseEvent.case_id == case.id))
    assert opened is not None
    reasons = opened["reasons"]
    assert any(line.startswith("1 prior refund request(s): #5102 defective → approve (within policy)")
               for line in reasons), reasons
    again = refund_requests.handle(db_session, catalog, order, "damaged", 26_000, "TKT-260")
    assert not again.decided.created and again.case is not None and again.case.id == case.id
    assert again.follow_ups == []
    db_session.commit()
    assert len(_cases(db_session)) == 1
    assert db_session.scalar(select(func.count()).select_from(RefundDecision)) == 2
