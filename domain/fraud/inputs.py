"""The facts the fraud signals read about one order, from the orders table.

The order's own columns (what the platform said about the payment: ``domain.stock.orders``) and
counts over the customer's orders on every store: earlier orders (as the segment check counts
them, ``domain.journey.segments.history``), orders from the same e-mail or IP address within the
velocity window, and distinct cards and shipping addresses of the e-mail within the identity
window. Windows end at the order's own ``placed_at``, not at "now", so scoring an order again
later sees the same neighbours, and an order placed after it never counts against it.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.fraud_config import FraudConfig
from domain.core.models import Order
from domain.fraud.signals import Facts
from domain.journey import segments

#: Order numbers shown beside a count (the reviewer can look them up).
EXAMPLES = 5


def address_key(address: Mapping[str, Any] | None) -> str | None:
    """One shipping address however it was typed: street line, postcode and country, case and
    spaces ignored. None for an address without a street line."""
    if not address:
        return None
    street = address.get("address1") or address.get("address_1") or ""
    if not street:
        return None
    parts = (street, address.get("zip") or address.get("postcode") or "",
             address.get("country_code") or address.get("country") or "")
    return "|".join(" ".join(str(p).casefold().split()) for p in parts)


def _window(order: Order, seconds: int) -> tuple[Any, ...]:
    return (Order.placed_at > order.placed_at - timedelta(seconds=seconds), Order.placed_at <= order.placed_at)


def gather(session: Session, order: Order, config: FraudConfig) -> Facts:
    email = order.email.strip().lower() if order.email and order.email.strip() else None
    examples: dict[str, list[str]] = {}
    prior = email_orders = ip_orders = cards = addresses = None
    if email:
        prior = segments.history(session, order)[0]
        same_email = func.lower(Order.email) == email
        numbers = list(session.scalars(select(Order.number).where(same_email, *_window(order, config.velocity_window_s))
                                       .order_by(Order.placed_at.desc(), Order.id.desc())))
        email_orders, examples["email"] = len(numbers), numbers[:EXAMPLES]
        rows = session.execute(select(Order.number, Order.card_fingerprint, Order.shipping_address)
                               .where(same_email, *_window(order, config.identity_window_s))
                               .order_by(Order.placed_at.desc(), Order.id.desc())).all()
        seen_cards: dict[str, str] = {}
        seen_addresses: dict[str, str] = {}
        for number, card, shipping in rows:
            if card:
                seen_cards.setdefault(card, number)
            key = address_key(shipping)
            if key:
                seen_addresses.setdefault(key, number)
        cards, addresses = len(seen_cards), len(seen_addresses)
        examples["cards"] = list(seen_cards.values())[:EXAMPLES]
        examples["addresses"] = list(seen_addresses.values())[:EXAMPLES]
    if order.customer_ip:
        numbers = list(session.scalars(select(Order.number).where(Order.customer_ip == order.customer_ip,
                                                                  *_window(order, config.velocity_window_s))
                                       .order_by(Order.placed_at.desc(), Order.id.desc())))
        ip_orders, examples["ip"] = len(numbers), numbers[:EXAMPLES]
    return Facts(order_number=order.number, total_cents=order.total_cents, currency=order.currency, email=email,
                 customer_ip=order.customer_ip, avs_result=order.avs_result, cvv_result=order.cvv_result,
                 card=order.card_fingerprint, billing_country=order.billing_country,
                 shipping_country=order.shipping_country, shipping_address=order.shipping_address,
                 prior_orders=prior, email_orders=email_orders, ip_orders=ip_orders, cards=cards,
                 addresses=addresses, examples=examples)
