"""Stock-state detection: from figures to transitions, once per change, with the numbers kept.

The truth for a SKU at a location is the most recent figure any source reported there; the SKU's
available quantity is the sum over locations. States move IN_STOCK → LOW → OUT/BACKORDER →
RESTOCKED, with a hysteresis band above the threshold so a SKU bouncing between 3 and 4 units
alerts once. OVERSELL_RISK and ATP_DRIFT are flags raised and cleared on edges:

* OVERSELL_RISK: incoming orders match or exceed the stock there is to fill them. "Incoming
  orders" is the *open unfulfilled quantity*: every line of an order whose status is still open
  (``domain.stock.orders.normalise_status``: not fulfilled, cancelled, closed or refunded), minus the
  units of that line whose backorder was closed without shipping this SKU (cancelled by the
  customer, auto-cancelled, or replaced by a substitute). Allocated units count: they are promised
  but still on the shelf. A partly fulfilled order counts its whole lines (we hold no per-line
  fulfilled figure), which errs towards warning. "The stock to fill them" is the on-hand figure
  (latest per location, a negative figure counted as 0), the one allocation promises from. The
  channels' *available* figure is not used: Shopify and WooCommerce already deduct open orders
  from it, so comparing those orders with it would count every order twice.
* ATP_DRIFT: a channel's sellable quantity at a location differs from the ERP's on-hand there by
  more than the tolerance of that channel's store (``[[store_policies]] atp_drift_tolerance``,
  else ``[policy]``).

Per-location thresholds (``domain.stock.location_thresholds``) run beside the SKU total: a location's
own figure crossing its own threshold is a LOCATION_LOW or LOCATION_OUT transition, stored and
alerted like the SKU's, naming the location.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from domain.core.clock import utcnow
from domain.core.db import any_int
from domain.core.models import Sku

#: Transitions that change what channels must show (sellable vs. backorder).
PUSH_STATES = frozenset({"OUT", "BACKORDER", "RESTOCKED"})
#: The staff-alert event each transition raises (LOW → IN_STOCK and the like raise none).
EVENTS = {"LOW": "stock.low", "OUT": "stock.out", "BACKORDER": "stock.backorder",
          "RESTOCKED": "stock.restocked", "OVERSELL_RISK": "stock.oversell_risk",
          "ATP_DRIFT": "stock.atp_drift", "LOCATION_LOW": "stock.location_low",
          "LOCATION_OUT": "stock.location_out"}
#: Open orders named in an oversell-risk alert (oldest first); the count of all of them is kept too.
MAX_NAMED_ORDERS = 25

NUMBERS_SQL = text("""
WITH latest AS (
    SELECT DISTINCT ON (sl.sku_id, sl.location_id)
           sl.sku_id, sl.location_id, sl.available, sl.on_hand
      FROM stock_levels sl
     WHERE sl.sku_id = ANY(:sku_ids)
     ORDER BY sl.sku_id, sl.location_id, COALESCE(sl.source_updated_at, sl.updated_at) DESC, sl.updated_at DESC
), per_sku AS (
    SELECT sku_id, SUM(available)::int AS available, SUM(GREATEST(on_hand, 0))::int AS on_hand,
           COUNT(*)::int AS locations
      FROM latest GROUP BY sku_id
), closed_backorders AS (
    SELECT order_line_id, SUM(quantity)::int AS quantity FROM backorders
     WHERE sku_id = ANY(:sku_ids) AND state IN ('cancelled_by_customer', 'auto_cancelled', 'substituted')
     GROUP BY order_line_id
), demand AS (
    SELECT ol.sku_id, SUM(GREATEST(ol.quantity - COALESCE(cb.quantity, 0), 0))::int AS open_demand
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
), erp_totals AS (
    SELECT sku_id, SUM(on_hand)::int AS on_hand FROM erp GROUP BY sku_id
), comparisons AS (
    SELECT sku_id, json_agg(json_build_array(store_id, location_id, sellable, erp_on_hand)
                            ORDER BY store_id, location_id) AS pairs
      FROM pairs GROUP BY sku_id
)
SELECT k.id AS sku_id,
       GREATEST(COALESCE(p.available, 0), 0) AS available,
       GREATEST(-COALESCE(p.available, 0), 0) AS oversold,
       COALESCE(p.on_hand, 0) AS on_hand,
       COALESCE(p.locations, 0) AS locations,
       COALESCE(d.open_demand, 0) AS open_demand,
       t.on_hand AS erp_on_hand,
       COALESCE(c.pairs, '[]') AS comparisons
  FROM skus k
  LEFT JOIN per_sku p ON p.sku_id = k.id
  LEFT JOIN demand d ON d.sku_id = k.id
  LEFT JOIN erp_totals t ON t.sku_id = k.id
  LEFT JOIN comparisons c ON c.sku_id = k.id
 WHERE k.id = ANY(:sku_ids)
