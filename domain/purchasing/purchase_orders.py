"""Purchasing: from stock that crossed its reorder point to a vendor's purchase order, and back.

    detection ─► needs_for(skus) ─► plan(vendor) ─► one draft PO per vendor window
    beat ─► close_due_windows ─► approved (≤ auto-approve value) | awaiting_approval + staff alert
    vendor ack / changed date / ASN ─► update_dates ─► line ETAs ─► customers re-dated
    goods in ─► receive ─► stock at the receiving location ─► detection and FIFO fill

A SKU is a need when on hand + on order − promised falls under its reorder point, and its line
brings it back to that point (``domain.purchasing.reorder``): goods arriving for a line do not draft the
next order on arrival. Planning never opens a second line for a SKU that already has one on an
open purchase order of its vendor: the shortage is being handled, and a new requisition every
day for the same shortage is the classic complaint about reorder tools. A draft collects every
need of one vendor for ``po_window`` (ten SKUs crossing within minutes become one PO with ten
lines) and only grows a line when the suggestion for it grew. Every line stores the
``Suggestion`` that sized it.

Purchase-order events (``purchase_order_events``) are the vendor's record: the scorecard is
computed from them. Functions here return follow-ups (task name, args) for the task layer.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import domain.core.env_settings as runtime_settings
from domain.core import audit, effects
from domain.core.business_config import PolicyConfig, RouteConfig
from domain.core.db import any_int, state_is
from domain.core.stages import FollowUp, Stage
from domain.journey import customer_journey
from domain.journey.backorders import WAITING_STATES
from domain.messaging import alerts
from domain.purchasing import demand
from domain.core.models import (
    Location,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    Sku,
    Store,
    StoreLocation,
    Vendor,
)
from domain.purchasing.reorder import Suggestion, explain, order_quantity, reorder_point

DELIVER = Stage.DELIVER
OPEN_PO_STATES = customer_journey.OPEN_PO_STATES
RECEIVABLE_STATES = ("approved", "sent", "acknowledged", "partially_received")
DATE_SOURCES = ("acknowledged", "dates_changed", "asn")
RATE_PLACES = Decimal("0.001")


class PurchasingError(ValueError):
    """A request that does not fit the purchase order's state; the message says what to do."""


# --------------------------------------------------------------------------------------------
# Needs
# --------------------------------------------------------------------------------------------

#: Each location's latest figure, whichever store reported it (ties on the source's time go to
#: the lowest store id, so the answer never depends on which webhook arrived first), split into
#: what is held (never below 0) and the units a platform reports sold beyond it (a negative figure).
ON_HAND_SQL = text("""
SELECT sku_id, COALESCE(SUM(GREATEST(on_hand, 0)), 0)::int AS on_hand,
       COALESCE(SUM(GREATEST(-on_hand, 0)), 0)::int AS shortfall FROM (
    SELECT DISTINCT ON (sku_id, location_id) sku_id, on_hand FROM stock_levels WHERE sku_id = ANY(:sku_ids)
     ORDER BY sku_id, location_id, COALESCE(source_updated_at, updated_at) DESC, store_id) latest
 GROUP BY sku_id
""")
ON_ORDER_SQL = text("""
SELECT l.sku_id, SUM(l.quantity - l.received_qty)::int AS on_order
  FROM purchase_order_lines l JOIN purchase_orders p ON p.id = l.purchase_order_id
 WHERE l.sku_id = ANY(:sku_ids) AND p.state = ANY(:states) AND l.quantity > l.received_qty
 GROUP BY l.sku_id
""")
BACKORDERED_SQL = text("""
SELECT sku_id, SUM(quantity)::int AS quantity FROM backorders
 WHERE sku_id = ANY(:sku_ids) AND state = ANY(:states) GROUP BY sku_id
""")


@dataclass(frozen=True)
class Need:
    """A SKU under its reorder point, with the numbers planning sizes the order from.

    ``on_hand`` is never below 0: a platform reporting a negative figure has sold units it does
    not hold, and those are ``reported_shortfall``, demand already promised (``promised``)."""

    sku_id: int
    sku_code: str
    vendor_id: int
    on_hand: int
    on_order: int
    open_backorders: int
    velocity: Decimal
    reorder_point: int
    lead_time_days: int
    safety_stock: int
    reorder_qty: int
    case_pack: int
    min_order_units: int
    unit_cost_cents: int
    reported_shortfall: int = 0
    pace: demand.Pace = demand.NO_DEMAND
    #: The SKU's configured reorder point or threshold, whichever is higher (``reorder_point`` is
    #: this or what the velocity calls for, if more).
    configured_reorder_point: int = 0

    @property
    def promised(self) -> int:
        """Units customers already bought that we do not hold: the open backorders, or what a
        platform reports sold beyond its stock when that is more (usually the same customers)."""
        return max(self.open_backorders, self.reported_shortfall)

    @property
    def position(self) -> int:
        """What we will have once everything ordered arrives and every promised unit is served
        (0 at worst: a deficit is part of ``promised``, which the need covers)."""
        return max(0, self.on_hand + self.on_order - self.promised)

    @property
    def short(self) -> bool:
        """Under the reorder point, or customers promised more than we hold and ordered: a need."""
        return self.on_hand + self.on_order - self.promised < self.reorder_point

    def suggestion(self, on_order: int | None = None, min_order_cents: int = 0) -> Suggestion:
        return order_quantity(
            reorder_qty=self.reorder_qty, velocity=self.velocity, lead_time_days=self.lead_time_days,
            open_backorders=self.open_backorders, safety_stock=self.safety_stock, on_hand=self.on_hand,
            on_order=self.on_order if on_order is None else on_order, case_pack=self.case_pack,
            min_order_units=self.min_order_units, unit_cost_cents=self.unit_cost_cents,
            min_order_cents=min_order_cents, reported_shortfall=self.reported_shortfall,
            reorder_point=self.configured_reorder_point, demand=self.pace.as_reason())


