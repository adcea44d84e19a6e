"""``backorders fraud score`` and ``backorders why order`` on the real database: the signals, the
score and the reasons, human and ``--json``; a refund reviewer sees the order's fraud score too."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig
from domain.core.models import Case, FraudScore
from domain.policy import refunds
from tests.integration.fraud.conftest import Orders
from tests.integration.fraud.test_fraud_cases import SUSPECT
from workers.cli import main


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_fraud_score_prints_every_signal_and_scores_once(orders: Orders, db_session: Session,
                                                         journey_settings: Any) -> None:
    orders.place(hours_ago=300, risk=SUSPECT)
    orders.place(hours_ago=1, risk=SUSPECT, number="#8001")
    db_session.commit()

    [first] = json.loads(_run("fraud", "score", "8001", "--json"))
    assert (first["order"], first["store"], first["score"], first["verdict"]) == ("#8001", "shopify-main", 60, "review")
    assert first["scored_now"] is True and first["case"]["kind"] == "fraud_hold" and first["case"]["queue"] == "risk"
    assert first["reasons"] == ["AVS N: street and postal code do not match (+30)",
                                "CVV N: security code does not match (+30)"]
    assert [s["name"] for s in first["signals"]][:2] == ["avs_mismatch", "cvv_mismatch"]
    assert first["thresholds"] == {"review_at": 50, "hold_at": 80, "decline_at": None}

    human = _run("fraud", "score", "#8001")
    assert "order #8001 (shopify-main): fraud score 60 — review (review at 50, hold at 80, no automatic decline)" in human
    assert "  fired     +30  avs_mismatch             AVS N: street and postal code do not match" in human
    assert "  clear       0  country_mismatch         billing and shipping both in US" in human
    assert "inputs unchanged since: stored score shown" in human
    again = json.loads(_run("fraud", "score", "8001", "--again", "--json"))[0]
    assert again["scored_now"] is True and again["times_scored"] == 2
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(FraudScore)) == 1
    assert db_session.scalar(select(func.count()).select_from(Case)) == 1, "scored three times, one case"
    assert "no order '9999'" in _run("fraud", "score", "9999", code=1)
    assert "no order '8001' on woo-outlet" in _run("fraud", "score", "8001", "--store", "woo-outlet", code=1)


def test_why_order_shows_the_score_and_its_reasons(orders: Orders, db_session: Session, catalog: BusinessConfig,
                                                   journey_settings: Any) -> None:
    from domain.fraud import scoring

    orders.place(hours_ago=300, risk=SUSPECT)
    order_id = orders.place(hours_ago=1, risk=SUSPECT, number="#8002")
    scoring.score_order(db_session, order_id, catalog)
    db_session.commit()
    trail = json.loads(_run("why", "order", "8002", "--json"))
    [facts] = trail["facts"]["orders"]
    assert facts["fraud"]["score"] == 60 and facts["fraud"]["verdict"] == "review"
    assert facts["fraud"]["reasons"] == ["AVS N: street and postal code do not match (+30)",
                                         "CVV N: security code does not match (+30)"]
    [scored] = [e for e in trail["events"] if e["kind"] == "fraud.scored"]
    assert scored["text"] == ("fraud score 60: review (review at 50, hold at 80, no automatic decline): "
                              "AVS N: street and postal code do not match (+30); "
                              "CVV N: security code does not match (+30)")
    assert any(e["kind"] == "case" and "fraud_hold" in e["text"] for e in trail["events"])
    assert "fraud score 60: review" in _run("why", "order", "8002")


def test_a_refund_reviewer_sees_the_orders_fraud_score(orders: Orders, db_session: Session,
                                                       catalog: BusinessConfig, journey_settings: Any) -> None:
    from domain.core.models import Order
    from domain.fraud import scoring

    orders.place(hours_ago=300, risk=SUSPECT)
    flagged = orders.place(hours_ago=1, risk=SUSPECT, total=20_000)
    clean = orders.place(hours_ago=1, risk=dataclasses.replace(SUSPECT, avs_result="Y", cvv_result="M"),
                         total=20_000)
    for order_id in (flagged, clean):
        scoring.score_order(db_session, order_id, catalog)
    hints = {}
    for order_id in (flagged, clean):
        order = db_session.get(Order, order_id)
        assert order is not None
        decided = refunds.decide(db_session, catalog, order, "defective", 5_000, f"r-{order_id}")
        hints[order_id] = decided.row.context["fraud_hints"]
    assert hints[flagged] == ["order fraud score 60 (review): AVS N: street and postal code do not match (+30); "
                              "CVV N: security code does not match (+30)"]
    assert hints[clean] == [], "a passing score is no hint"
