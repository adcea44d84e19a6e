"""Demand: how many units of a SKU sell per day, counted once, from real consumption.

One place answers "how fast does this sell?" for everything that needs it: purchasing sizes
orders from it and channel propagation sizes each store's sync-lag buffer from it.

Sources, first that has anything for the SKU in the window (``VELOCITY_WINDOW`` before now):

1. ``order_lines``: units on the order lines we recorded, by the day their order was placed,
   cancelled orders left out (a voided sale sold nothing). The span runs from the first order we
   recorded at all (or the window's start, if later) to today. Point-of-sale sales are order lines
   too (Lightspeed X-Series' sales are read as orders), so in-store demand counts here.
2. ``on_hand_history``: decreases of on-hand at each location, read only from the one store that
   is that location's record (``record_stores``): the location's ``owner`` when the TOML names
   one, else the ERP (a store with ``sells = false``) that maps it, lowest id first, else the
   lowest-id store that maps it. Several stores report the same warehouse; one sale there shows
   up in each of them, and in our own write-backs echoed back to us, so counting every report
   would count it once per report. Readings marked ``echo`` (a store repeating a figure we
   pushed) are skipped, and an increase (a receipt, a recount) is never a negative sale.
3. ``none``: nothing observed; velocity 0.

Every pace is a ``Pace`` that keeps its source, window and units, so a PO line can say where its
velocity came from. The same history gives the same pace whatever order messages arrived in:
readings are ordered by the source's own time, then by row id, and record stores by id.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.purchasing.reorder import daily_sales, weighted_velocity

VELOCITY_WINDOW = timedelta(days=28)

#: A sales pace needs a week of observation: shorter histories are padded with zero-sale days, so
#: a brand-new SKU's first-day sell-out does not buy months of stock.
MIN_VELOCITY_SPAN_DAYS = 7

SOURCES = ("order_lines", "on_hand_history", "none")

#: Each location's record store: its owner, else the lowest-id enabled ERP mapping it, else the
#: lowest-id enabled store mapping it.
RECORD_STORES_SQL = text("""
SELECT l.id AS location_id, l.key AS location_key, s.id AS store_id, s.key AS store_key
  FROM locations l
  JOIN LATERAL (
      SELECT st.id, st.key FROM stores st
       WHERE CASE WHEN l.owner_store_id IS NOT NULL THEN st.id = l.owner_store_id
                  ELSE st.enabled AND EXISTS (SELECT 1 FROM store_locations sl
                                               WHERE sl.store_id = st.id AND sl.location_id = l.id) END
       ORDER BY st.sells, st.id
       LIMIT 1) s ON true
 ORDER BY l.id
""")

#: The record stores' readings in the window, plus each location's last reading before it (the
#: baseline), timed by the source's clock when it gave one. Echoes of our own pushes are skipped.
HISTORY_SQL = text("""
WITH timed AS (
    SELECT h.id, h.sku_id, h.location_id, h.on_hand, COALESCE(h.source_updated_at, h.recorded_at) AS at
      FROM stock_history h
      JOIN json_to_recordset(CAST(:record AS json)) AS r(location_id int, store_id int)
        ON r.location_id = h.location_id AND r.store_id = h.store_id
     WHERE h.sku_id = ANY(:sku_ids) AND NOT h.echo AND COALESCE(h.source_updated_at, h.recorded_at) <= :now
), baseline AS (
    SELECT DISTINCT ON (sku_id, location_id) id, sku_id, location_id, on_hand, CAST(:since AS timestamptz) AS at
      FROM timed WHERE at < :since ORDER BY sku_id, location_id, at DESC, id DESC
)
SELECT sku_id, location_id, on_hand, at FROM (
    SELECT * FROM baseline UNION ALL SELECT * FROM timed WHERE at >= :since) readings
 ORDER BY sku_id, at, id
""")

#: A cancelled order (a voided point-of-sale sale among them) sold nothing: its lines are not demand.
ORDER_UNITS_SQL = text("""
SELECT ol.sku_id, o.placed_at, ol.quantity
  FROM order_lines ol JOIN orders o ON o.id = ol.order_id
 WHERE ol.sku_id = ANY(:sku_ids) AND o.placed_at >= :since AND o.placed_at <= :now AND o.status <> 'cancelled'
 ORDER BY ol.sku_id, o.placed_at, ol.id
""")
#: When we started recording orders: the days before it are not zero-sale days, they are unknown.
FIRST_ORDER_SQL = text("SELECT MIN(placed_at) FROM orders WHERE placed_at <= :now")


@dataclass(frozen=True)
class Pace:
    """A SKU's units per day and where they came from."""

    velocity: Decimal
    source: str
    #: Days the average is taken over (the observed span, padded to ``MIN_VELOCITY_SPAN_DAYS``).
    window_days: int = 0
    since: date | None = None
    until: date | None = None
    #: Units counted as sold over the window.
    units: int = 0
    #: Location key → the key of the store whose readings were counted there (on_hand_history).
    record_stores: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown demand source {self.source!r} (one of {', '.join(SOURCES)})")

    def as_reason(self) -> dict[str, Any]:
        """JSON-ready, for a PO line's ``reason`` and audit rows."""
        data: dict[str, Any] = {"source": self.source, "velocity": str(self.velocity),
                                "window_days": self.window_days, "units": self.units,
                                "since": self.since.isoformat() if self.since else None,
                                "until": self.until.isoformat() if self.until else None}
        if self.source == "on_hand_history":
            data["record_stores"] = dict(self.record_stores)
        return data