def _per_sku(session: Session, statement: Any, params: dict[str, Any]) -> dict[int, int]:
    return {int(row[0]): int(row[1]) for row in session.execute(statement, params)}


def needs_for(session: Session, sku_ids: Sequence[int], now: datetime) -> list[Need]:
    """The SKUs (with a vendor) whose on hand + on order − promised is under their reorder point:
    the configured one (or the threshold), or the one their recent sales call for if higher.
    Velocity comes from ``demand.paces`` (order lines, else the record stores' on-hand)."""
    ids = sorted(set(sku_ids))
    if not ids:
        return []
    rows = session.execute(select(Sku, Vendor).join(Vendor, Vendor.id == Sku.vendor_id)
                           .where(Sku.id == any_int("sku_ids", ids)).order_by(Sku.id)).all()
    params = {"sku_ids": ids}
    held = {int(row.sku_id): (int(row.on_hand), int(row.shortfall)) for row in session.execute(ON_HAND_SQL, params)}
    on_order = _per_sku(session, ON_ORDER_SQL, {**params, "states": list(OPEN_PO_STATES)})
    backordered = _per_sku(session, BACKORDERED_SQL, {**params, "states": list(WAITING_STATES)})
    paces = demand.paces(session, ids, now)
    needs: list[Need] = []
    for sku, vendor in rows:
        on_hand, shortfall = held.get(sku.id, (0, 0))
        pace = paces.get(sku.id, demand.NO_DEMAND)
        point = max(sku.reorder_point,
                    reorder_point(pace.velocity, vendor.lead_time_days, sku.safety_stock, sku.threshold))
        need = Need(sku_id=sku.id, sku_code=sku.code, vendor_id=vendor.id, on_hand=on_hand,
                    on_order=on_order.get(sku.id, 0), open_backorders=backordered.get(sku.id, 0),
                    velocity=pace.velocity, reorder_point=point, lead_time_days=vendor.lead_time_days,
                    safety_stock=sku.safety_stock, reorder_qty=sku.reorder_qty,
                    case_pack=sku.case_pack or vendor.case_pack, min_order_units=vendor.min_order_units,
                    unit_cost_cents=sku.cost_cents, reported_shortfall=shortfall, pace=pace,
                    configured_reorder_point=max(sku.reorder_point, sku.threshold))
        if need.short:
            needs.append(need)
    return needs


# --------------------------------------------------------------------------------------------
# Planning and the window
# --------------------------------------------------------------------------------------------

@dataclass
class PlanResult:
    """What one planning pass did to the vendor's draft."""

    purchase_order_id: int | None = None
    created: bool = False
    added_sku_ids: list[int] = field(default_factory=list)
    raised_sku_ids: list[int] = field(default_factory=list)
    #: SKUs left alone because an open PO (past its draft window) already has a line for them.
    already_ordered_sku_ids: list[int] = field(default_factory=list)


def _event(session: Session, po: PurchaseOrder, kind: str, now: datetime, **data: Any) -> None:
    session.add(PurchaseOrderEvent(purchase_order_id=po.id, kind=kind, data=data, at=now))


def open_po_lines(session: Session, vendor_id: int) -> dict[int, tuple[PurchaseOrderLine, PurchaseOrder]]:
    """The vendor's lines still awaiting goods, by SKU (at most one each, by the rule below)."""
    rows = session.execute(
        select(PurchaseOrderLine, PurchaseOrder)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrder.vendor_id == vendor_id, PurchaseOrder.state.in_(OPEN_PO_STATES),
               PurchaseOrderLine.quantity > PurchaseOrderLine.received_qty)
        .order_by(PurchaseOrder.id)).all()
    return {line.sku_id: (line, po) for line, po in rows}


def po_number(po_id: int, now: datetime) -> str:
    return f"PO-{now:%Y%m%d}-{po_id}"


