"""A substitute the customer chose, ordered for them on the store their order came from.

Choosing a substitute records one ``substitute_orders`` row (``request``) in the transaction that
moves the backorder to ``substituted``; every later step is written on that row, so a sweeper
(``stranded``) finds work a lost message or a killed worker left behind:

    awaiting_staff → pending → placed → settled        (failed: staff order it by hand)

**The price difference** (substitute total − what the customer paid for the backordered line)
is settled by the store's ``[policy] substitute_price_difference``:

* cheaper: the difference is always refunded on the original order line (never kept);
* dearer, ``auto`` (default): the store absorbs it up to ``substitute_absorb_up_to`` (25.00), and
  the customer is charged above that; ``absorb``: always absorbed; ``charge``: always charged
  (the platform order is left with the difference as payment pending);
* ``staff``: nothing is placed until staff approve (``backorders substitute approve``); the
  settlement is then decided as ``auto`` would.

What the customer already paid is carried over to the new order as a discount, so the platform
order asks for ``due_cents`` at most. Whenever staff must act (policy ``staff``, the substitute
not listed on that store, the platform refusing the order), staff hear it as its own event,
``backorder.substitute_requested``, routed like every other alert.

The platform order is placed at most once: the row's ``idempotency_key`` travels in the platform
record, a claim takes a lease on the row before the request leaves, and a retry looks the order
up by the key before placing it (``connectors.types.SubstituteOrderRequest``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectors.types import ListingRef, RefundRequest, SubstituteOrderRequest, SubstituteOrderResult
from domain.core import audit
from domain.core.business_config import PolicyConfig, RouteConfig
from domain.core.clock import utcnow
from domain.core.models import Backorder, ChannelListing, Order, OrderLine, Sku, Store, SubstituteOrder
from domain.core.stages import FollowUp, Stage
from domain.messaging import alerts

PLACE, DELIVER = Stage.PLACE_SUBSTITUTE, Stage.DELIVER
EVENT = "backorder.substitute_requested"
LEASE = timedelta(minutes=10)
"""Longer than one placement takes (three platform calls with their in-call retries)."""
SEARCH_SLACK = timedelta(minutes=1)
"""A retry looks for the platform order from this long before the row was created (clock skew)."""


@dataclass(frozen=True)
class Settlement:
    """How the price difference is settled, with the figures and the rule that decided it."""

    settlement: str  # refund | absorb | charge | none
    difference_cents: int
    due_cents: int
    refund_cents: int
    needs_staff: bool
    rule: dict[str, Any]


def settle(policy: PolicyConfig, paid_cents: int, substitute_total_cents: int) -> Settlement:
    """The policy applied to one substitute (see the module docstring)."""
    difference = substitute_total_cents - paid_cents
    mode = policy.substitute_price_difference
    decided = "auto" if mode == "staff" else mode
    if difference < 0:
        settlement, due, refund = "refund", 0, -difference
    elif difference == 0:
        settlement, due, refund = "none", 0, 0
    elif decided == "absorb" or (decided == "auto" and difference <= policy.substitute_absorb_up_to_cents):
        settlement, due, refund = "absorb", 0, 0
    else:
        settlement, due, refund = "charge", difference, 0
    rule = {"policy": mode, "absorb_up_to_cents": policy.substitute_absorb_up_to_cents,
            "paid_cents": paid_cents,
            "substitute_total_cents": substitute_total_cents, "difference_cents": difference,
            "why": _why(settlement, mode, difference, policy.substitute_absorb_up_to_cents)}
    return Settlement(settlement, difference, due, refund, mode == "staff", rule)


def _why(settlement: str, mode: str, difference: int, limit: int) -> str:
    if settlement == "refund":
        return "the substitute is cheaper: the difference is refunded"
    if settlement == "none":
        return "same price: nothing to settle"
    if settlement == "absorb":
        return ("policy absorbs every difference" if mode == "absorb"
                else f"a difference of {difference} cents is within the {limit}-cent absorb limit")
    return ("policy charges every difference" if mode == "charge"
            else f"a difference of {difference} cents is above the {limit}-cent absorb limit: charged")


def figures(session: Session, backorder: Backorder, substitute: Sku, policy: PolicyConfig) -> Settlement:
    """The settlement a substitute would get, for the page shown before the customer confirms."""
    line = session.get(OrderLine, backorder.order_line_id)
    assert line is not None
    return settle(policy, line.price_cents * backorder.quantity, substitute.price_cents * backorder.quantity)


def request(session: Session, backorder: Backorder, substitute: Sku, policy: PolicyConfig,
            routes: tuple[RouteConfig, ...] | list[RouteConfig], now: datetime
            ) -> tuple[SubstituteOrder, list[FollowUp]]:
    """Record the substitute to order (the caller holds the backorder's lock and moves it)."""
    line = session.get(OrderLine, backorder.order_line_id)
    assert line is not None
    order = session.get(Order, line.order_id)
    assert order is not None
    decided = settle(policy, line.price_cents * backorder.quantity,
                     substitute.price_cents * backorder.quantity)
    listed = session.scalar(select(ChannelListing.id).where(
        ChannelListing.store_id == order.store_id, ChannelListing.sku_id == substitute.id)) is not None
    row = SubstituteOrder(
        backorder_id=backorder.id, store_id=order.store_id, sku_id=substitute.id, quantity=backorder.quantity,
        currency=order.currency, substitute_total_cents=substitute.price_cents * backorder.quantity,
        paid_cents=line.price_cents * backorder.quantity, difference_cents=decided.difference_cents,
        settlement=decided.settlement, due_cents=decided.due_cents, rule=decided.rule,
        idempotency_key=f"substitute-{backorder.id}",
        state="awaiting_staff" if decided.needs_staff or not listed else "pending",
        last_error=None if listed else f"{substitute.code} is not listed on the order's store",
        created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    audit.record(session, "journey", "substitute.requested", "backorder", backorder.id,
                 substitute=substitute.code, settlement=decided.settlement, due_cents=decided.due_cents,
                 refund_cents=decided.refund_cents, rule=decided.rule, state=row.state)
    if row.state == "pending":
        return row, [FollowUp(PLACE, (row.id,))]
    reason = ("the store's policy has staff approve every substitute: approve with "
              f"`backorders substitute approve {backorder.id}`" if listed
              else f"{substitute.code} is not listed on the store the order came from: order it by hand")
    return row, staff_alert(session, row, reason, routes)


def staff_alert(session: Session, row: SubstituteOrder, reason: str,
                routes: tuple[RouteConfig, ...] | list[RouteConfig]) -> list[FollowUp]:
    """``backorder.substitute_requested``: staff must act on this substitute (once per row and cause)."""
    backorder = session.get(Backorder, row.backorder_id)
    assert backorder is not None
    line = session.get(OrderLine, backorder.order_line_id)
    order = session.get(Order, line.order_id) if line else None
    original = session.get(Sku, backorder.sku_id)
    substitute = session.get(Sku, row.sku_id)
    assert order is not None and original is not None and substitute is not None
    detail = (f"Order {order.number}: the customer chose {substitute.code} ({row.quantity} × "
              f"{_money(substitute.price_cents)}) instead of {original.code}; paid {_money(row.paid_cents)}, "
              f"difference {_money(row.difference_cents)}, settlement {row.settlement}"
              f"{f' ({_money(row.due_cents)} due)' if row.due_cents else ''}. {reason}")
    context = {"event": EVENT, "sku": substitute.code, "title": substitute.title, "from_state": original.code,
               "to_state": substitute.code, "available": 0, "threshold": 0, "open_demand": row.quantity,
               "locations": [], "channels": [], "detail": detail[:2000], "order_number": order.number,
               "backorder_id": backorder.id, "difference_cents": row.difference_cents,
               "settlement": row.settlement, "due_cents": row.due_cents}
    ids = alerts.raise_alert(session, event=EVENT, dedupe_key=f"substitute:{row.id}:{row.state}",
                             message=detail[:2000], context=context, routes=routes, sku_id=substitute.id,
                             store_id=row.store_id)
    return [FollowUp(DELIVER, (i,)) for i in ids]


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def approve(session: Session, backorder_id: int, now: datetime | None = None) -> list[FollowUp]:
    """Staff approve a substitute waiting for them: it is placed as the policy's ``auto`` decides."""
    row = session.scalar(select(SubstituteOrder).where(SubstituteOrder.backorder_id == backorder_id)
                         .with_for_update())
    if row is None:
        raise LookupError(f"backorder {backorder_id} has no substitute")
    if row.state != "awaiting_staff":
        return []
    row.state, row.updated_at, row.last_error = "pending", now or utcnow(), None
    audit.record(session, "staff", "substitute.approved", "backorder", backorder_id)
    return [FollowUp(PLACE, (row.id,))]


@dataclass(frozen=True)
class Claim:
    """One placement step to run outside any transaction: what to ask the platform for."""

    row_id: int
    store_id: int
    state: str
    order: SubstituteOrderRequest
    refund: RefundRequest | None


def claim(session: Session, row_id: int, now: datetime) -> Claim | None:
    """Lease an unfinished row for one attempt (None: finished, or another worker holds it)."""
    row = session.scalar(select(SubstituteOrder).where(SubstituteOrder.id == row_id)
                         .with_for_update(skip_locked=True))
    if row is None or row.state not in ("pending", "placed") or (row.lease_until and row.lease_until > now):
        return None
    row.attempts += 1
    row.lease_until = now + LEASE
    backorder = session.get(Backorder, row.backorder_id)
    assert backorder is not None
    line = session.get(OrderLine, backorder.order_line_id)
    assert line is not None
    order = session.get(Order, line.order_id)
    substitute = session.get(Sku, row.sku_id)
    listing = session.scalar(select(ChannelListing).where(ChannelListing.store_id == row.store_id,
                                                          ChannelListing.sku_id == row.sku_id))
    assert order is not None and substitute is not None
    ref = ListingRef(sku=substitute.code, external_id=listing.external_id if listing else "",
                     inventory_item_id=listing.inventory_item_id if listing else None,
                     parent_external_id=listing.parent_external_id if listing else None)
    placing = SubstituteOrderRequest(
        idempotency_key=row.idempotency_key, original_order_external_id=order.external_id,
        original_order_number=order.number, listing=ref, title=substitute.title, quantity=row.quantity,
        unit_price_cents=substitute.price_cents, paid_cents=row.paid_cents, due_cents=row.due_cents,
        currency=row.currency, customer_email=order.email, customer_name=order.customer_name,
        customer_phone=order.phone,
        note=f"Substitute for the backordered {line.title or _code(session, backorder.sku_id)} on order "
             f"{order.number}",
        search_since=row.created_at - SEARCH_SLACK if row.attempts > 1 else None,
        draft_external_id=row.draft_external_id)
    refund = None
    if row.settlement == "refund" and row.refund_ref is None:
        refund = RefundRequest(
            order_external_id=order.external_id, line_external_id=line.external_id, quantity=row.quantity,
            amount_cents=-row.difference_cents, currency=order.currency,
            reason=f"Backordered item replaced by the cheaper {substitute.code}: difference refunded",
            idempotency_key=f"{row.idempotency_key}:difference", customer_email=order.email)
    return Claim(row.id, row.store_id, row.state, placing, refund)


def record_placed(session: Session, row_id: int, result: SubstituteOrderResult, now: datetime) -> None:
    row = session.get(SubstituteOrder, row_id, with_for_update=True)
    assert row is not None
    row.external_id, row.external_number = result.external_id, result.number[:64]
    row.draft_external_id = result.draft_external_id
    row.state, row.updated_at, row.last_error = "placed", now, None
    audit.record(session, "followups", "substitute.placed", "backorder", row.backorder_id,
                 external_id=result.external_id, number=result.number, due_cents=result.due_cents,
                 expected_due_cents=row.due_cents, payment_pending=result.payment_pending,
                 status_code=result.status_code, detail=result.detail)


def record_settled(session: Session, row_id: int, now: datetime, refund_ref: str | None = None,
                   refunded_cents: int | None = None) -> None:
    row = session.get(SubstituteOrder, row_id, with_for_update=True)
    assert row is not None
    row.refund_ref = refund_ref or row.refund_ref
    row.state, row.updated_at, row.lease_until = "settled", now, None
    audit.record(session, "followups", "substitute.settled", "backorder", row.backorder_id,
                 settlement=row.settlement, difference_cents=row.difference_cents, due_cents=row.due_cents,
                 refund_ref=refund_ref, refunded_cents=refunded_cents)


def record_failure(session: Session, row_id: int, error: str, now: datetime, *, permanent: bool,
                   routes: tuple[RouteConfig, ...] | list[RouteConfig]) -> list[FollowUp]:
    """A transient failure releases the lease for the retry; a permanent one is staff's to finish."""
    row = session.get(SubstituteOrder, row_id, with_for_update=True)
    assert row is not None
    row.last_error, row.lease_until, row.updated_at = error[:2000], None, now
    if not permanent:
        return []
    step = "placing the order" if row.state == "pending" else "refunding the difference"
    row.state = "failed"
    audit.record(session, "followups", "substitute.failed", "backorder", row.backorder_id, error=error[:500])
    return staff_alert(session, row, f"The platform refused {step}: {error[:500]}. Finish it by hand.",
                       routes)


def stranded(session: Session, now: datetime, older_than: timedelta, limit: int = 200) -> list[int]:
    """Unfinished rows nobody is working on: their placement message was lost or its worker died."""
    return list(session.scalars(
        select(SubstituteOrder.id).where(
            SubstituteOrder.state.in_(("pending", "placed")), SubstituteOrder.updated_at < now - older_than,
            or_(SubstituteOrder.lease_until.is_(None), SubstituteOrder.lease_until < now))
        .order_by(SubstituteOrder.id).limit(limit)))


def _code(session: Session, sku_id: int) -> str:
    sku = session.get(Sku, sku_id)
    return sku.code if sku else str(sku_id)


def store_of(session: Session, store_id: int) -> Store:
    store = session.get(Store, store_id)
    assert store is not None
    return store
