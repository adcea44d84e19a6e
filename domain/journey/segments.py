"""The customer-segment check before the offer: a tier from order history, and what it earns.

The seed's "OOS hot path" checks the customer's segment between the allocation failure and the
offer. A tier (``[[segments]]`` in the business file, first match in file order) is decided
from the customer's earlier orders, matched by email across every store: how many there are
(``min_prior_orders``) and what they came to (``min_lifetime_value``, the orders' totals). A tier
may lengthen the SLA (``sla_extra``; the deadline still never passes the end of the promised date)
and add a store-credit bonus to the cancel-for-credit option (``credit_bonus_percent`` of the
backordered line and/or ``credit_bonus``). The decision and the figures that produced it are an
``audit_log`` row (``backorder.segment``), also when no tier matched, so ``why`` can show them.

Known limit: lifetime value adds order totals as the platforms report them, whatever their
currency, and counts refunded orders (only cancelled ones are left out).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.business_config import SegmentConfig
from domain.core.models import Backorder, Order, OrderLine


@dataclass(frozen=True)
class Tier:
    """The tier decided for one backorder (``key`` None: no tier) and the figures behind it."""

    key: str | None
    prior_orders: int
    lifetime_value_cents: int
    sla_extra_s: int
    credit_bonus_cents: int
    rule: dict[str, Any]


def history(session: Session, order: Order) -> tuple[int, int]:
    """(earlier orders, their total in cents) under the same email, on any store."""
    if not order.email:
        return 0, 0
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(Order.total_cents), 0))
        .where(func.lower(Order.email) == order.email.strip().lower(), Order.id != order.id,
               Order.placed_at <= order.placed_at, Order.status != "cancelled")).one()
    return int(count), int(total)


def matches(segment: SegmentConfig, prior_orders: int, lifetime_value_cents: int) -> bool:
    """Every criterion the segment names holds (a segment names at least one)."""
    orders_ok = segment.min_prior_orders is None or prior_orders >= segment.min_prior_orders
    value_ok = (segment.min_lifetime_value_cents is None
                or lifetime_value_cents >= segment.min_lifetime_value_cents)
    return orders_ok and value_ok


def classify(segments: tuple[SegmentConfig, ...], prior_orders: int, lifetime_value_cents: int,
             line_total_cents: int) -> Tier:
    """The first matching tier and what it earns on a line of ``line_total_cents``."""
    for segment in segments:
        if not matches(segment, prior_orders, lifetime_value_cents):
            continue
        percent_bonus = int((Decimal(line_total_cents) * segment.credit_bonus_percent / 100)
                            .quantize(Decimal(1), rounding=ROUND_HALF_UP))
        rule = {"segment": segment.key, "min_prior_orders": segment.min_prior_orders,
                "min_lifetime_value_cents": segment.min_lifetime_value_cents,
                "sla_extra_s": segment.sla_extra_s,
                "credit_bonus_percent": str(segment.credit_bonus_percent),
                "credit_bonus_fixed_cents": segment.credit_bonus_cents, "line_total_cents": line_total_cents,
                "credit_bonus_percent_cents": percent_bonus}
        return Tier(segment.key, prior_orders, lifetime_value_cents, segment.sla_extra_s,
                    percent_bonus + segment.credit_bonus_cents, rule)
    return Tier(None, prior_orders, lifetime_value_cents, 0, 0,
                {"segment": None, "checked": [s.key for s in segments], "line_total_cents": line_total_cents})


def check(session: Session, backorder: Backorder, segments: tuple[SegmentConfig, ...]) -> Tier:
    """Decide the backorder's tier, keep it on the row and audit the figures (before the offer)."""
    line = session.get(OrderLine, backorder.order_line_id)
    assert line is not None
    order = session.get(Order, line.order_id)
    assert order is not None
    prior, lifetime = history(session, order) if segments else (0, 0)
    tier = classify(segments, prior, lifetime, line.price_cents * backorder.quantity)
    backorder.segment = tier.key
    backorder.credit_bonus_cents = tier.credit_bonus_cents
    audit.record(session, "journey", "backorder.segment", "backorder", backorder.id, segment=tier.key,
                 prior_orders=prior, lifetime_value_cents=lifetime, sla_extra_s=tier.sla_extra_s,
                 credit_bonus_cents=tier.credit_bonus_cents, rule=tier.rule)
    return tier


def sla_extra_for(segments: tuple[SegmentConfig, ...], key: str | None) -> int:
    """The SLA a backorder's tier (decided at its offer) adds to a renewed notice's deadline."""
    return next((s.sla_extra_s for s in segments if s.key == key), 0) if key else 0