def window_closes_at(now: datetime, window_s: int, cutoff: time | None, timezone: str) -> datetime:
    """When a draft opened ``now`` stops taking lines: at the vendor's next daily cut-off (local
    time in the business's timezone) when it has one, else ``window_s`` later.

    A cut-off is the vendor's promise ("ordered by 14:00, shipped today"), so a need noticed at
    13:59 goes out at 14:00 and one noticed at 14:01 waits for tomorrow's, with everything else
    noticed meanwhile."""
    if cutoff is None:
        return now + timedelta(seconds=window_s)
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), cutoff, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), cutoff, tzinfo=zone)
    return candidate.astimezone(now.tzinfo or ZoneInfo("UTC"))


def _new_draft(session: Session, vendor: Vendor, policy: PolicyConfig, now: datetime, timezone: str) -> PurchaseOrder:
    """The id comes first so the number can carry it; the vendor row lock makes this the only draft."""
    po_id = int(session.execute(text("SELECT nextval(pg_get_serial_sequence('purchase_orders', 'id'))")).scalar_one())
    po = PurchaseOrder(id=po_id, number=po_number(po_id, now), vendor_id=vendor.id, state="draft",
                       window_closes_at=window_closes_at(now, policy.po_window_s, vendor.order_cutoff, timezone),
                       expected_at=now.date() + timedelta(days=vendor.lead_time_days), created_at=now)
    session.add(po)
    session.flush()
    return po


def _draft(session: Session, vendor_id: int) -> PurchaseOrder | None:
    return session.scalar(select(PurchaseOrder).where(PurchaseOrder.vendor_id == vendor_id,
                                                      state_is(PurchaseOrder.state, "draft")).with_for_update(key_share=True))


def _recount(session: Session, po: PurchaseOrder) -> int:
    session.flush()
    po.total_cents = int(session.scalar(
        select(func.coalesce(func.sum(PurchaseOrderLine.quantity * PurchaseOrderLine.unit_cost_cents), 0))
        .where(PurchaseOrderLine.purchase_order_id == po.id)) or 0)
    return po.total_cents


def plan(session: Session, vendor_id: int, needs: Sequence[Need], policy: PolicyConfig, now: datetime,
         timezone: str = "UTC") -> PlanResult:
    """Put this vendor's needs on its open draft (opening one whose window closes ``po_window``
    after its first line, or at the vendor's next ``order_cutoff`` in ``timezone``), growing a
    draft line only when the new suggestion is larger.

    A draft whose window has passed but that the sweeper has not closed yet still takes lines:
    one draft per vendor is a database rule, and the sweeper closes it within a sweep interval.
    Minimum order value is a PO-wide rule, applied when the window closes (``close_due_windows``).
    """
    result = PlanResult()
    vendor = session.get(Vendor, vendor_id, with_for_update={"key_share": True})  # one planner per vendor at a time
    if vendor is None:
        raise PurchasingError(f"unknown vendor id {vendor_id}")
    open_lines = open_po_lines(session, vendor_id)
    draft = _draft(session, vendor_id)
    # On order is read again under the vendor lock: a planner that ran meanwhile may have grown
    # a line after ``needs`` were read, and its units must not be subtracted twice.
    ordered = _per_sku(session, ON_ORDER_SQL, {"sku_ids": sorted({n.sku_id for n in needs}),
                                               "states": list(OPEN_PO_STATES)})
    changes: list[dict[str, Any]] = []
    for need in sorted((n for n in needs if n.vendor_id == vendor_id), key=lambda n: n.sku_id):
        line, po = open_lines.get(need.sku_id, (None, None))
        if po is not None and po.state != "draft":
            result.already_ordered_sku_ids.append(need.sku_id)
            continue
        own = line.quantity - line.received_qty if line is not None else 0
        suggestion = need.suggestion(on_order=max(0, ordered.get(need.sku_id, 0) - own))
        if suggestion.quantity <= 0 or (line is not None and suggestion.quantity <= line.quantity):
            continue
        if line is not None:
            changes.append({"sku": need.sku_code, "from": line.quantity, "to": suggestion.quantity})
            line.quantity, line.reason = suggestion.quantity, suggestion.as_dict()
            result.raised_sku_ids.append(need.sku_id)
            continue
        if draft is None:
            draft, result.created = _new_draft(session, vendor, policy, now, timezone), True
        session.add(PurchaseOrderLine(purchase_order_id=draft.id, sku_id=need.sku_id, quantity=suggestion.quantity,
                                      unit_cost_cents=need.unit_cost_cents, reason=suggestion.as_dict()))
        changes.append({"sku": need.sku_code, "from": 0, "to": suggestion.quantity})
        result.added_sku_ids.append(need.sku_id)
    if draft is not None:
        result.purchase_order_id = draft.id
    if changes and draft is not None:
        _recount(session, draft)
        _event(session, draft, "drafted", now, lines=changes, total_cents=draft.total_cents)
    return result


