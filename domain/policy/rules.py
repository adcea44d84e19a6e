"""Evaluate ``[[refunds.rules]]`` in file order against one request: the first rule that holds decides.

Pure: the request carries every figure a rule reads (tier, channel, this month's credits, refund
requests in 90 days), so the same function decides live requests (``domain.policy.refunds``) and
replays stored ones under another rule file (``domain.policy.what_if``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.core.business_config import RefundPolicyConfig, RefundRuleConfig

#: The name of the built-in rule for a cancelled backorder's refund or credit (``flows.refunds``).
BACKORDER_RULE = "backorder auto-cancel"
#: The name recorded when no rule matched and ``[refunds] otherwise`` decided.
NO_RULE = "no rule matched"


@dataclass(frozen=True)
class Request:
    """What a rule may look at."""

    reason: str
    amount_cents: int
    tier: str | None
    channel: str
    refunds_90d: int = 0
    credits_this_month_cents: int = 0


@dataclass(frozen=True)
class Outcome:
    """The decision, what it pays and how, and the rule (index in the file; None: no rule)."""

    decision: str
    amount_cents: int
    settle_as: str | None
    rule_index: int | None
    rule_name: str
    figures: dict[str, Any] = field(default_factory=dict)


def _holds(rule: RefundRuleConfig, request: Request) -> bool:
    return ((not rule.reasons or request.reason in rule.reasons)
            and (not rule.tiers or (request.tier or "none") in rule.tiers)
            and (not rule.channels or request.channel in rule.channels)
            and (rule.over_cents is None or request.amount_cents > rule.over_cents)
            and (rule.up_to_cents is None or request.amount_cents <= rule.up_to_cents)
            and (rule.min_refunds_90d is None or request.refunds_90d >= rule.min_refunds_90d))


def _inputs(request: Request) -> dict[str, Any]:
    return {"reason": request.reason, "amount_asked_cents": request.amount_cents, "tier": request.tier,
            "channel": request.channel, "refunds_90d": request.refunds_90d,
            "credits_this_month_cents": request.credits_this_month_cents}


def _rule_terms(rule: RefundRuleConfig) -> dict[str, Any]:
    terms: dict[str, Any] = {"decision": rule.decision}
    for name, value in (("reasons", list(rule.reasons)), ("tiers", list(rule.tiers)),
                        ("channels", list(rule.channels)), ("over_cents", rule.over_cents),
                        ("up_to_cents", rule.up_to_cents), ("min_refunds_90d", rule.min_refunds_90d),
                        ("approve_up_to_cents", rule.approve_up_to_cents),
                        ("monthly_cap_cents", rule.monthly_cap_cents)):
        if value not in (None, []):
            terms[name] = value
    if rule.decision == "credit":
        terms.update(credit_kind=rule.credit_kind, credit_percent=str(rule.credit_percent))
    return terms


def evaluate(policy: RefundPolicyConfig, request: Request) -> Outcome:
    """The first rule whose conditions all hold; a credit rule whose customer has used this
    month's cap is passed over (the next rule decides, usually a review)."""
    skipped: list[dict[str, Any]] = []
    for index, rule in enumerate(policy.rules):
        if not _holds(rule, request):
            continue
        figures = {**_inputs(request), "rule": _rule_terms(rule)}
        if rule.decision == "approve":
            amount = min(request.amount_cents, rule.approve_up_to_cents) \
                if rule.approve_up_to_cents is not None else request.amount_cents
            return Outcome("approve", amount, "refund", index, rule.name, {**figures, "skipped": skipped})
        if rule.decision == "credit":
            amount = int((Decimal(request.amount_cents) * rule.credit_percent / 100)
                         .quantize(Decimal(1), rounding=ROUND_HALF_UP))
            if rule.monthly_cap_cents is not None:
                room = max(0, rule.monthly_cap_cents - request.credits_this_month_cents)
                figures["cap_room_cents"] = room
                if room == 0:
                    skipped.append({"rule": rule.name, "why": "monthly credit cap reached"})
                    continue
                amount = min(amount, room)
            return Outcome("credit", amount, rule.credit_kind, index, rule.name, {**figures, "skipped": skipped})
        return Outcome(rule.decision, 0, None, index, rule.name, {**figures, "skipped": skipped})
    return Outcome(policy.otherwise, 0, None, None, NO_RULE, {**_inputs(request), "skipped": skipped})
