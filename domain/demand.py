"""Demand: how many units of a SKU sell per day, from the history we hold.

One place answers "how fast does this sell?" for everything that needs it: purchasing sizes
orders from it and channel propagation sizes each store's sync-lag buffer from it.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.reorder import daily_velocity

VELOCITY_WINDOW = timedelta(days=28)

#: A sales pace needs a week of observation: shorter histories are padded with zero-sale days, so
#: a brand-new SKU's first-day sell-out does not buy months of stock.
MIN_VELOCITY_SPAN_DAYS = 7

#: Every reading in the window, plus each location's last reading before it (the baseline),
#: timed by the source's clock when it gave one (as the stock figures themselves are).
HISTORY_SQL = text("""
WITH timed AS (
    SELECT id, sku_id, location_id, on_hand, COALESCE(source_updated_at, recorded_at) AS at
      FROM stock_history WHERE sku_id = ANY(:sku_ids) AND COALESCE(source_updated_at, recorded_at) <= :now
), baseline AS (
    SELECT DISTINCT ON (sku_id, location_id) id, sku_id, location_id, on_hand, CAST(:since AS timestamptz) AS at
      FROM timed WHERE at < :since ORDER BY sku_id, location_id, at DESC, id DESC
)
SELECT sku_id, location_id, on_hand, at FROM (
    SELECT * FROM baseline UNION ALL SELECT * FROM timed WHERE at >= :since) readings
 ORDER BY sku_id, at, id
""")


def on_hand_histories(session: Session, sku_ids: Sequence[int], now: datetime,
                      window: timedelta = VELOCITY_WINDOW) -> dict[int, list[tuple[date, int]]]:
    """Each SKU's total on-hand (latest figure per location, summed) after every recorded change."""
    latest: dict[int, dict[int, int]] = defaultdict(dict)
    histories: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for sku_id, location_id, on_hand, at in session.execute(
            HISTORY_SQL, {"sku_ids": list(sku_ids), "since": now - window, "now": now}):
        latest[sku_id][location_id] = on_hand
        histories[sku_id].append((at.date(), sum(latest[sku_id].values())))
    return histories


def velocities(session: Session, sku_ids: Sequence[int], now: datetime,
               on_hand: Mapping[int, int] | None = None) -> dict[int, Decimal]:
    """Units per day for each SKU (0 for a SKU with nothing observed); ``on_hand`` is the SKUs'
    current totals when the caller already has them (they close each history at ``now``)."""
    histories = on_hand_histories(session, sku_ids, now)
    current = on_hand or {}
    paces: dict[int, Decimal] = {}
    for sku_id in sku_ids:
        readings = list(histories.get(sku_id, []))
        if sku_id in current:
            readings.append((now.date(), current[sku_id]))
        paces[sku_id] = daily_velocity(readings, min_span_days=MIN_VELOCITY_SPAN_DAYS)
    return paces