def _meet_minimum_value(session: Session, po: PurchaseOrder, vendor: Vendor) -> dict[str, Any] | None:
    """Raise the fastest-selling line by whole case packs until the PO reaches the vendor's
    minimum order value (the fastest seller is the extra stock least likely to sit)."""
    if _recount(session, po) >= vendor.min_order_cents:
        return None
    lines = list(session.scalars(select(PurchaseOrderLine).where(PurchaseOrderLine.purchase_order_id == po.id)
                                 .order_by(PurchaseOrderLine.id)))
    priced = [line for line in lines if line.unit_cost_cents > 0]
    if not priced:
        return None
    line = max(priced, key=lambda item: (Decimal(str(item.reason.get("velocity", "0"))), -item.id))
    others = po.total_cents - line.quantity * line.unit_cost_cents
    reason = dict(line.reason)
    pack = int(reason.get("case_pack") or vendor.case_pack or 1)
    needed = -(-(vendor.min_order_cents - others) // line.unit_cost_cents)
    quantity = max(line.quantity, -(-needed // pack) * pack)
    reason.update(min_order_cents=vendor.min_order_cents - others, quantity=quantity,
                  value_cents=quantity * line.unit_cost_cents,
                  rounded_by=[*reason.get("rounded_by", []), "min_order_value"])
    change = {"sku_id": line.sku_id, "from": line.quantity, "to": quantity}
    line.quantity, line.reason = quantity, reason
    _recount(session, po)
    return change


def _approval_context(session: Session, po: PurchaseOrder, vendor: Vendor, policy: PolicyConfig) -> dict[str, Any]:
    """What a buyer needs to decide: the PO, the vendor, the total and each line with its reason."""
    lines = session.execute(select(PurchaseOrderLine, Sku).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
                            .where(PurchaseOrderLine.purchase_order_id == po.id).order_by(Sku.code)).all()
    return {
        "event": "po.needs_approval", "po_id": po.id, "po_number": po.number, "vendor": vendor.name,
        "vendor_key": vendor.key, "total_cents": po.total_cents, "limit_cents": policy.po_auto_approve_cents,
        "lines": [{"sku": sku.code, "title": sku.title, "quantity": line.quantity,
                   "unit_cost_cents": line.unit_cost_cents, "line_total_cents": line.quantity * line.unit_cost_cents,
                   "reason": line.reason, "why": explain(line.reason)} for line, sku in lines],
    }


@dataclass
class ClosedWindows:
    """Drafts whose window closed: approved ones are to be sent; the alert messages to deliver."""

    approved: list[int] = field(default_factory=list)
    awaiting_approval: list[int] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)


def close_due_windows(session: Session, now: datetime, policy: PolicyConfig, *,
                      routes: Sequence[RouteConfig] | None = None, limit: int = 100) -> ClosedWindows:
    """Close every draft whose window has passed: approve it when its total is at most
    ``po_auto_approve_cents``, else hold it for a buyer and raise one ``po.needs_approval`` alert.

    Drafts are claimed with SKIP LOCKED, so two sweepers (two beats) close each draft once; a
    draft a planner holds right now is closed on the next sweep. ``routes`` defaults to the
    current configuration's notification routes.
    """
    if routes is None:
        from domain.core.business_config import current_config

        routes = current_config().notifications.routes
    result = ClosedWindows()
    due = session.scalars(select(PurchaseOrder).where(state_is(PurchaseOrder.state, "draft"),
                                                      PurchaseOrder.window_closes_at <= now)
                          .order_by(PurchaseOrder.id).limit(limit).with_for_update(skip_locked=True)).all()
    for po in due:
        vendor = session.get(Vendor, po.vendor_id)
        assert vendor is not None
        topped_up = _meet_minimum_value(session, po, vendor)
        if topped_up is None:
            _recount(session, po)
        if po.total_cents <= policy.po_auto_approve_cents:
            po.state, po.approved_at = "approved", now
            _event(session, po, "approved", now, actor="auto", total_cents=po.total_cents,
                   limit_cents=policy.po_auto_approve_cents, min_order_top_up=topped_up)
            result.approved.append(po.id)
            continue
        po.state = "awaiting_approval"
        context = _approval_context(session, po, vendor, policy)
        message = (f"{po.number} for {vendor.name}: ${po.total_cents / 100:,.2f} is over the auto-approve limit "
                   f"${policy.po_auto_approve_cents / 100:,.2f}; approve with `backorders po approve {po.id}`")
        outbox_ids = alerts.raise_alert(session, event="po.needs_approval", dedupe_key=f"po:{po.id}:needs_approval",
                                        message=message, context=context, routes=routes,
                                        template="po_needs_approval")
        audit.record(session, "purchasing", "po.awaiting_approval", "purchase_order", po.id,
                     total_cents=po.total_cents, min_order_top_up=topped_up)
        result.awaiting_approval.append(po.id)
        result.follow_ups += [FollowUp(DELIVER, (outbox_id,)) for outbox_id in outbox_ids]
    return result


def _locked(session: Session, po_id: int) -> PurchaseOrder:
    po = session.scalar(select(PurchaseOrder).where(PurchaseOrder.id == po_id).with_for_update(key_share=True))
    if po is None:
        raise PurchasingError(f"no purchase order with id {po_id}")
    return po


def find(session: Session, reference: str | int) -> PurchaseOrder | None:
    """A PO by id or by number (``PO-20261125-7``), as people type them."""
    if isinstance(reference, int) or str(reference).isdigit():
        return session.get(PurchaseOrder, int(reference))
    return session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == str(reference)))