""")


@dataclass(frozen=True)
class Numbers:
    """What the decision is made from; stored with every transition."""

    available: int
    #: The open unfulfilled order quantity (see the module docstring for what counts).
    open_demand: int
    threshold: int
    erp_on_hand: int | None = None
    #: (store id, location id, the channel's sellable figure, the ERP's on-hand) at shared locations.
    comparisons: list[tuple[int, int, int, int]] = field(default_factory=list)
    locations: int = 0
    #: Units on the shelf to fill orders with: latest on-hand per location, negatives as 0.
    on_hand: int = 0
    #: The open orders behind ``open_demand`` (number, store, quantity), set on an oversell risk.
    orders: tuple[dict[str, Any], ...] = ()
    orders_total: int = 0
    #: Store id → the drift tolerance its comparisons were held to, set on an ATP drift.
    drift_tolerances: dict[int, str] = field(default_factory=dict)
    #: The location a LOCATION_LOW / LOCATION_OUT transition is about, with its own figures.
    location: dict[str, Any] | None = None
    #: Units the platforms report sold beyond their stock (their available figures summed below 0):
    #: demand already promised, shown beside an ``available`` that is never negative.
    oversold: int = 0

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "available": self.available, "open_demand": self.open_demand, "threshold": self.threshold,
            "erp_on_hand": self.erp_on_hand, "comparisons": [list(c) for c in self.comparisons],
            "locations": self.locations, "on_hand": self.on_hand}
        if self.oversold:
            out["oversold"] = self.oversold
        if self.orders_total:
            out.update(orders=list(self.orders), orders_total=self.orders_total,
                       rule="open unfulfilled quantity >= on hand")
        if self.drift_tolerances:
            out["drift_tolerances"] = {str(k): v for k, v in self.drift_tolerances.items()}
        if self.location is not None:
            out["location"] = self.location
        return out


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


def atp_drifts(numbers: Numbers, tolerance: Decimal, store_tolerances: Mapping[int, Decimal] | None = None
               ) -> bool:
    """True when a channel's sellable figure at a location is off the ERP's on-hand there by more
    than the tolerance of that channel's store (``store_tolerances``, else ``tolerance``), relative
    to the ERP figure, at least 1 so an empty location still counts."""
    per_store = store_tolerances or {}
    return any(Decimal(abs(sellable - erp)) / max(1, erp) > per_store.get(store, tolerance)
               for store, _location, sellable, erp in numbers.comparisons)


def oversell_risk(numbers: Numbers) -> bool:
    """Incoming orders match or exceed the stock there is to fill them (see the module docstring)."""
    return numbers.open_demand > 0 and numbers.open_demand >= numbers.on_hand


STORE_IDS_SQL = text("SELECT key, id FROM stores WHERE key = ANY(CAST(:keys AS text[]))")


def store_tolerances(session: Session, by_key: Mapping[str, Decimal]) -> dict[int, Decimal]:
    """Store key → tolerance (``[[store_policies]]``) as store id → tolerance, for ``evaluate``."""
    if not by_key:
        return {}
    ids = dict(session.execute(STORE_IDS_SQL, {"keys": sorted(by_key)}).tuples().all())
    return {ids[key]: tolerance for key, tolerance in by_key.items() if key in ids}


def load_numbers(session: Session, sku_ids: Sequence[int], thresholds: Mapping[int, int] | None = None
                 ) -> dict[int, Numbers]:
    """The numbers of each SKU in one statement; ``thresholds`` saves a query when the caller has them."""
    if thresholds is None:
        thresholds = dict(session.execute(select(Sku.id, Sku.threshold).where(Sku.id == any_int("sku_ids", sku_ids))).all())
    return {
        row.sku_id: Numbers(available=row.available, oversold=row.oversold, open_demand=row.open_demand,
                            on_hand=row.on_hand,
                            threshold=thresholds[row.sku_id], erp_on_hand=row.erp_on_hand,
                            comparisons=[tuple(int(v) for v in c) for c in row.comparisons],  # type: ignore[misc]
                            locations=row.locations)
        for row in session.execute(NUMBERS_SQL, {"sku_ids": list(sku_ids)}).all()
    }


OPEN_ORDERS_SQL = text("""
WITH closed_backorders AS (
    SELECT order_line_id, SUM(quantity)::int AS quantity FROM backorders
     WHERE sku_id = ANY(CAST(:sku_ids AS int[]))
       AND state IN ('cancelled_by_customer', 'auto_cancelled', 'substituted')
     GROUP BY order_line_id
), open_orders AS (
    SELECT ol.sku_id, o.number, o.placed_at, s.key AS store_key, s.name AS store,
           SUM(GREATEST(ol.quantity - COALESCE(cb.quantity, 0), 0))::int AS quantity
      FROM order_lines ol JOIN orders o ON o.id = ol.order_id JOIN stores s ON s.id = o.store_id
      LEFT JOIN closed_backorders cb ON cb.order_line_id = ol.id
     WHERE o.status = 'open' AND ol.sku_id = ANY(CAST(:sku_ids AS int[]))
     GROUP BY ol.sku_id, o.id, o.number, o.placed_at, s.key, s.name
    HAVING SUM(GREATEST(ol.quantity - COALESCE(cb.quantity, 0), 0)) > 0
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY sku_id ORDER BY placed_at, number) AS n,
           COUNT(*) OVER (PARTITION BY sku_id) AS total
      FROM open_orders
)
SELECT sku_id, number, placed_at, store_key, store, quantity, total FROM ranked
 WHERE n <= :limit ORDER BY sku_id, n
