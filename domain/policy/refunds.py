"""Decide a refund or appeasement request by the business file's rules and store the decision.

Every request becomes one ``refund_decisions`` row with the rule that decided it, the figures it
read and the context a reviewer needs (``domain.policy.context``). The caller's request id makes
it idempotent: a retried or redelivered request returns the first decision. Decisions of one
customer are taken one at a time (a transaction-scoped advisory lock on the customer), so two
workers cannot both spend the last of a monthly credit cap.

Paying is not done here: an approval or credit is a decision a payment step executes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig
from domain.core.clock import utcnow
from domain.core.models import Order, RefundDecision, Store
from domain.journey import segments
from domain.policy import context
from domain.policy.rules import BACKORDER_RULE, Outcome, Request, evaluate


@dataclass(frozen=True)
class Decided:
    """The stored decision and whether this call made it (False: the request id was seen before)."""

    row: RefundDecision
    created: bool


def _lock_customer(session: Session, customer: str) -> None:
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"refund_decisions:{customer}"))))


def _existing(session: Session, request_id: str) -> RefundDecision | None:
    return session.scalar(select(RefundDecision).where(RefundDecision.request_id == request_id))


def _store(session: Session, request_id: str, order: Order, customer: str, channel: str, reason: str,
           amount_cents: int, tier: str | None, outcome: Outcome, ctx: dict[str, object],
           now: datetime) -> Decided:
    inserted = session.execute(insert(RefundDecision).values(
        request_id=request_id, order_id=order.id, order_number=order.number, customer=customer, reason=reason,
        amount_asked_cents=amount_cents, currency=order.currency, channel=channel, tier=tier,
        decision=outcome.decision, amount_approved_cents=outcome.amount_cents, settle_as=outcome.settle_as,
        rule_index=outcome.rule_index, rule_name=outcome.rule_name, figures=outcome.figures, context=ctx,
        created_at=now).on_conflict_do_nothing(index_elements=["request_id"]).returning(RefundDecision.id)
    ).scalar()
    row = session.get(RefundDecision, inserted) if inserted is not None else _existing(session, request_id)
    assert row is not None
    return Decided(row, inserted is not None)


def decide(session: Session, config: BusinessConfig, order: Order, reason: str, amount_cents: int,
           request_id: str, now: datetime | None = None) -> Decided:
    """Evaluate the rules for this request and store the decision (once per request id)."""
    found = _existing(session, request_id)
    if found is not None:
        return Decided(found, False)
    now = now or utcnow()
    customer = context.customer_key(order)
    _lock_customer(session, customer)
    channel = session.scalar(select(Store.key).where(Store.id == order.store_id)) or ""
    prior, lifetime_before = segments.history(session, order) if config.segments else (0, 0)
    tier = segments.classify(config.segments, prior, lifetime_before, 0).key
    refunds_90d = context.requests_since(session, customer, now - context.FRAUD_WINDOW)
    credits = context.credits_since(session, customer, context.month_start(now, config.timezone))
    outcome = evaluate(config.refunds, Request(reason, amount_cents, tier, channel, refunds_90d, credits))
    ctx = context.build(session, order, channel, customer, amount_cents, refunds_90d,
                        config.refunds.fraud_refunds_90d)
    return _store(session, request_id, order, customer, channel, reason, amount_cents, tier,
                  Outcome(outcome.decision, outcome.amount_cents, outcome.settle_as, outcome.rule_index,
                          outcome.rule_name, {**outcome.figures, "prior_orders": prior,
                                              "lifetime_value_before_cents": lifetime_before}), ctx, now)


def record_backorder(session: Session, order: Order, request_id: str, amount_cents: int, resolution: str,
                     figures: dict[str, object], now: datetime | None = None) -> Decided:
    """The built-in rule for a cancelled backorder: its line is refunded (or credited) in full, as
    the customer was promised; stored like any decision so the trail and finance see one list."""
    found = _existing(session, request_id)
    if found is not None:
        return Decided(found, False)
    now = now or utcnow()
    channel = session.scalar(select(Store.key).where(Store.id == order.store_id)) or ""
    credit = resolution == "store_credit"
    outcome = Outcome("credit" if credit else "approve", amount_cents, "store_credit" if credit else "refund",
                      None, BACKORDER_RULE, {"resolution": resolution, **figures})
    return _store(session, request_id, order, context.customer_key(order), channel, "backorder_cancelled",
                  amount_cents, None, outcome, {}, now)


#: The rule name recorded when a person approves a request the rules sent to review.
STAFF_RULE = "approved by staff"


def record_staff_approval(session: Session, order: Order, request_id: str, reason: str, amount_cents: int,
                          actor: str, figures: dict[str, object], now: datetime | None = None) -> Decided:
    """A reviewer approves what the rules sent to review: stored like any decision (once per
    request id), with who approved it, so the trail shows the rule and the person."""
    found = _existing(session, request_id)
    if found is not None:
        return Decided(found, False)
    now = now or utcnow()
    channel = session.scalar(select(Store.key).where(Store.id == order.store_id)) or ""
    outcome = Outcome("approve", amount_cents, "refund", None, STAFF_RULE, {"approved_by": actor, **figures})
    return _store(session, request_id, order, context.customer_key(order), channel, reason, amount_cents, None,
                  outcome, {}, now)