def approve(session: Session, po_id: int, actor: str, now: datetime) -> PurchaseOrder:
    """A buyer approves a PO that was over the auto-approve value; it is then ready to send."""
    po = _locked(session, po_id)
    if po.state != "awaiting_approval":
        hint = {"draft": "its window is still open", "approved": "it is already approved"}.get(po.state, "")
        raise PurchasingError(f"{po.number} is {po.state.replace('_', ' ')}{f' ({hint})' if hint else ''}; "
                              "only a purchase order awaiting approval can be approved")
    po.state, po.approved_at = "approved", now
    _event(session, po, "approved", now, actor=actor, total_cents=po.total_cents)
    audit.record(session, actor, "po.approved", "purchase_order", po.id, number=po.number,
                 total_cents=po.total_cents)
    return po


# --------------------------------------------------------------------------------------------
# Receiving
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReceiveResult:
    """What arrived: the SKUs to run detection and ``customer_journey.fill`` for, and the PO's new state."""

    purchase_order_id: int
    number: str
    state: str
    received: dict[str, int]
    sku_ids: list[int]
    #: Staff alerts to deliver: receipts that differ from the ship notice (``domain.purchasing.mismatches``).
    follow_ups: list[FollowUp] = field(default_factory=list)


#: Goods add to the location's latest figure counted from 0: a platform's negative figure is units
#: already promised to customers (their backorders are filled from these goods), not stock owed
#: back before the goods count, or the units filled would be taken out twice.
RECEIPT_SQL = text("""
WITH current AS (
    SELECT on_hand, available FROM stock_levels WHERE sku_id = :sku_id AND location_id = :location_id
     ORDER BY COALESCE(source_updated_at, updated_at) DESC, updated_at DESC LIMIT 1
), figure AS (
    SELECT GREATEST(COALESCE((SELECT on_hand FROM current), 0), 0) + :quantity AS on_hand,
           GREATEST(COALESCE((SELECT available FROM current), 0), 0) + :quantity AS available
), upserted AS (
    INSERT INTO stock_levels AS sl (sku_id, location_id, store_id, on_hand, available, committed,
                                    source_updated_at, updated_at)
    SELECT :sku_id, :location_id, :store_id, on_hand, available, 0, :now, :now FROM figure
    ON CONFLICT (sku_id, location_id, store_id) DO UPDATE
       SET on_hand = excluded.on_hand, available = excluded.available,
           source_updated_at = excluded.source_updated_at, updated_at = excluded.updated_at
    RETURNING sl.on_hand, sl.available
)
INSERT INTO stock_history (sku_id, location_id, store_id, on_hand, available, source_updated_at, recorded_at)
SELECT :sku_id, :location_id, :store_id, on_hand, available, :now, :now FROM upserted
RETURNING on_hand
""")


def receiving_point(session: Session, vendor: Vendor) -> tuple[Location, Store]:
    """Where goods arrive: the business's first location, recorded as the vendor's ERP's figure
    when that ERP stocks it (the ERP books receipts), else the first store that stocks it."""
    location = session.scalar(select(Location).order_by(Location.id).limit(1))
    if location is None:
        raise PurchasingError("no location is configured to receive goods into (run `backorders config apply`)")
    stocking = select(StoreLocation.store_id).where(StoreLocation.location_id == location.id)
    store = None
    if vendor.erp_store_key:
        store = session.scalar(select(Store).where(Store.key == vendor.erp_store_key, Store.id.in_(stocking)))
    store = store or session.scalar(select(Store).where(Store.id.in_(stocking)).order_by(Store.id).limit(1))
    store = store or session.scalar(select(Store).order_by(Store.id).limit(1))
    if store is None:
        raise PurchasingError("no store is configured to record received stock under")
    return location, store


def _quantities(po: PurchaseOrder, lines: list[tuple[PurchaseOrderLine, Sku]],
                wanted: Mapping[str, int] | None) -> dict[str, int]:
    outstanding = {sku.code: line.quantity - line.received_qty for line, sku in lines}
    if wanted is None:
        return {code: qty for code, qty in outstanding.items() if qty > 0}
    for code, qty in wanted.items():
        if code not in outstanding:
            raise PurchasingError(f"{po.number} has no line for SKU {code!r}")
        if qty <= 0:
            raise PurchasingError(f"{code}: a received quantity must be positive, got {qty}")
        if qty > outstanding[code]:
            raise PurchasingError(f"{code}: receiving {qty} but only {outstanding[code]} outstanding on {po.number}")
    return {code: qty for code, qty in wanted.items()}