""")
"""The open orders behind ``open_demand``, counted exactly as NUMBERS_SQL's ``demand`` counts them."""


def open_orders(session: Session, sku_ids: Sequence[int], limit: int = MAX_NAMED_ORDERS
                ) -> dict[int, tuple[list[dict[str, Any]], int]]:
    """SKU id → (its oldest ``limit`` open orders as number/store/quantity, how many there are)."""
    found: dict[int, tuple[list[dict[str, Any]], int]] = {}
    if not sku_ids:
        return found
    for row in session.execute(OPEN_ORDERS_SQL, {"sku_ids": sorted(set(sku_ids)), "limit": limit}):
        orders, _ = found.get(row.sku_id, ([], 0))
        orders.append({"number": row.number, "store": row.store, "store_key": row.store_key,
                       "quantity": row.quantity, "placed_at": row.placed_at.isoformat()})
        found[row.sku_id] = (orders, int(row.total))
    return found


#: The SKUs' current states, locked in id order (a fixed statement: no per-id parameters to render).
LOCK_SKUS_SQL = text("""
SELECT id, state, threshold, allow_backorder, oversell_risk, atp_drift FROM skus
 WHERE id = ANY(CAST(:sku_ids AS int[])) ORDER BY id FOR NO KEY UPDATE
""")

STORE_TRANSITIONS_SQL = text("""
WITH incoming AS (
    SELECT * FROM unnest(CAST(:sku_ids AS int[]), CAST(:from_states AS text[]), CAST(:to_states AS text[]),
                         CAST(:numbers AS text[])) WITH ORDINALITY AS u(sku_id, from_state, to_state, numbers, n)
), stored AS (
    INSERT INTO sku_transitions (sku_id, from_state, to_state, numbers)
    SELECT sku_id, from_state, to_state, CAST(numbers AS jsonb) FROM incoming ORDER BY n
    RETURNING id, sku_id, from_state, to_state, numbers
), audited AS (
    INSERT INTO audit_log (actor, action, subject_type, subject_id, data)
    SELECT 'detect', 'stock.transition', 'sku', CAST(sku_id AS text),
           jsonb_build_object('transition_id', id, 'from_state', from_state, 'to_state', to_state) || numbers
      FROM stored
)
SELECT id, sku_id, to_state, numbers FROM stored
""")
"""One statement per evaluation for every transition and its audit row (the audit data is the
transition's id and states plus its numbers, as a per-transition insert wrote it)."""

SET_STATES_SQL = text("""
UPDATE skus AS k
   SET state = u.state, state_changed_at = CASE WHEN u.moved THEN :now ELSE k.state_changed_at END,
       oversell_risk = u.oversell_risk, atp_drift = u.atp_drift
  FROM unnest(CAST(:ids AS int[]), CAST(:states AS text[]), CAST(:moved AS bool[]),
              CAST(:risks AS bool[]), CAST(:drifts AS bool[])) AS u(id, state, moved, oversell_risk, atp_drift)
 WHERE k.id = u.id
""")


