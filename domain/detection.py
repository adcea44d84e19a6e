"""Stock-state detection: from figures to transitions, once per change, with the numbers kept.

The truth for a SKU at a location is the most recent figure any source reported there; the SKU's
available quantity is the sum over locations. States move IN_STOCK → LOW → OUT/BACKORDER →
RESTOCKED, with a hysteresis band above the threshold so a SKU bouncing between 3 and 4 units
alerts once. OVERSELL_RISK (open order demand ≥ available) and ATP_DRIFT (a channel's sellable
quantity differs from the ERP's on-hand beyond a tolerance) are flags raised and cleared on edges.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from domain import audit
from domain.clock import utcnow
from domain.models import Sku, SkuTransition

#: Transitions that change what channels must show (sellable vs. backorder).
PUSH_STATES = frozenset({"OUT", "BACKORDER", "RESTOCKED"})
#: The staff-alert event each transition raises (LOW → IN_STOCK and the like raise none).
EVENTS = {"LOW": "stock.low", "OUT": "stock.out", "BACKORDER": "stock.backorder",
          "RESTOCKED": "stock.restocked", "OVERSELL_RISK": "stock.oversell_risk",
          "ATP_DRIFT": "stock.atp_drift"}

NUMBERS_SQL = text("""
WITH latest AS (
    SELECT DISTINCT ON (sl.sku_id, sl.location_id)
           sl.sku_id, sl.location_id, sl.available, sl.on_hand
      FROM stock_levels sl
     WHERE sl.sku_id = ANY(:sku_ids)
     ORDER BY sl.sku_id, sl.location_id, COALESCE(sl.source_updated_at, sl.updated_at) DESC, sl.updated_at DESC
), per_sku AS (
    SELECT sku_id, SUM(available)::int AS available, COUNT(*)::int AS locations FROM latest GROUP BY sku_id
), closed_backorders AS (
    SELECT order_line_id, SUM(quantity)::int AS quantity FROM backorders
     WHERE sku_id = ANY(:sku_ids) AND state IN ('cancelled_by_customer', 'auto_cancelled', 'substituted')
     GROUP BY order_line_id
), demand AS (
    SELECT ol.sku_id, SUM(ol.quantity - ol.allocated_qty - COALESCE(cb.quantity, 0))::int AS open_demand
      FROM order_lines ol JOIN orders o ON o.id = ol.order_id
      LEFT JOIN closed_backorders cb ON cb.order_line_id = ol.id
     WHERE o.status = 'open' AND ol.sku_id = ANY(:sku_ids)
     GROUP BY ol.sku_id
), erp AS (
    SELECT sl.sku_id, sl.location_id, SUM(sl.on_hand)::int AS on_hand
      FROM stock_levels sl JOIN stores s ON s.id = sl.store_id
     WHERE NOT s.sells AND sl.sku_id = ANY(:sku_ids)
     GROUP BY sl.sku_id, sl.location_id
), pairs AS (
    SELECT sl.sku_id, sl.store_id, sl.location_id, sl.available AS sellable, e.on_hand AS erp_on_hand
      FROM stock_levels sl
      JOIN stores s ON s.id = sl.store_id AND s.sells
      JOIN erp e ON e.sku_id = sl.sku_id AND e.location_id = sl.location_id
     WHERE sl.sku_id = ANY(:sku_ids)
)
SELECT k.id AS sku_id,
       COALESCE(p.available, 0) AS available,
       COALESCE(p.locations, 0) AS locations,
       COALESCE(d.open_demand, 0) AS open_demand,
       (SELECT SUM(e.on_hand)::int FROM erp e WHERE e.sku_id = k.id) AS erp_on_hand,
       COALESCE((SELECT json_agg(json_build_array(x.store_id, x.location_id, x.sellable, x.erp_on_hand))
                   FROM pairs x WHERE x.sku_id = k.id), '[]') AS comparisons
  FROM skus k
  LEFT JOIN per_sku p ON p.sku_id = k.id
  LEFT JOIN demand d ON d.sku_id = k.id
 WHERE k.id = ANY(:sku_ids)