def receive(session: Session, po_id: int, lines: Mapping[str, int] | None, now: datetime, *,
            routes: Sequence[RouteConfig] | None = None) -> ReceiveResult:
    """Book goods in: raise each line's received quantity (``None`` = everything outstanding),
    move the PO to partially_received / received, and add the units to the stock at the
    receiving location. Detection for the returned SKUs is recorded as owed (an ``evaluate``
    row of ``domain.core.effects``) and the caller sends it, so waiting customers are served first, and delivers the result's follow-ups: one
    ``po.receipt_mismatch`` alert per line whose receipt differs from its ship notice."""
    from domain.purchasing import mismatches

    po = _locked(session, po_id)
    if po.state not in RECEIVABLE_STATES:
        raise PurchasingError(f"{po.number} is {po.state.replace('_', ' ')}; goods can only be received against "
                              f"a purchase order that is {', '.join(s.replace('_', ' ') for s in RECEIVABLE_STATES)}")
    rows = list(session.execute(select(PurchaseOrderLine, Sku).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
                                .where(PurchaseOrderLine.purchase_order_id == po.id).order_by(Sku.id)
                                .with_for_update(of=PurchaseOrderLine)).tuples())
    received = _quantities(po, rows, lines)
    vendor = session.get(Vendor, po.vendor_id)
    assert vendor is not None
    location, store = receiving_point(session, vendor)
    booked: list[dict[str, Any]] = []
    found: list[Any] = []
    for line, sku in rows:
        quantity = received.get(sku.code, 0)
        if not quantity:
            continue
        finding = mismatches.check_receipt(sku.id, sku.code, sku.title, line.quantity, line.shipped_qty,
                                           line.received_qty, quantity)
        if finding is not None:
            found.append(finding)
        line.received_qty += quantity
        on_hand = session.execute(RECEIPT_SQL, {"sku_id": sku.id, "location_id": location.id, "store_id": store.id,
                                                "quantity": quantity, "now": now}).scalar_one()
        booked.append({"sku_id": sku.id, "sku": sku.code, "quantity": quantity, "on_hand_after": on_hand})
    po.state = "received" if all(line.received_qty >= line.quantity for line, _ in rows) else "partially_received"
    event = PurchaseOrderEvent(purchase_order_id=po.id, kind="received", at=now,
                               data={"lines": booked, "location": location.key, "store": store.key,
                                     "mismatches": [m.as_dict() for m in found]})
    session.add(event)
    audit.record(session, "purchasing", "po.received", "purchase_order", po.id, number=po.number, lines=booked,
                 state=po.state)
    follow_ups: list[FollowUp] = []
    if found:
        if routes is None:
            from domain.core.business_config import current_config

            routes = current_config().notifications.routes
        session.flush()
        follow_ups = [FollowUp(DELIVER, (outbox_id,)) for outbox_id in mismatches.raise_alerts(
            session, found, po_id=po.id, po_number=po.number, vendor=vendor.name, cause=f"received:{event.id}",
            routes=routes)]
    # detection (and through it the restock fill and the pushes) is owed in this transaction
    effects.record(session, effects.EVALUATE, [item["sku_id"] for item in booked], now)
    return ReceiveResult(po.id, po.number, po.state, received, [item["sku_id"] for item in booked], follow_ups)


def open_erp_orders(session: Session) -> dict[str, dict[str, int]]:
    """ERP store key → {PO number: PO id} of the purchase orders created in that ERP that still
    await goods: what the receipts poll asks each ERP about."""
    rows = session.execute(
        select(Vendor.erp_store_key, PurchaseOrder.number, PurchaseOrder.id)
        .join(Vendor, Vendor.id == PurchaseOrder.vendor_id)
        .where(PurchaseOrder.state.in_(RECEIVABLE_STATES), PurchaseOrder.erp_ref.is_not(None),
               Vendor.erp_store_key.is_not(None))
        .order_by(PurchaseOrder.id))
    orders: dict[str, dict[str, int]] = defaultdict(dict)
    for store_key, number, po_id in rows:
        orders[str(store_key)][str(number)] = int(po_id)
    return dict(orders)


