"""Thresholds where stock lives: a SKU's own low-stock level at one location.

The SKU-wide threshold watches the sum over locations, so a showroom sold down to 0 goes unseen
while the warehouse holds plenty. A per-location threshold watches that location's own figure
(the latest one any source reported there) and moves it OK → LOW → OUT with the same hysteresis
band as the SKU-wide rule, so a location bouncing around its threshold alerts once per crossing:

* OK → LOW (figure at or under the threshold, above 0): LOCATION_LOW, event ``stock.location_low``;
* OK or LOW → OUT (figure 0 or less): LOCATION_OUT, event ``stock.location_out``;
* recovering (OUT → LOW, back to OK above threshold + band) raises nothing.

Where the threshold comes from is kept on the row: the TOML file (``[[skus]]
location_thresholds = { showroom = 2 }``) and a platform that already holds one (Lightspeed
X-Series' per-outlet reorder point, imported on every stock read) fill separate columns, and the
file's figure wins. Removing it from the file gives the platform's figure back; a location left
with no threshold at all is back to OK, so a threshold set again later starts afresh.

With its reorder point the platform's restock level is imported (Lightspeed's per-outlet reorder
amount: what its stock order would add there). It decides no state; the location's alerts show it,
so staff see what the platform itself would reorder.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.stock.detection import hysteresis_band

#: Location state → the transition (and so the alert) entering it raises.
TRANSITIONS = {"LOW": "LOCATION_LOW", "OUT": "LOCATION_OUT"}


def next_location_state(current: str, available: int, threshold: int) -> str:
    """The state machine on one location's figure (pure, so the rules are easy to test)."""
    if available <= 0:
        return "OUT"
    if available <= threshold:
        return "LOW"
    if current in ("LOW", "OUT") and available <= threshold + hysteresis_band(threshold):
        return "LOW"
    return "OK"


def raises_alert(current: str, new: str) -> bool:
    """Only a worsening crossing alerts: OK → LOW, OK → OUT, LOW → OUT."""
    order = {"OK": 0, "LOW": 1, "OUT": 2}
    return order[new] > order[current]


@dataclass(frozen=True)
class LocationChange:
    """A location that crossed its threshold, with what the alert shows."""

    sku_id: int
    from_state: str
    to_state: str
    location: dict[str, Any]


#: Every threshold in use for these SKUs with the location's latest figure, in a fixed order. The
#: figure is looked up per watched row (the stock_levels primary key serves it), so SKUs without a
#: location threshold, the common case, cost one index probe on the unique key and nothing more.
WATCHED_SQL = text("""
SELECT lt.id, lt.sku_id, lt.location_id, l.key, l.name, lt.state, lt.config_threshold, lt.imported_threshold,
       lt.imported_restock_level, s.key AS imported_from, la.available
  FROM location_thresholds lt
  JOIN locations l ON l.id = lt.location_id
  LEFT JOIN stores s ON s.id = lt.imported_from_store_id
  CROSS JOIN LATERAL (
      SELECT sl.available FROM stock_levels sl
       WHERE sl.sku_id = lt.sku_id AND sl.location_id = lt.location_id
       ORDER BY COALESCE(sl.source_updated_at, sl.updated_at) DESC, sl.updated_at DESC
       LIMIT 1) la
 WHERE lt.sku_id = ANY(CAST(:sku_ids AS int[]))
   AND COALESCE(lt.config_threshold, lt.imported_threshold) IS NOT NULL
 ORDER BY lt.sku_id, lt.location_id
""")

SET_STATES_SQL = text("""
UPDATE location_thresholds AS lt SET state = u.state, state_changed_at = :now
  FROM unnest(CAST(:ids AS int[]), CAST(:states AS text[])) AS u(id, state)
 WHERE lt.id = u.id
""")


def evaluate(session: Session, sku_ids: Sequence[int]) -> list[LocationChange]:
    """Move every watched location of these SKUs; return the crossings that alert.

    Called by ``domain.stock.detection.evaluate`` with the SKU rows already locked, so two evaluations
    of one SKU cannot both see a location's old state.
    """
    if not sku_ids:
        return []
    changes: list[LocationChange] = []
    moved: list[tuple[int, str]] = []
    for row in session.execute(WATCHED_SQL, {"sku_ids": sorted(set(sku_ids))}):
        from_file = row.config_threshold is not None
        threshold = row.config_threshold if from_file else row.imported_threshold
        new = next_location_state(row.state, row.available, threshold)
        if new == row.state:
            continue
        moved.append((row.id, new))
        if raises_alert(row.state, new):
            changes.append(LocationChange(row.sku_id, row.state, TRANSITIONS[new], {
                "location_id": row.location_id, "key": row.key, "name": row.name, "available": row.available,
                "threshold": threshold, "from_state": row.state, "to_state": new,
                "threshold_source": "config file" if from_file else f"{row.imported_from or 'platform'} reorder point",
                "config_threshold": row.config_threshold, "imported_threshold": row.imported_threshold,
                "restock_level": row.imported_restock_level}))
    if moved:
        session.execute(SET_STATES_SQL, {"now": utcnow(), "ids": [m[0] for m in moved],
                                         "states": [m[1] for m in moved]})
    return changes