NO_DEMAND = Pace(Decimal(0), "none")


def _day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def record_stores(session: Session) -> dict[int, tuple[int, str, str]]:
    """Location id → (record store id, location key, store key), for every location a store maps."""
    return {int(row.location_id): (int(row.store_id), str(row.location_key), str(row.store_key))
            for row in session.execute(RECORD_STORES_SQL)}


def _pace(sales: dict[date, int], source: str, **extra: Any) -> Pace:
    """Pad the span to a week (as ``weighted_velocity`` does) and keep what was averaged."""
    if not sales:
        return NO_DEMAND
    first, last = min(sales), max(sales)
    span = max((last - first).days + 1, MIN_VELOCITY_SPAN_DAYS)
    return Pace(velocity=weighted_velocity(sales, min_span_days=MIN_VELOCITY_SPAN_DAYS), source=source,
                window_days=span, since=last - timedelta(days=span - 1), until=last,
                units=sum(sales.values()), **extra)


def order_line_paces(session: Session, sku_ids: Sequence[int], now: datetime,
                     window: timedelta = VELOCITY_WINDOW) -> dict[int, Pace]:
    """Paces from recorded order lines, for the SKUs that have any in the window."""
    since = now - window
    units: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for sku_id, placed_at, quantity in session.execute(ORDER_UNITS_SQL, {"sku_ids": list(sku_ids), "since": since,
                                                                         "now": now}):
        units[int(sku_id)].append((_day(placed_at), int(quantity)))
    if not units:
        return {}
    first_order = session.scalar(FIRST_ORDER_SQL, {"now": now})
    start = max(_day(since), _day(first_order)) if first_order else _day(since)
    today = _day(now)
    paces: dict[int, Pace] = {}
    for sku_id, sold in units.items():
        sales = {start + timedelta(days=offset): 0 for offset in range((today - start).days + 1)}
        for day, quantity in sold:
            sales[max(day, start)] += quantity
        paces[sku_id] = _pace(sales, "order_lines")
    return paces


def on_hand_histories(session: Session, sku_ids: Sequence[int], now: datetime,
                      window: timedelta = VELOCITY_WINDOW,
                      record: Mapping[int, tuple[int, str, str]] | None = None,
                      ) -> dict[int, tuple[list[tuple[date, int]], set[int]]]:
    """Each SKU's total on-hand over its locations' record stores (latest reading per location,
    summed) after every recorded change, and the locations that had readings.

    One reading changes one location, so a decrease of the total is a decrease at a location and
    a location's first reading (a new location) raises the total instead of selling anything."""
    record = record_stores(session) if record is None else record
    latest: dict[int, dict[int, int]] = defaultdict(dict)
    histories: dict[int, tuple[list[tuple[date, int]], set[int]]] = {}
    rows = session.execute(HISTORY_SQL, {
        "sku_ids": list(sku_ids), "since": now - window, "now": now,
        "record": json.dumps([{"location_id": location_id, "store_id": store_id}
                              for location_id, (store_id, _, _) in sorted(record.items())])})
    for sku_id, location_id, on_hand, at in rows:
        readings, locations = histories.setdefault(int(sku_id), ([], set()))
        latest[sku_id][location_id] = on_hand
        locations.add(int(location_id))
        readings.append((_day(at), sum(latest[sku_id].values())))
    return histories


def paces(session: Session, sku_ids: Sequence[int], now: datetime) -> dict[int, Pace]:
    """Each SKU's pace from its first source that has anything in the window (see the module)."""
    ids = sorted(set(sku_ids))
    found = order_line_paces(session, ids, now)
    rest = [sku_id for sku_id in ids if sku_id not in found]
    if rest:
        record = record_stores(session)
        today = _day(now)
        for sku_id, (readings, locations) in on_hand_histories(session, rest, now, record=record).items():
            readings = [*readings, (today, readings[-1][1])]  # the span runs to today
            stores = {record[loc][1]: record[loc][2] for loc in sorted(locations) if loc in record}
            found[sku_id] = _pace(daily_sales(readings), "on_hand_history", record_stores=stores)
    return {sku_id: found.get(sku_id, NO_DEMAND) for sku_id in ids}


def velocities(session: Session, sku_ids: Sequence[int], now: datetime,
               on_hand: Mapping[int, int] | None = None) -> dict[int, Decimal]:
    """Units per day for each SKU (0 for a SKU with nothing observed): ``paces`` without the
    explanation. ``on_hand`` is accepted for callers written before the record stores existed and
    is not needed: each history now closes at ``now`` on the record stores' own readings."""
    return {sku_id: pace.velocity for sku_id, pace in paces(session, sku_ids, now).items()}
