"""Reorder math: how fast a SKU sells, when to reorder it, and how much to order.

Pure functions on numbers (no database), so every rule can be checked by hand. The quantity comes
back as a ``Suggestion`` that keeps every number that produced it: stored on the purchase-order
line, it answers the buyer's "why did it reorder this much?" without re-running anything.

    velocity      = Σ wᵢ·salesᵢ / Σ wᵢ,  wᵢ = ½^(ageᵢ / half-life)       (units per day)
    reorder point = max(configured reorder point, threshold, ⌈velocity × lead time⌉ + safety stock)
    promised      = max(open backorders, units a platform reports sold beyond its stock)
    position      = max(0, on hand + on order − promised)
    reordered when  on hand + on order − promised < reorder point
    need          = max(0, reorder point + promised − on hand − on order)
    quantity      = max(reorder qty, need) → up to whole case packs → up to the minimum order
                    units (in case packs) → up to the minimum order value (in case packs);
                    0 when both the reorder qty and the need are 0

The need brings the position back to the reorder point — it covers the sales expected during
the lead time, the safety stock and every promised unit — so goods arriving for exactly the need
leave the SKU at its reorder point, not under it, and do not draft the next order on arrival.

No figure is negative: on hand is counted from 0 (a platform reporting −2 has sold two units it
does not hold: that is demand already promised, counted once with the backorders it usually is).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal, getcontext
from functools import lru_cache
from itertools import pairwise
from typing import Any

VELOCITY_PLACES = Decimal("0.0001")
HALF = Decimal("0.5")


@lru_cache(maxsize=4096)
def _weight(age_days: int, half_life: Decimal, precision: int, rounding: str) -> Decimal:
    """½^(age / half-life) in the caller's decimal context (its precision and rounding are part of
    the key). A fractional power is Decimal's slowest operation (about 45 µs): planning 1,000 SKUs
    spent 363 ms of its 462 ms here (cProfile, bench.batching's catalogue), computing the same few
    dozen ages again for every SKU; cached, the figures are the very same Decimals."""
    del precision, rounding  # the key only: the power below is taken in the current context
    return HALF ** (Decimal(age_days) / half_life)


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def daily_sales(history: Sequence[tuple[date, int]]) -> dict[date, int]:
    """Units sold per day from on-hand readings, every day of the observed span present.

    Readings are taken in date order (same-day readings keep their order). Each decrease from
    one reading to the next is a sale on the later reading's date; an increase is a receipt or a
    recount, never a negative sale. The span runs from the day after the first reading (the
    baseline) to the last reading's date, so a day with no sales counts as 0; a drop on the
    baseline's own day is counted on the span's first day. All readings on one date: that date.
    """
    readings = sorted(history, key=lambda reading: reading[0])
    if len(readings) < 2:
        return {}
    first, last = readings[0][0], readings[-1][0]
    start = first + timedelta(days=1) if last > first else first
    sales = {start + timedelta(days=offset): 0 for offset in range((last - start).days + 1)}
    for (_, before), (day, after) in pairwise(readings):
        if after < before:
            sales[max(day, start)] += before - after
    return sales


def daily_velocity(history: Sequence[tuple[date, int]], half_life_days: float = 7,
                   min_span_days: int = 1) -> Decimal:
    """Exponentially weighted average of units sold per day; newer days weigh more.

    velocity = Σ wᵢ·salesᵢ / Σ wᵢ over the days of ``daily_sales``, where wᵢ = ½^(ageᵢ / half-life)
    and ageᵢ is the number of days before the last reading. With a 7-day half-life a sale a week
    ago counts half as much as one today, so a SKU that just started selling faster is reordered
    on its new pace without forgetting the month. Fewer than two readings: 0 (nothing observed).

    A span shorter than ``min_span_days`` is padded with zero-sale days before it: a brand-new
    SKU that sold out on its first day has not shown a daily pace yet, and ordering a 21-day
    lead time × that one day would buy months of stock on a single spike.
    """
    return weighted_velocity(daily_sales(history), half_life_days, min_span_days)


def weighted_velocity(daily: dict[date, int], half_life_days: float = 7, min_span_days: int = 1) -> Decimal:
    """The weighted average of ``daily`` (units sold per day, every day of the span present), the
    span padded with zero-sale days before it up to ``min_span_days``; 0 for an empty span."""
    sales = dict(daily)
    if not sales:
        return Decimal(0)
    first = min(sales)
    for offset in range(1, max(0, min_span_days - len(sales)) + 1):
        sales[first - timedelta(days=offset)] = 0
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be positive, got {half_life_days}")
    last = max(sales)
    half_life = Decimal(str(half_life_days))
    context = getcontext()
    weights = {day: _weight((last - day).days, half_life, context.prec, context.rounding) for day in sales}
    weighted = sum((weights[day] * units for day, units in sales.items()), Decimal(0))
    return (weighted / sum(weights.values(), Decimal(0))).quantize(VELOCITY_PLACES)


def reorder_point(velocity: Decimal, lead_time_days: int, safety_stock: int, threshold: int) -> int:
    """⌈velocity × lead time + safety stock⌉, never below the SKU's low-stock threshold.

    Stock at or under this point runs out before a new order can arrive (lead-time demand) unless
    the safety stock absorbs the surprise; the threshold floor keeps a slow seller from being
    reordered only after staff were already told it is low.
    """
    return max(threshold, _ceil(velocity * lead_time_days + safety_stock))


@dataclass(frozen=True)
class Suggestion:
    """An order quantity and every number that produced it (stored as the line's ``reason``)."""

    quantity: int
    velocity: Decimal
    lead_time_days: int
    lead_time_demand: int
    open_backorders: int
    safety_stock: int
    on_hand: int
    on_order: int
    need: int
    reorder_qty: int
    case_pack: int
    min_order_units: int
    unit_cost_cents: int
    min_order_cents: int
    rounded_by: list[str]
    #: Units a platform reports sold beyond what it holds (a negative on hand, counted from 0).
    reported_shortfall: int = 0
    #: Demand already promised to customers: max(open backorders, reported shortfall).
    promised: int = 0
    #: on hand + on order − promised, never below 0: what the order adds to.
    position: int = 0
    #: The point the position fell under: max(configured, ⌈velocity × lead time⌉ + safety stock).
    reorder_point: int = 0
    #: The configured reorder point and threshold, whichever is higher (the floor of the above).
    configured_reorder_point: int = 0
    #: Where the velocity came from: source (order_lines | on_hand_history | none), window_days,
    #: since / until, units counted, and per location the store whose figures are its record.
    demand: dict[str, Any] = field(default_factory=dict)

    @property
    def value_cents(self) -> int:
        return self.quantity * self.unit_cost_cents

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the velocity as a decimal string, the rest integers and the rounding steps."""
        data = asdict(self)
        data["velocity"] = str(self.velocity)
        data["demand"] = dict(self.demand)
        data["value_cents"] = self.value_cents
        return data


def _round_up(quantity: int, multiple: int) -> int:
    return -(-quantity // multiple) * multiple


def order_quantity(*, reorder_qty: int, velocity: Decimal, lead_time_days: int, open_backorders: int,
                   safety_stock: int, on_hand: int, on_order: int, case_pack: int, min_order_units: int,
                   unit_cost_cents: int, min_order_cents: int, reported_shortfall: int = 0,
                   reorder_point: int = 0, demand: dict[str, Any] | None = None) -> Suggestion:
    """How many to order, and why.

    The reorder point is the higher of ``reorder_point`` (the configured one and the threshold)
    and ⌈velocity × lead time⌉ + safety stock. need = reorder point + promised − on hand − on
    order (never below 0): enough for the sales expected before the order lands, the safety stock
    and the customers already promised, less what we hold or already ordered. ``promised`` is the
    larger of the open backorders and ``reported_shortfall`` (units a platform sold beyond its
    stock, reported as a negative figure): both count customers who bought units we do not hold,
    usually the same ones, so they are never added. ``on_hand`` and ``on_order`` below 0 count as 0.

    It is called for a SKU under its reorder point, so the usual lot (reorder qty) is the least
    ordered even when the need is 0; nothing is ordered only when both are 0. quantity =
    max(reorder qty, need), rounded up to whole case packs (vendors ship cases), then raised to
    ``min_order_units`` and, when ``quantity × unit cost`` is under ``min_order_cents``, by whole
    case packs until it is not. ``rounded_by`` names each step that changed the number.
    """
    pack = max(1, case_pack)
    on_hand, on_order = max(0, on_hand), max(0, on_order)
    shortfall = max(0, reported_shortfall)
    promised = max(max(0, open_backorders), shortfall)
    lead_time_demand = _ceil(velocity * lead_time_days)
    point = max(reorder_point, lead_time_demand + safety_stock)
    need = max(0, point + promised - on_hand - on_order)
    steps: list[str] = []
    quantity = max(0, reorder_qty, need)
    if quantity > 0:
        if quantity > need:
            steps.append("reorder_qty")
        if quantity % pack:
            quantity = _round_up(quantity, pack)
            steps.append("case_pack")
        if quantity < min_order_units:
            quantity = _round_up(min_order_units, pack)
            steps.append("min_order_units")
        if unit_cost_cents > 0 and quantity * unit_cost_cents < min_order_cents:
            quantity = _round_up(-(-min_order_cents // unit_cost_cents), pack)
            steps.append("min_order_value")
    return Suggestion(
        quantity=quantity, velocity=velocity, lead_time_days=lead_time_days, lead_time_demand=lead_time_demand,
        open_backorders=open_backorders, safety_stock=safety_stock, on_hand=on_hand, on_order=on_order,
        need=need, reorder_qty=reorder_qty, case_pack=pack, min_order_units=min_order_units,
        unit_cost_cents=unit_cost_cents, min_order_cents=min_order_cents, rounded_by=steps,
        reported_shortfall=shortfall, promised=promised, position=max(0, on_hand + on_order - promised),
        reorder_point=point, configured_reorder_point=reorder_point, demand=dict(demand or {}),
    )


def explain(reason: dict[str, Any]) -> str:
    """One line a buyer can check by hand from a stored ``reason`` (older lines lack some keys)."""
    demand = reason.get("demand") or {}
    source, days, units = demand.get("source", "none"), demand.get("window_days", 0), demand.get("units", 0)
    if source == "order_lines":
        pace = f"{units} sold on recorded orders over {days} days"
    elif source == "on_hand_history":
        where = ", ".join(f"{loc} {store}" for loc, store in sorted((demand.get("record_stores") or {}).items()))
        pace = f"{units} sold, from on-hand decreases over {days} days at {where}"
    else:
        pace = "no sales observed"
    backorders, shortfall = reason.get("open_backorders", 0), reason.get("reported_shortfall", 0)
    promised = (f"promised {reason.get('promised')} (backorders {backorders}; a platform reports {shortfall} sold "
                "beyond its stock)" if shortfall else f"backorders {backorders}")
    steps = f" → {', '.join(reason['rounded_by'])}" if reason.get("rounded_by") else ""
    return (f"velocity {reason.get('velocity')}/day ({pace}); reorder point {reason.get('reorder_point', '?')} = "
            f"max(configured {reason.get('configured_reorder_point', '?')}, lead-time demand "
            f"{reason.get('lead_time_demand')} (⌈{reason.get('velocity')} × {reason.get('lead_time_days')} days⌉) "
            f"+ safety {reason.get('safety_stock')}); position {reason.get('position', '?')}; need = reorder point "
            f"{reason.get('reorder_point', '?')} + {promised} − on hand {reason.get('on_hand')} − on order "
            f"{reason.get('on_order')} = {reason.get('need')}; reorder qty {reason.get('reorder_qty')}, "
            f"case pack {reason.get('case_pack')}{steps} → {reason.get('quantity')}")
