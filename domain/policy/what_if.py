"""Replay the last N days' refund requests under another rule file, writing nothing.

Each stored request is evaluated again with the inputs stored with it (reason, amount, tier,
channel, refund requests in 90 days). Monthly credit caps are replayed too: a customer's credits
this month are the stored ones from before the replayed window plus those the new rules grant
earlier in the window. A cancelled backorder's built-in decision is not a rule-file decision and
is left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.business_config import RefundPolicyConfig
from domain.core.clock import utcnow
from domain.core.models import RefundDecision
from domain.policy import context
from domain.policy.rules import BACKORDER_RULE, Outcome, Request, evaluate


@dataclass(frozen=True)
class Difference:
    """One request whose decision, amount or rule would change."""

    request_id: str
    order: str
    reason: str
    amount_asked_cents: int
    old: dict[str, Any]
    new: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "order": self.order, "reason": self.reason,
                "amount_asked_cents": self.amount_asked_cents, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Replay:
    replayed: int
    differences: list[Difference]


def _side(decision: str, amount: int, rule: str, settle_as: str | None) -> dict[str, Any]:
    return {"decision": decision, "amount_cents": amount, "rule": rule, "settle_as": settle_as}


def replay(session: Session, policy: RefundPolicyConfig, days: int, timezone: str,
           now: datetime | None = None) -> Replay:
    """Every stored request of the last ``days`` days, in the order they came, under ``policy``."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    rows = list(session.scalars(select(RefundDecision).where(
        RefundDecision.created_at >= since, RefundDecision.rule_name != BACKORDER_RULE)
        .order_by(RefundDecision.created_at, RefundDecision.id)))
    granted: dict[tuple[str, datetime], int] = {}
    differences = []
    for row in rows:
        month = context.month_start(row.created_at, timezone)
        key = (row.customer, month)
        if key not in granted:
            granted[key] = context.credits_since(session, row.customer, month, before=max(month, since))
        outcome: Outcome = evaluate(policy, Request(
            row.reason, row.amount_asked_cents, row.tier, row.channel, int(row.figures.get("refunds_90d", 0)),
            granted[key]))
        if outcome.decision == "credit":
            granted[key] += outcome.amount_cents
        old = _side(row.decision, row.amount_approved_cents, row.rule_name, row.settle_as)
        new = _side(outcome.decision, outcome.amount_cents, outcome.rule_name, outcome.settle_as)
        if old != new:
            differences.append(Difference(row.request_id, row.order_number, row.reason, row.amount_asked_cents,
                                          old, new))
    return Replay(len(rows), differences)
