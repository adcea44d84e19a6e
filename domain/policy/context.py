"""What a reviewer needs beside a refund request, read from the orders and stored decisions.

The order and its lines, the customer's other orders and lifetime value, prior refund requests,
this calendar month's credits and fraud hints (its own refund pattern, and the order's fraud score
when ``domain.fraud`` found it worth a review). It is stored with the decision as it was then,
so a reviewer (and a later what-if) sees the figures the rule saw, not today's.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import FraudScore, Order, OrderLine, RefundDecision, Sku
from domain.policy.rules import BACKORDER_RULE

#: How far back a customer's refund requests count as a fraud hint.
FRAUD_WINDOW = timedelta(days=90)
PRIOR_SHOWN = 10


def customer_key(order: Order) -> str:
    """The customer, as the segment check knows them: the email in lower case (else the order)."""
    return order.email.strip().lower() if order.email else f"order:{order.id}"


def month_start(now: datetime, timezone: str) -> datetime:
    """Midnight of the first day of ``now``'s calendar month in the business timezone."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def requests_since(session: Session, customer: str, since: datetime) -> int:
    """Refund requests the customer made since then (a cancelled backorder's refund is not one)."""
    return int(session.scalar(select(func.count()).select_from(RefundDecision).where(
        RefundDecision.customer == customer, RefundDecision.created_at >= since,
        RefundDecision.rule_name != BACKORDER_RULE)) or 0)


def credits_since(session: Session, customer: str, since: datetime, before: datetime | None = None) -> int:
    """Appeasement credits granted to the customer since then (the monthly cap's use)."""
    query = select(func.coalesce(func.sum(RefundDecision.amount_approved_cents), 0)).where(
        RefundDecision.customer == customer, RefundDecision.decision == "credit",
        RefundDecision.rule_name != BACKORDER_RULE, RefundDecision.created_at >= since)
    if before is not None:
        query = query.where(RefundDecision.created_at < before)
    return int(session.scalar(query) or 0)


def lifetime(session: Session, order: Order) -> tuple[list[Order], int]:
    """The customer's orders on any store (newest first) and their total, cancelled ones left out."""
    if not order.email:
        return [order], order.total_cents
    orders = list(session.scalars(select(Order).where(
        func.lower(Order.email) == order.email.strip().lower(), Order.status != "cancelled")
        .order_by(Order.placed_at.desc(), Order.id.desc())))
    return orders, sum(o.total_cents for o in orders)


def order_fraud_hints(session: Session, order: Order) -> list[str]:
    """The order's stored fraud score (``domain.fraud`` writes it; read here as a row, since policy
    sits below fraud) when it is not a pass: the score, its verdict and each fired signal's text."""
    score = session.scalar(select(FraudScore).where(FraudScore.order_id == order.id))
    if score is None or score.verdict == "pass":
        return []
    fired = [f"{s.get('text')} (+{s.get('points')})" for s in score.signals if s.get("state") == "fired"]
    return [f"order fraud score {score.score} ({score.verdict}): " + "; ".join(fired)]


def build(session: Session, order: Order, store_key: str, customer: str, amount_cents: int,
          refunds_90d: int, fraud_threshold: int) -> dict[str, Any]:
    """The structured context stored with a decision."""
    lines = session.execute(select(OrderLine, Sku.code).outerjoin(Sku, Sku.id == OrderLine.sku_id)
                            .where(OrderLine.order_id == order.id).order_by(OrderLine.id)).all()
    orders, lifetime_cents = lifetime(session, order)
    prior = list(session.scalars(select(RefundDecision).where(RefundDecision.customer == customer)
                                 .order_by(RefundDecision.created_at.desc(), RefundDecision.id.desc())
                                 .limit(PRIOR_SHOWN)))
    hints = []
    if refunds_90d >= fraud_threshold:
        hints.append(f"{refunds_90d} refund requests in 90 days (threshold {fraud_threshold})")
    if amount_cents > order.total_cents:
        hints.append(f"asks {amount_cents} cents, more than the order's total {order.total_cents}")
    same_order = [d for d in prior if d.order_id == order.id and d.rule_name != BACKORDER_RULE]
    if same_order:
        hints.append(f"{len(same_order)} earlier request(s) on this order")
    hints += order_fraud_hints(session, order)
    return {
        "order": {"number": order.number, "store": store_key, "status": order.status,
                  "placed_at": order.placed_at.isoformat(), "total_cents": order.total_cents,
                  "currency": order.currency,
                  "lines": [{"sku": code, "title": line.title, "quantity": line.quantity,
                             "price_cents": line.price_cents} for line, code in lines]},
        "customer": {"key": customer, "name": order.customer_name, "orders": len(orders),
                     "lifetime_value_cents": lifetime_cents,
                     "recent_orders": [{"number": o.number, "total_cents": o.total_cents, "status": o.status,
                                        "placed_at": o.placed_at.isoformat()} for o in orders[:5]]},
        "prior_refunds": [{"request_id": d.request_id, "order": d.order_number, "reason": d.reason,
                           "decision": d.decision, "amount_approved_cents": d.amount_approved_cents,
                           "rule": d.rule_name, "at": d.created_at.isoformat()} for d in prior],
        "refunds_90d": refunds_90d,
        "fraud_hints": hints,
    }