""")


@dataclass(frozen=True)
class Numbers:
    """What the decision is made from; stored with every transition."""

    available: int
    open_demand: int
    threshold: int
    erp_on_hand: int | None = None
    #: (store id, location id, the channel's sellable figure, the ERP's on-hand) at shared locations.
    comparisons: list[tuple[int, int, int, int]] = field(default_factory=list)
    locations: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"available": self.available, "open_demand": self.open_demand, "threshold": self.threshold,
                "erp_on_hand": self.erp_on_hand, "comparisons": [list(c) for c in self.comparisons],
                "locations": self.locations}


@dataclass(frozen=True)
class Transition:
    """A stored change: a new state, or a flag (OVERSELL_RISK, ATP_DRIFT) that was just raised."""

    id: int
    sku_id: int
    from_state: str
    to_state: str
    numbers: Numbers

    @property
    def event(self) -> str | None:
        return EVENTS.get(self.to_state)

    @property
    def needs_push(self) -> bool:
        return self.to_state in PUSH_STATES


def hysteresis_band(threshold: int) -> int:
    return max(1, math.ceil(threshold * 0.2))


def next_state(current: str, available: int, threshold: int, allow_backorder: bool) -> str:
    """The state machine on one SKU's available quantity (pure, so the rules are easy to test)."""
    if available <= 0:
        if current in ("OUT", "BACKORDER"):
            return current
        return "BACKORDER" if allow_backorder else "OUT"
    if current in ("OUT", "BACKORDER"):
        return "RESTOCKED"
    if available <= threshold:
        return "LOW" if current in ("IN_STOCK", "LOW", "RESTOCKED") else current
    if current == "LOW" and available <= threshold + hysteresis_band(threshold):
        return "LOW"
    return "IN_STOCK"


def atp_drifts(numbers: Numbers, tolerance: Decimal) -> bool:
    """True when a channel's sellable figure at a location is off the ERP's on-hand there by more
    than ``tolerance`` (relative to the ERP figure, at least 1 so an empty location still counts)."""
    return any(Decimal(abs(sellable - erp)) / max(1, erp) > tolerance
               for _store, _location, sellable, erp in numbers.comparisons)


def load_numbers(session: Session, sku_ids: Sequence[int]) -> dict[int, Numbers]:
    thresholds = dict(session.execute(select(Sku.id, Sku.threshold).where(Sku.id.in_(sku_ids))).all())
    return {
        row.sku_id: Numbers(available=row.available, open_demand=row.open_demand,
                            threshold=thresholds[row.sku_id], erp_on_hand=row.erp_on_hand,
                            comparisons=[tuple(int(v) for v in c) for c in row.comparisons],  # type: ignore[misc]
                            locations=row.locations)
        for row in session.execute(NUMBERS_SQL, {"sku_ids": list(sku_ids)})
    }


def evaluate(session: Session, sku_ids: Sequence[int], drift_tolerance: Decimal = Decimal("0.05")
             ) -> list[Transition]:
    """Decide and store the transitions of these SKUs.

    SKU rows are locked in id order for the transaction, so two evaluations of the same SKU run
    one after the other and the second sees the first's state: one transition, one alert.
    """
    skus = session.scalars(select(Sku).where(Sku.id.in_(sorted(set(sku_ids)))).order_by(Sku.id)
                           .with_for_update(key_share=True)).all()
    numbers = load_numbers(session, [s.id for s in skus])
    now = utcnow()
    transitions: list[Transition] = []
    for sku in skus:
        facts = numbers[sku.id]
        if facts.locations == 0:
            continue
        to_state = next_state(sku.state, facts.available, sku.threshold, sku.allow_backorder)
        risk = facts.open_demand > 0 and facts.open_demand >= facts.available
        drift = atp_drifts(facts, drift_tolerance)
        changes = [to_state] if to_state != sku.state else []
        changes += ["OVERSELL_RISK"] if risk and not sku.oversell_risk else []
        changes += ["ATP_DRIFT"] if drift and not sku.atp_drift else []
        for state in changes:
            row = SkuTransition(sku_id=sku.id, from_state=sku.state, to_state=state, numbers=facts.as_dict())
            session.add(row)
            session.flush()
            audit.record(session, "detect", "stock.transition", "sku", sku.id, transition_id=row.id,
                         from_state=sku.state, to_state=state, **facts.as_dict())
            transitions.append(Transition(row.id, sku.id, sku.state, state, facts))
        if to_state != sku.state:
            sku.state, sku.state_changed_at = to_state, now
        sku.oversell_risk, sku.atp_drift = risk, drift
    return transitions
