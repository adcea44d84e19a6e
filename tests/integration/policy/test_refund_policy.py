"""The refund and appeasement policy on the real database, with the example store's rules.

The example file (``examples/futon-store.toml``) holds the seed's rules: a VIP (the
``high_value`` tier, lifetime value ≥ 1,500.00) with a defective item is approved up to 500.00;
anything over 250.00 goes to review; late deliveries earn a 20 % store credit within 50.00 a
month; the outlet does not refund a change of mind.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig, parse_refunds
from domain.core.models import Order, OrderLine, RefundDecision, Store
from domain.policy import refunds as policy
from domain.policy import what_if
from workers.cli import main

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def _order(session: Session, email: str, number: str, store: str = "shopify-main", total: int = 200_000,
           history: str | None = None) -> Order:
    store_id = session.scalar(select(Store.id).where(Store.key == store))
    earlier = {"vip": [200_000], "repeat": [10_000, 10_000], None: []}[history]
    for n, amount in enumerate(earlier):
        session.add(Order(store_id=store_id, external_id=f"h-{number}-{n}", number=f"H{number}-{n}", email=email,
                          total_cents=amount, status="closed", placed_at=NOW - timedelta(days=60 + n)))
    order = Order(store_id=store_id, external_id=f"x-{number}", number=f"#{number}", email=email,
                  customer_name="Sam", total_cents=total, placed_at=NOW - timedelta(days=5))
    session.add(order)
    session.flush()
    session.add(OrderLine(order_id=order.id, external_id=f"{number}-1", quantity=1, price_cents=total,
                          title="Oak frame"))
    session.flush()
    return order


#: (tier history, channel, reason, amount asked in cents) → (decision, amount approved, rule)
TABLE: list[tuple[str | None, str, str, int, str, int, str]] = [
    ("vip", "shopify-main", "defective", 70_000, "approve", 50_000, "VIP defective"),  # the seed's example
    ("vip", "shopify-main", "defective", 30_000, "approve", 30_000, "VIP defective"),
    ("vip", "shopify-main", "defective", 12_000, "approve", 12_000, "VIP defective"),
    ("vip", "shopify-main", "defective", 50_001, "approve", 50_000, "VIP defective"),
    (None, "shopify-main", "defective", 30_000, "review", 0, "over 250: review"),  # the seed's example
    (None, "shopify-main", "defective", 25_001, "review", 0, "over 250: review"),
    (None, "shopify-main", "defective", 25_000, "approve", 25_000, "within policy"),
    (None, "shopify-main", "defective", 100_000, "review", 0, "over 250: review"),
    (None, "shopify-main", "damaged", 8_000, "approve", 8_000, "within policy"),
    ("repeat", "shopify-main", "defective", 40_000, "review", 0, "over 250: review"),
    ("vip", "shopify-main", "damaged", 40_000, "review", 0, "over 250: review"),
    ("vip", "shopify-main", "wrong_item", 26_000, "review", 0, "over 250: review"),
    (None, "woo-outlet", "changed_mind", 4_000, "deny", 0, "outlet final sale"),
    (None, "shopify-main", "changed_mind", 4_000, "approve", 4_000, "within policy"),
    ("vip", "woo-outlet", "changed_mind", 30_000, "deny", 0, "outlet final sale"),
    (None, "shopify-main", "late_delivery", 10_000, "credit", 2_000, "late delivery appeasement"),
    (None, "shopify-main", "late_delivery", 40_000, "credit", 5_000, "late delivery appeasement"),
    (None, "shopify-main", "late_delivery", 1_000, "credit", 200, "late delivery appeasement"),
    ("repeat", "woo-outlet", "late_delivery", 30_000, "credit", 5_000, "late delivery appeasement"),
    (None, "shopify-main", "wrong_size", 3_000, "review", 0, "no rule matched"),
    (None, "shopify-main", "not_as_described", 19_999, "approve", 19_999, "within policy"),
    (None, "shopify-main", "wrong_item", 1, "approve", 1, "within policy"),
]


@pytest.mark.parametrize("case", range(len(TABLE)))
def test_policy_table(db_session: Session, catalog: BusinessConfig, case: int) -> None:
    history, channel, reason, asked, decision, approved, rule = TABLE[case]
    order = _order(db_session, f"c{case}@example.com", str(7000 + case), store=channel, history=history)
    decided = policy.decide(db_session, catalog, order, reason, asked, f"req-{case}", now=NOW)
    db_session.commit()
    row = db_session.scalar(select(RefundDecision).where(RefundDecision.request_id == f"req-{case}"))
    assert row is not None and decided.created
    assert (row.decision, row.amount_approved_cents, row.rule_name) == (decision, approved, rule)
    assert row.tier == {"vip": "high_value", "repeat": "repeat", None: None}[history]
    assert row.channel == channel and row.amount_asked_cents == asked
    names = [r.name for r in catalog.refunds.rules]
    assert row.rule_index == (names.index(rule) if rule in names else None)
    assert row.figures["amount_asked_cents"] == asked and row.figures["reason"] == reason
    assert row.context["order"]["number"] == order.number
    assert row.settle_as == {"approve": "refund", "credit": "store_credit"}.get(decision)


def test_review_carries_the_reviewers_context(db_session: Session, catalog: BusinessConfig) -> None:
    order = _order(db_session, "often@example.com", "8100", history="repeat", total=30_000)
    for n in range(3):
        policy.decide(db_session, catalog, order, "damaged", 1_000, f"small-{n}", now=NOW - timedelta(days=10 * n))
    decided = policy.decide(db_session, catalog, order, "defective", 40_000, "big", now=NOW)
    row = decided.row
    assert (row.decision, row.rule_name) == ("review", "many refunds: review")
    ctx = row.context
    assert ctx["customer"]["orders"] == 3 and ctx["customer"]["lifetime_value_cents"] == 50_000
    assert ctx["refunds_90d"] == 3 and len(ctx["prior_refunds"]) == 3
    assert ctx["order"]["lines"][0]["price_cents"] == 30_000
    assert any("3 refund requests in 90 days" in hint for hint in ctx["fraud_hints"])
    assert any("more than the order's total" in hint for hint in ctx["fraud_hints"])


def test_monthly_credit_cap(db_session: Session, catalog: BusinessConfig) -> None:
    rules = parse_refunds({"refunds": {"fraud_refunds_90d": 50, "rules": [
        {"name": "goodwill", "reasons": ["late_delivery"], "decision": "credit", "monthly_cap": "50.00"}]}})
    config = dataclasses.replace(catalog, refunds=rules)
    order = _order(db_session, "late@example.com", "8200")
    other = _order(db_session, "other@example.com", "8201")
    policy.record_backorder(db_session, order, "backorder-1", 90_000, "store_credit", {}, now=NOW)
    got = [policy.decide(db_session, config, order, "late_delivery", asked, f"late-{n}", now=NOW + timedelta(hours=n))
           .row for n, asked in enumerate([3_000, 3_000, 1_000])]
    assert [(r.decision, r.amount_approved_cents) for r in got] == [("credit", 3_000), ("credit", 2_000),
                                                                   ("review", 0)]
    assert got[2].rule_name == "no rule matched"
    assert got[2].figures["skipped"] == [{"rule": "goodwill", "why": "monthly credit cap reached"}]
    assert policy.decide(db_session, config, other, "late_delivery", 3_000, "other-1", now=NOW).row \
        .amount_approved_cents == 3_000, "the cap is per customer"
    # December starts at midnight in New York (the business timezone), 05:00 UTC.
    still_november = policy.decide(db_session, config, order, "late_delivery", 3_000, "late-nov",
                                   now=datetime(2026, 12, 1, 4, 59, tzinfo=UTC)).row
    december = policy.decide(db_session, config, order, "late_delivery", 3_000, "late-dec",
                             now=datetime(2026, 12, 1, 5, 0, tzinfo=UTC)).row
    assert (still_november.decision, december.decision, december.amount_approved_cents) == ("review", "credit", 3_000)


def test_same_request_id_decides_once(db_session: Session, catalog: BusinessConfig) -> None:
    order = _order(db_session, "twice@example.com", "8300", history="vip")
    first = policy.decide(db_session, catalog, order, "defective", 70_000, "ticket-42", now=NOW)
    db_session.commit()
    stricter = dataclasses.replace(catalog, refunds=parse_refunds({"refunds": {"otherwise": "deny"}}))
    again = policy.decide(db_session, stricter, order, "defective", 70_000, "ticket-42", now=NOW + timedelta(hours=1))
    db_session.commit()
    assert first.created and not again.created and again.row.id == first.row.id
    assert (again.row.decision, again.row.amount_approved_cents) == ("approve", 50_000)
    assert db_session.scalar(select(func.count()).select_from(RefundDecision)) == 1


def _stored(session: Session, config: BusinessConfig) -> None:
    """A week of requests (and one older) decided under the example rules."""
    for n, (history, reason, asked, days_ago) in enumerate([
            (None, "defective", 28_000, 1), (None, "damaged", 26_000, 2), (None, "defective", 32_000, 3),
            (None, "damaged", 8_000, 4), ("vip", "defective", 70_000, 5), (None, "defective", 27_000, 10)]):
        order = _order(session, f"w{n}@example.com", str(9000 + n), history=history)
        policy.decide(session, config, order, reason, asked, f"wk-{n}", now=NOW - timedelta(days=days_ago))
    session.commit()


CHANGED = """
[refunds]
[[refunds.rules]]
name = "VIP defective"
reasons = ["defective"]
tiers = ["high_value"]
decision = "approve"
approve_up_to = "500.00"