def book_erp_receipt(session: Session, po_id: int, received_totals: Mapping[str, int],
                     now: datetime) -> ReceiveResult | None:
    """Book what the ERP received beyond what we have booked: ``received_totals`` are the ERP's
    running totals per SKU, so reading the same receipt twice books it once. Goods booked here
    by hand first (``backorders po receive``) are not booked again; a total below ours (a receipt
    reversed in the ERP) is left for a person and recorded, never taken back out of stock."""
    po = _locked(session, po_id)
    if po.state not in RECEIVABLE_STATES:
        return None
    deltas: dict[str, int] = {}
    behind: dict[str, dict[str, int]] = {}
    for line, code in session.execute(select(PurchaseOrderLine, Sku.code).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
                                      .where(PurchaseOrderLine.purchase_order_id == po.id)).tuples():
        total = received_totals.get(code)
        if total is None:
            continue
        outstanding = line.quantity - line.received_qty
        if total > line.received_qty and outstanding > 0:
            deltas[code] = min(total - line.received_qty, outstanding)
        elif total < line.received_qty:
            behind[code] = {"erp": total, "booked": line.received_qty}
    if behind:
        audit.record(session, "purchasing", "po.erp_receipt_behind", "purchase_order", po.id, number=po.number,
                     lines=behind)
    return receive(session, po.id, deltas, now) if deltas else None


# --------------------------------------------------------------------------------------------
# Vendor dates
# --------------------------------------------------------------------------------------------

def earliest_po_eta(session: Session, sku_id: int) -> date | None:
    """The date customers are told: the earliest open PO line still awaiting goods (as in
    ``customer_journey.eta_for``)."""
    return session.scalar(
        select(func.min(func.coalesce(PurchaseOrderLine.eta, PurchaseOrderLine.promised_date)))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrderLine.sku_id == sku_id, PurchaseOrder.state.in_(OPEN_PO_STATES),
               PurchaseOrderLine.quantity > PurchaseOrderLine.received_qty))


def update_dates(session: Session, po_id: int, dates: Mapping[str, date], source: str, now: datetime, *,
                 settings: customer_journey.Settings | None = None, **event_data: Any) -> list[FollowUp]:
    """Record a vendor's dates: ``acknowledged`` (the promise: sets ``promised_date`` too),
    ``dates_changed`` (a new estimate) or ``asn`` (shipped, arriving then). ``event_data`` is kept
    on the event beside the dates (an ASN's quantities and mismatches).

    Each line's ETA moves; the PO expects to be complete when its last open line arrives; and
    customers waiting for a SKU whose earliest open-PO date moved are re-dated through
    ``customer_journey.change_eta`` (which tells each of them once and asks again past a promise).
    """
    if source not in DATE_SOURCES:
        raise PurchasingError(f"unknown date source {source!r} (one of {', '.join(DATE_SOURCES)})")
    po = _locked(session, po_id)
    if po.state not in RECEIVABLE_STATES:
        raise PurchasingError(f"{po.number} is {po.state.replace('_', ' ')}; vendor dates apply to a purchase order "
                              "that was approved and not yet fully received or cancelled")
    rows = {sku.code: (line, sku) for line, sku in session.execute(
        select(PurchaseOrderLine, Sku).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
        .where(PurchaseOrderLine.purchase_order_id == po.id).with_for_update(of=PurchaseOrderLine)).tuples()}
    unknown = sorted(set(dates) - set(rows))
    if unknown:
        raise PurchasingError(f"{po.number} has no line for SKU(s) {', '.join(unknown)}")
    before = {rows[code][1].id: earliest_po_eta(session, rows[code][1].id) for code in dates}
    for code, when in dates.items():
        line = rows[code][0]
        line.eta = when
        if source == "acknowledged":
            line.promised_date = when
    if source == "acknowledged":
        po.acknowledged_at = po.acknowledged_at or now
        if po.state in ("approved", "sent"):
            po.state = "acknowledged"
    open_dates = [line.eta or line.promised_date for line, _ in rows.values()
                  if line.quantity > line.received_qty and (line.eta or line.promised_date)]
    if open_dates:
        po.expected_at = max(d for d in open_dates if d is not None)
    _event(session, po, source, now, dates={code: when.isoformat() for code, when in dates.items()},
           expected_at=po.expected_at.isoformat() if po.expected_at else None, **event_data)
    session.flush()
    settings = settings or runtime_settings.current()
    follow_ups: list[FollowUp] = []
    for sku_id, old in before.items():
        new = earliest_po_eta(session, sku_id)
        if new is not None and new != old:
            follow_ups += customer_journey.change_eta(session, sku_id, new, settings, now)
    return follow_ups


# --------------------------------------------------------------------------------------------
# Vendor scorecard
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VendorScore:
    """How a vendor did on the POs due in a period; rates are fractions, None when unmeasured."""

    vendor_id: int
    vendor_key: str
    vendor_name: str
    purchase_orders: int
    ordered_units: int
    received_units: int
    fill_rate: Decimal | None
    receipts: int
    on_time_receipts: int
    on_time_rate: Decimal | None
    average_days_late: Decimal | None
    average_ack_hours: Decimal | None
    #: Ship-notice lines whose quantity differed from what the PO line expected (``po.asn_mismatch``).
    asn_mismatches: int = 0
    #: Receipts that differed from what the ship notice said was on its way (``po.receipt_mismatch``).
    receipt_mismatches: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {key: (str(value) if isinstance(value, Decimal) else value)
                for key, value in self.__dict__.items()}