#: The file's thresholds for the SKUs it lists: set the ones named, clear the ones no longer named.
APPLY_CONFIG_SQL = text("""
WITH wanted AS (
    SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS u(sku_id int, location_id int, threshold int)
), cleared AS (
    UPDATE location_thresholds lt
       SET config_threshold = NULL, state = CASE WHEN lt.imported_threshold IS NULL THEN 'OK' ELSE lt.state END
     WHERE lt.sku_id = ANY(CAST(:sku_ids AS int[])) AND lt.config_threshold IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.sku_id = lt.sku_id AND w.location_id = lt.location_id)
)
INSERT INTO location_thresholds (sku_id, location_id, config_threshold)
SELECT sku_id, location_id, threshold FROM wanted
ON CONFLICT ON CONSTRAINT uq_location_thresholds_sku_location DO UPDATE
   SET config_threshold = excluded.config_threshold
 WHERE location_thresholds.config_threshold IS DISTINCT FROM excluded.config_threshold
""")


def apply_config(session: Session, sku_ids: Mapping[str, int], location_ids: Mapping[str, int],
                 thresholds: Mapping[str, Mapping[str, int]]) -> int:
    """Store the file's per-location thresholds (SKU code → location key → threshold) for the SKUs
    in ``sku_ids``; a threshold the file no longer names is cleared (the platform's figure, if
    any, applies again). Returns how many thresholds the file sets."""
    rows = [{"sku_id": sku_ids[code], "location_id": location_ids[key], "threshold": value}
            for code, by_location in thresholds.items() if code in sku_ids
            for key, value in by_location.items() if key in location_ids]
    session.execute(APPLY_CONFIG_SQL, {"rows": json.dumps(rows), "sku_ids": sorted(sku_ids.values())})
    return len(rows)


#: A platform's reorder points and restock levels: changed figures only; 0 means the platform has
#: none set.
IMPORT_SQL = text("""
WITH incoming AS (
    SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS u(sku_id int, location_id int, threshold int, restock int)
)
INSERT INTO location_thresholds (sku_id, location_id, imported_threshold, imported_restock_level,
                                 imported_from_store_id, imported_at)
SELECT sku_id, location_id, NULLIF(threshold, 0), NULLIF(restock, 0), :store_id, :now FROM incoming
 WHERE threshold > 0 OR EXISTS (SELECT 1 FROM location_thresholds lt
                                WHERE lt.sku_id = incoming.sku_id AND lt.location_id = incoming.location_id)
ON CONFLICT ON CONSTRAINT uq_location_thresholds_sku_location DO UPDATE
   SET imported_threshold = excluded.imported_threshold, imported_from_store_id = excluded.imported_from_store_id,
       imported_restock_level = excluded.imported_restock_level, imported_at = excluded.imported_at,
       state = CASE WHEN excluded.imported_threshold IS NULL AND location_thresholds.config_threshold IS NULL
                    THEN 'OK' ELSE location_thresholds.state END
 WHERE (location_thresholds.imported_threshold, location_thresholds.imported_restock_level,
        location_thresholds.imported_from_store_id)
       IS DISTINCT FROM (excluded.imported_threshold, excluded.imported_restock_level, excluded.imported_from_store_id)
RETURNING sku_id
""")


def import_levels(session: Session, store_id: int,
                  levels: Iterable[tuple[int, int, int, int | None]]) -> list[int]:
    """Record reorder points a platform reported as (SKU id, location id, reorder point, restock
    level or None); returns the SKUs whose imported figures changed (detection looks at them again).

    A reorder point of 0 is how Lightspeed shows "none set": it clears an imported figure and
    creates no row; a restock level of 0 or None is kept as none. The last figures per SKU ×
    location in ``levels`` win.
    """
    latest = {(sku_id, location_id): (max(0, int(point)), max(0, int(restock or 0)))
              for sku_id, location_id, point, restock in levels}
    if not latest:
        return []
    changed = session.execute(IMPORT_SQL, {"store_id": store_id, "now": utcnow(), "rows": json.dumps([
        {"sku_id": sku_id, "location_id": location_id, "threshold": point, "restock": restock}
        for (sku_id, location_id), (point, restock) in sorted(latest.items())])}).scalars().all()
    return sorted(set(changed))
