"""The customer's earlier undisputed orders, as evidence that the cardholder bought before.

For a Visa 10.4 dispute the test is Compelling Evidence 3.0 (https://docs.stripe.com/disputes/api/visa-ce3):
at least two prior undisputed orders placed 120–365 days before the dispute, each sharing at least
two of {IP address, device id, user id, shipping address} with the disputed order, one of the two
being the IP address or the device id. Orders on another card are left out when both orders carry a
``card_fingerprint``. For other fraud disputes one earlier undisputed order of the same customer
within a year is shown, with whatever it shares.

The customer is found by email (case-insensitive) or by the checkout's ``user_id``; the elements
come from ``orders.payment_facts``, else the store's own order (IP, shipping address, card). An order with a dispute of its own is not "undisputed".
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import String, cast, exists, func, or_, select

from domain.chargebacks.order_sources import address_text, checkout_facts, money
from domain.chargebacks.sources import Fact, Found, Gap, Scope, source
from domain.core.models import Dispute, Order

CE3_MIN_AGE = timedelta(days=120)
CE3_MAX_AGE = timedelta(days=365)
CE3_NEEDED = 2
ELEMENTS = {"ip": "IP address", "device_id": "device", "user_id": "user id", "shipping_address": "shipping address"}
#: One of the two shared elements must be one of these.
MAIN = ("ip", "device_id")


def _value(facts: dict[str, Any], element: str) -> str:
    raw = address_text(facts.get(element)) if element == "shipping_address" else str(facts.get(element) or "")
    return re.sub(r"\s+", " ", raw).strip().lower()


def shared(disputed: dict[str, Any], prior: dict[str, Any]) -> list[str]:
    """The CE 3.0 elements both orders carry with the same value."""
    return [e for e in ELEMENTS if _value(disputed, e) and _value(disputed, e) == _value(prior, e)]


def qualifies(elements: list[str]) -> bool:
    return len(elements) >= 2 and any(e in MAIN for e in elements)


def other_card(disputed: dict[str, Any], prior: dict[str, Any]) -> bool:
    mine, theirs = disputed.get("card_fingerprint"), prior.get("card_fingerprint")
    return bool(mine and theirs and mine != theirs)


def _candidates(scope: Scope, order: Order) -> list[Order]:
    user_id = str((order.payment_facts or {}).get("user_id") or "")
    same_customer = []
    if order.email:
        same_customer.append(func.lower(Order.email) == order.email.lower())
    if user_id:
        same_customer.append(cast(Order.payment_facts["user_id"].astext, String) == user_id)
    if not same_customer:
        return []
    disputed = exists().where(Dispute.order_id == Order.id)
    return list(scope.session.scalars(select(Order).where(
        Order.id != order.id, or_(*same_customer), Order.placed_at < order.placed_at, ~disputed,
        Order.status != "cancelled").order_by(Order.placed_at.desc())))


def _row(prior: Order, elements: list[str], age_days: int, counts: bool) -> dict[str, Any]:
    return {"order": prior.number, "placed": prior.placed_at.strftime("%Y-%m-%d"), "age_days": age_days,
            "total": money(prior.total_cents, prior.currency), "shares": [ELEMENTS[e] for e in elements],
            "qualifies": counts}


@source("prior_orders", priority=60)
def prior_orders(scope: Scope) -> Found:
    order = scope.order
    if order is None:
        return {"prior_undisputed_orders": Gap("no order carries this payment reference", "prior_orders")}
    reference = scope.dispute.created_at or scope.now
    mine = checkout_facts(order)
    rows = []
    for prior in _candidates(scope, order):
        theirs = checkout_facts(prior)
        if other_card(mine, theirs):
            continue
        age = reference - prior.placed_at
        elements = shared(mine, theirs)
        if scope.compelling_evidence_3:
            if CE3_MIN_AGE <= age <= CE3_MAX_AGE:
                rows.append(_row(prior, elements, age.days, qualifies(elements)))
        elif age <= CE3_MAX_AGE:
            rows.append(_row(prior, elements, age.days, True))
    counted = [r for r in rows if r["qualifies"]]
    needed = CE3_NEEDED if scope.compelling_evidence_3 else 1
    if len(counted) < needed:
        test = ("placed 120-365 days before the dispute and sharing the IP or device plus one more of IP, device, "
                f"user id, shipping address; Visa CE 3.0 needs {CE3_NEEDED}" if scope.compelling_evidence_3
                else "placed within a year before this one")
        seen = "; ".join(f"#{r['order'].lstrip('#')} shares {', '.join(r['shares']) or 'nothing'}" for r in rows)
        return {"prior_undisputed_orders": Gap(f"{len(counted)} prior undisputed order(s) {test}"
                                               + (f" ({seen})" if seen else ""), "prior_orders")}
    lines = [f"order {r['order']} placed {r['placed']} ({r['age_days']} days before the dispute, {r['total']})"
             + (f" sharing {', '.join(r['shares'])}" if r["shares"] else "") for r in counted]
    head = (f"{len(counted)} prior undisputed orders meet Visa Compelling Evidence 3.0" if scope.compelling_evidence_3
            else f"{len(counted)} prior undisputed order(s) by the same customer")
    return {"prior_undisputed_orders": Fact(f"{head}: " + "; ".join(lines) + ".", "prior_orders", tuple(counted))}