[[refunds.rules]]
name = "over 250: review"
over = "300.00"
decision = "review"

[[refunds.rules]]
name = "within policy"
reasons = ["defective", "damaged"]
up_to = "300.00"
decision = "approve"
"""


def test_what_if_shows_exactly_the_changed_requests(db_session: Session, catalog: BusinessConfig) -> None:
    _stored(db_session, catalog)
    before = db_session.execute(select(RefundDecision.request_id, RefundDecision.decision,
                                       RefundDecision.amount_approved_cents).order_by(RefundDecision.id)).all()
    import tomllib

    result = what_if.replay(db_session, parse_refunds(tomllib.loads(CHANGED)), 7, catalog.timezone, now=NOW)
    assert result.replayed == 5
    assert [(d.request_id, d.old["decision"], d.old["rule"], d.new["decision"], d.new["amount_cents"],
             d.new["rule"]) for d in result.differences] == [
        ("wk-1", "review", "over 250: review", "approve", 26_000, "within policy"),
        ("wk-0", "review", "over 250: review", "approve", 28_000, "within policy")]
    unchanged = what_if.replay(db_session, catalog.refunds, 7, catalog.timezone, now=NOW)
    assert unchanged.replayed == 5 and unchanged.differences == []
    db_session.rollback()
    assert db_session.execute(select(RefundDecision.request_id, RefundDecision.decision,
                                     RefundDecision.amount_approved_cents).order_by(RefundDecision.id)).all() == before


def test_cli_decide_list_what_if(db_session: Session, catalog: BusinessConfig, tmp_path: Path) -> None:
    order = _order(db_session, "cli@example.com", "9100", history="vip")
    db_session.commit()
    runner = CliRunner()
    args = ["refunds", "decide", "--order", "9100", "--reason", "defective", "--amount", "700.00",
            "--request-id", "cli-1", "--json"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    decided: dict[str, Any] = json.loads(first.output)
    assert (decided["decision"], decided["amount_approved_cents"], decided["rule"]) == ("approve", 50_000,
                                                                                         "VIP defective")
    again = runner.invoke(main, args[:-1])
    assert again.exit_code == 0 and "[decided before]" in again.output and "VIP defective" in again.output
    listed = json.loads(runner.invoke(main, ["refunds", "list", "--json"]).output)
    assert [r["request_id"] for r in listed] == ["cli-1"]
    rules = tmp_path / "rules.toml"
    rules.write_text('[refunds]\n[[refunds.rules]]\nname = "VIP defective"\nreasons = ["defective"]\n'
                     'tiers = ["high_value"]\ndecision = "approve"\napprove_up_to = "600.00"\n')
    replay = runner.invoke(main, ["refunds", "what-if", str(rules), "--days", "3"])
    assert replay.exit_code == 0, replay.output
    assert "1 would differ" in replay.output and "approve 500.00 (VIP defective) → approve 600.00" in replay.output
    why = runner.invoke(main, ["why", "order", "9100"])
    assert 'by rule "VIP defective"' in why.output
    assert db_session.scalar(select(func.count()).select_from(RefundDecision)) == 1
    assert order.id
