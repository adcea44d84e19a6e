"""What the store knows about a ticket's customer: the orders it is about, their open cases, the
customer's lifetime value and tier, the money at stake and how late we are. Read-only.

Orders are matched two ways: by number when the text names one (``#1001``, ``order 1001``; a
number of one or two digits only among the writer's own orders), and by the customer's email (their orders of the last ``EMAIL_WINDOW``). The orders *in question* are
those named in the text, else the customer's newest order; money at stake is their total and
lateness the most days any of them is past its date (a backorder past its promised date or ETA,
a parcel the stuck rule flagged, counted from its last scan).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import Backorder, Case, Order, OrderLine, Shipment
from domain.core.support_config import STANDARD_TIER, SupportConfig

EMAIL_WINDOW = timedelta(days=365)
EMAIL_ORDERS_LINKED = 10
#: ``#1001``, ``order 1001``, ``order number: 1001``, ``order no. W-1001``; a bare number (a zip code, a
#: phone number) is not taken for an order.
ORDER_NUMBER = re.compile(r"(?:#|\border\s*(?:number|no\.?|num\.?)?\s*:?\s*#?)\s*([A-Za-z]{0,4}-?\d{3,12})\b",
                          re.IGNORECASE)
#: ``#42``, ``order 7``: a number this short is taken only when it is one of the writer's own orders
#: (a young store's numbers are short, and "item #2" from a stranger names nothing).
SHORT_ORDER_NUMBER = re.compile(r"(?:#|\border\s*(?:number|no\.?|num\.?)?\s*:?\s*#?)\s*(\d{1,2})\b", re.IGNORECASE)
WAITING_BACKORDERS = ("open", "notified", "accepted_wait")


@dataclass(frozen=True)
class CustomerFacts:
    email: str | None
    #: (order id, how it was matched: ``order_number`` or ``email``), newest first.
    orders: tuple[tuple[int, str], ...] = ()
    case_ids: tuple[int, ...] = ()
    in_question: tuple[str, ...] = ()
    clv_cents: int = 0
    orders_count: int = 0
    clv_tier: str = STANDARD_TIER
    money_at_stake_cents: int = 0
    days_late: int = 0
    late_because: str = ""
    figures: dict[str, object] = field(default_factory=dict)


def order_numbers(text: str) -> list[str]:
    """Candidate order numbers in the text, as typed (without a leading ``#``)."""
    found = []
    for match in ORDER_NUMBER.finditer(text):
        value = match.group(1).strip()
        if value and value not in found:
            found.append(value)
    return found


def tier_of(config: SupportConfig, clv_cents: int) -> str:
    return next((name for name, floor in config.clv_tiers if clv_cents >= floor), STANDARD_TIER)


def _by_number(session: Session, numbers: list[str]) -> list[Order]:
    if not numbers:
        return []
    candidates = {n for number in numbers for n in (number, f"#{number}")}
    return list(session.scalars(select(Order).where(Order.number.in_(candidates)).order_by(Order.placed_at.desc())))


def _lateness(session: Session, order_ids: list[int], today: date, now: datetime) -> tuple[int, str]:
    worst, why = 0, ""
    rows = session.execute(select(Backorder.id, Backorder.promised_date, Backorder.eta)
                           .join(OrderLine, OrderLine.id == Backorder.order_line_id)
                           .where(OrderLine.order_id.in_(order_ids), Backorder.state.in_(WAITING_BACKORDERS))).all()
    for backorder_id, promised, eta in rows:
        due = promised or eta
        if due is not None and (today - due).days > worst:
            worst, why = (today - due).days, f"backorder {backorder_id} {'promised' if promised else 'due'} {due}"
    for shipment in session.scalars(select(Shipment).where(Shipment.order_id.in_(order_ids),
                                                           Shipment.stuck_at.is_not(None),
                                                           Shipment.delivered_at.is_(None))):
        since = shipment.last_scan_at or shipment.label_created_at or shipment.created_at
        days = (now - since).days
        if days > worst:
            worst, why = days, f"parcel {shipment.tracking_number or shipment.id} without a scan since {since:%Y-%m-%d}"
    return worst, why


def gather(session: Session, config: SupportConfig, email: str | None, text: str, now: datetime) -> CustomerFacts:
    email = email.strip().lower() if email and email.strip() else None
    named = _by_number(session, order_numbers(text))
    if email is None and named and named[0].email:
        email = named[0].email.strip().lower()
    by_email: list[Order] = []
    clv, count = 0, 0
    if email:
        by_email = list(session.scalars(select(Order).where(
            func.lower(Order.email) == email, Order.placed_at >= now - EMAIL_WINDOW)
            .order_by(Order.placed_at.desc(), Order.id.desc()).limit(EMAIL_ORDERS_LINKED)))
        count, clv = session.execute(select(func.count(), func.coalesce(func.sum(Order.total_cents), 0)).where(
            func.lower(Order.email) == email, Order.status != "cancelled")).one()
    shorts = {m.group(1) for m in SHORT_ORDER_NUMBER.finditer(text)}
    named += [o for o in by_email if o.number.lstrip("#") in shorts and o not in named]
    linked: dict[int, str] = {o.id: "order_number" for o in named}
    for order in by_email:
        linked.setdefault(order.id, "email")
    in_question = named or by_email[:1]
    ids = [o.id for o in in_question]
    days_late, why = _lateness(session, ids, now.date(), now) if ids else (0, "")
    cases = list(session.scalars(select(Case.id).where(Case.order_id.in_(list(linked)), Case.state != "resolved")
                                 .order_by(Case.id))) if linked else []
    stake = sum(o.total_cents for o in in_question)
    return CustomerFacts(
        email=email, orders=tuple(linked.items()), case_ids=tuple(cases), in_question=tuple(o.number for o in in_question),
        clv_cents=int(clv), orders_count=int(count), clv_tier=tier_of(config, int(clv)), money_at_stake_cents=stake,
        days_late=days_late, late_because=why,
        figures={"orders_named": [o.number for o in named], "orders_by_email": [o.number for o in by_email],
                 "in_question": [o.number for o in in_question], "money_at_stake_cents": stake,
                 "lifetime_value_cents": int(clv), "lifetime_orders": int(count), "days_late": days_late,
                 "late_because": why})