def _ratio(numerator: float | Decimal, denominator: int, places: Decimal = RATE_PLACES) -> Decimal | None:
    return (Decimal(str(numerator)) / denominator).quantize(places) if denominator else None


def scorecard(session: Session, since: date, until: date) -> list[VendorScore]:
    """Per vendor, over purchase-order lines due between ``since`` and ``until`` (inclusive) —
    due on the vendor's promised date, else the PO's expected date:

    - fill rate = units received ÷ units ordered;
    - on-time rate = receipts (a line's share of a ``received`` event) dated on or before the due
      date ÷ all receipts;
    - average lateness = mean over receipts of max(0, receipt date − due date), in days;
    - acknowledgement latency = mean of acknowledged_at − sent_at over those POs, in hours;
    - ASN and receipt mismatches = lines of those POs' ship notices and receipts whose quantity
      differed from what was expected (``domain.purchasing.mismatches``; stored on the events).

    Cancelled POs and ones never approved are left out: they were never the vendor's to fill.
    """
    due = func.coalesce(PurchaseOrderLine.promised_date, PurchaseOrder.expected_at)
    rows = session.execute(
        select(PurchaseOrder, PurchaseOrderLine, due.label("due"))
        .join(PurchaseOrderLine, PurchaseOrderLine.purchase_order_id == PurchaseOrder.id)
        .where(PurchaseOrder.state.not_in(("draft", "awaiting_approval", "cancelled")), due.between(since, until))
        .order_by(PurchaseOrder.id, PurchaseOrderLine.id)).all()
    by_vendor: dict[int, list[tuple[PurchaseOrder, PurchaseOrderLine, date]]] = defaultdict(list)
    for po, line, due_date in rows:
        by_vendor[po.vendor_id].append((po, line, due_date))
    po_ids = sorted({po.id for po, _, _ in rows})
    receipts: dict[tuple[int, int], list[date]] = defaultdict(list)
    found: dict[tuple[int, str], int] = defaultdict(int)
    for po_id, kind, data, at in session.execute(
            select(PurchaseOrderEvent.purchase_order_id, PurchaseOrderEvent.kind, PurchaseOrderEvent.data,
                   PurchaseOrderEvent.at)
            .where(PurchaseOrderEvent.purchase_order_id.in_(po_ids),
                   PurchaseOrderEvent.kind.in_(("received", "asn")))):
        found[(po_id, kind)] += len(data.get("mismatches") or [])
        if kind == "received":
            for item in data.get("lines", []):
                receipts[(po_id, int(item["sku_id"]))].append(at.date())
    vendors = {v.id: v for v in session.scalars(select(Vendor).where(Vendor.id.in_(list(by_vendor))))}
    scores = [_score(vendors[vendor_id], items, receipts, found) for vendor_id, items in by_vendor.items()]
    return sorted(scores, key=lambda score: score.vendor_key)


def _score(vendor: Vendor, items: list[tuple[PurchaseOrder, PurchaseOrderLine, date]],
           receipts: Mapping[tuple[int, int], list[date]], found: Mapping[tuple[int, str], int]) -> VendorScore:
    ordered = sum(line.quantity for _, line, _ in items)
    received = sum(line.received_qty for _, line, _ in items)
    lateness = [max(0, (day - due_date).days) for po, line, due_date in items
                for day in receipts.get((po.id, line.sku_id), [])]
    pos = {po.id: po for po, _, _ in items}
    ack_hours = [(po.acknowledged_at - po.sent_at).total_seconds() / 3600 for po in pos.values()
                 if po.acknowledged_at and po.sent_at]
    on_time = sum(1 for days in lateness if days == 0)
    return VendorScore(
        vendor_id=vendor.id, vendor_key=vendor.key, vendor_name=vendor.name, purchase_orders=len(pos),
        ordered_units=ordered, received_units=received, fill_rate=_ratio(received, ordered),
        receipts=len(lateness), on_time_receipts=on_time, on_time_rate=_ratio(on_time, len(lateness)),
        average_days_late=_ratio(sum(lateness), len(lateness), Decimal("0.01")),
        average_ack_hours=_ratio(sum(ack_hours), len(ack_hours), Decimal("0.1")),
        asn_mismatches=sum(found.get((po_id, "asn"), 0) for po_id in pos),
        receipt_mismatches=sum(found.get((po_id, "received"), 0) for po_id in pos),
    )


def approved_unsent(session: Session, now: datetime, older_than: timedelta = timedelta(minutes=2)) -> list[int]:
    """Approved POs still not sent a while later: their send message was lost; send again
    (the send task is idempotent: one email, one ERP PO)."""
    return list(session.scalars(select(PurchaseOrder.id).where(
        PurchaseOrder.state == "approved", PurchaseOrder.approved_at < now - older_than)))