@dataclass(frozen=True)
class _Change:
    """One transition decided in Python, before it has an id."""

    sku_id: int
    from_state: str
    to_state: str
    numbers: Numbers


def evaluate(session: Session, sku_ids: Sequence[int], drift_tolerance: Decimal = Decimal("0.05"),
             drift_tolerances: Mapping[int, Decimal] | None = None) -> list[Transition]:
    """Decide and store the transitions of these SKUs, set-based: a handful of statements per
    call whatever the number of SKUs or transitions (a full sync evaluates 500 at a time).

    ``drift_tolerances`` maps a store id to its own ATP drift tolerance (``store_tolerances``);
    stores not in it are held to ``drift_tolerance``. SKU rows are locked in id order for the
    transaction, so two evaluations of the same SKU run one after the other and the second sees
    the first's state: one transition, one alert.
    """
    from domain.stock import location_thresholds

    session.flush()  # the numbers are read with a text statement, which does not autoflush
    skus = session.execute(LOCK_SKUS_SQL, {"sku_ids": sorted(set(sku_ids))}).all()
    numbers = load_numbers(session, [s.id for s in skus], {s.id: s.threshold for s in skus})
    rising = [s.id for s in skus if not s.oversell_risk and numbers[s.id].locations
              and oversell_risk(numbers[s.id])]
    named = open_orders(session, rising)
    changes: list[_Change] = []
    updates: list[tuple[int, str, bool, bool, bool]] = []
    for sku in skus:
        facts = numbers[sku.id]
        if facts.locations == 0:
            continue
        to_state = next_state(sku.state, facts.available, sku.threshold, sku.allow_backorder)
        risk = oversell_risk(facts)
        drift = atp_drifts(facts, drift_tolerance, drift_tolerances)
        states = [to_state] if to_state != sku.state else []
        changes += [_Change(sku.id, sku.state, state, facts) for state in states]
        if risk and not sku.oversell_risk:
            orders, total = named.get(sku.id, ([], 0))
            changes.append(_Change(sku.id, sku.state, "OVERSELL_RISK",
                                   replace(facts, orders=tuple(orders), orders_total=total)))
        if drift and not sku.atp_drift:
            used = {store: str((drift_tolerances or {}).get(store, drift_tolerance))
                    for store, *_ in facts.comparisons}
            changes.append(_Change(sku.id, sku.state, "ATP_DRIFT", replace(facts, drift_tolerances=used)))
        if (to_state, risk, drift) != (sku.state, sku.oversell_risk, sku.atp_drift):
            updates.append((sku.id, to_state, to_state != sku.state, risk, drift))
    changes += [_Change(c.sku_id, c.from_state, c.to_state, replace(numbers[c.sku_id], location=c.location))
                for c in location_thresholds.evaluate(session, [s.id for s in skus])]
    transitions = _store(session, changes)
    if updates:
        session.execute(SET_STATES_SQL, {
            "now": utcnow(), "ids": [u[0] for u in updates], "states": [u[1] for u in updates],
            "moved": [u[2] for u in updates], "risks": [u[3] for u in updates], "drifts": [u[4] for u in updates]})
        _expire_loaded(session, [u[0] for u in updates])
    return transitions


def _store(session: Session, changes: Sequence[_Change]) -> list[Transition]:
    """Insert the transitions and their audit rows; returns them with their ids, in decision order."""
    if not changes:
        return []
    rows = session.execute(STORE_TRANSITIONS_SQL, {
        "sku_ids": [c.sku_id for c in changes], "from_states": [c.from_state for c in changes],
        "to_states": [c.to_state for c in changes],
        "numbers": [json.dumps(c.numbers.as_dict()) for c in changes]}).all()
    # A SKU changes to a state once per call, or once per location for the location states.
    ids = {(row.sku_id, row.to_state, _location_id(row.numbers)): row.id for row in rows}
    return [Transition(ids[(c.sku_id, c.to_state, _location_id(c.numbers.as_dict()))], c.sku_id, c.from_state,
                       c.to_state, c.numbers) for c in changes]


def _location_id(numbers: Mapping[str, Any]) -> int | None:
    location = numbers.get("location")
    return int(location["location_id"]) if location else None


def _expire_loaded(session: Session, sku_ids: Sequence[int]) -> None:
    """SKU objects this session already holds were updated behind the ORM's back: reload on access."""
    for sku_id in sku_ids:
        loaded = session.identity_map.get(identity_key(Sku, sku_id))
        if loaded is not None:
            session.expire(loaded)
