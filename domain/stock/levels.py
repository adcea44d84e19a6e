"""Recording stock figures from any source with one set-based statement per page.

A page of platform records becomes rows keyed by SKU × location × source store. The upsert only
touches a row when the figure changed and the record is not older than what we hold, so a
webhook retried hours later (Shopify retries with the original payload) never overwrites newer
state. The statement returns the SKUs whose figures changed; only those go to detection. A
reading at an item and location the store disconnected, not newer than the disconnect, is dropped
(``domain.stock.connected_locations``).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from connectors.types import StockRecord
from domain.core.clock import utcnow
from domain.core.env_settings import env_seconds
from domain.core.models import ChannelListing, Sku, StoreLocation
from domain.stock import location_thresholds
from domain.stock.connected_locations import drop_disconnected

#: Pages travel as one JSON document of rows into fixed statements: compiled once, one round trip,
#: and no per-value work in Python (building a 250-row VALUES list each page cost more than the
#: database; dumping column arrays value by value still cost about 20 ms a page; ``json.dumps``
#: of the rows costs about 1 ms).
UPSERT_LISTINGS = text("""
INSERT INTO channel_listings (store_id, sku_id, external_id, inventory_item_id, parent_external_id,
                              backorders_allowed)
SELECT :store_id, u.sku_id, u.external_id, u.item_id, u.parent, u.backorders
  FROM json_to_recordset(CAST(:rows AS json))
       AS u(sku_id int, external_id text, item_id text, parent text, backorders bool)
ON CONFLICT ON CONSTRAINT uq_channel_listings_store_sku DO UPDATE
   SET external_id = excluded.external_id, inventory_item_id = excluded.inventory_item_id,
       parent_external_id = excluded.parent_external_id, backorders_allowed = excluded.backorders_allowed
 WHERE (channel_listings.external_id, channel_listings.inventory_item_id, channel_listings.parent_external_id,
        channel_listings.backorders_allowed)
       IS DISTINCT FROM (excluded.external_id, excluded.inventory_item_id, excluded.parent_external_id,
                         excluded.backorders_allowed)
""")

#: Only a changed figure that is not older than the stored one is written; history gets exactly
#: the rows that changed, and the statement returns their SKU ids.
#:
#: A reading equal to a figure we wrote to this store at that location whose echo is still awaited
#: (``pushed_levels.awaiting``: a burst of pushes may overtake their echoes), or to the last one we
#: wrote while the store has reported nothing else there, within ``echo_window()`` of the push, is
#: our own push coming back: the awaited one goes to history once, marked ``echo``; neither
#: touches ``stock_levels`` nor is returned, so it triggers no detection and no push. Any other
#: reading from a store we wrote to counts down from what we wrote, which was short of the truth by
#: ``withheld`` (its buffer and the units promised to waiting customers): that is added back, so a
#: channel's sale lowers the truth by the units sold, not by the buffer too. Such a reading also
#: ends the wait for every earlier echo there: the store has moved past our writes (an echo that
#: still comes is older than that reading and loses to it on ``source_updated_at``), and a figure
#: left awaited by a write that never happened (a worker killed between registering it and
#: sending it) must not swallow a real reading that later happens to equal it. Without pushed
#: levels (benchmarks, read-only stores) the join finds nothing and the statement does what it
#: always did.
UPSERT_LEVELS = text("""
WITH incoming AS (
    SELECT u.sku_id, u.location_id, u.on_hand, u.available, u.committed, u.source_updated_at,
           COALESCE(p.withheld, 0) AS withheld,
           (p.pushed_at >= CAST(:echo_since AS timestamptz)
            AND (u.available = ANY(p.awaiting) OR (p.live AND u.available = p.available))) IS TRUE AS echo,
           (u.available = ANY(p.awaiting)) IS TRUE AS first_echo
      FROM json_to_recordset(CAST(:rows AS json))
           AS u(sku_id int, location_id int, on_hand int, available int, committed int, source_updated_at timestamptz)
      LEFT JOIN pushed_levels p ON p.sku_id = u.sku_id AND p.store_id = :store_id AND p.location_id = u.location_id
), upserted AS (
    INSERT INTO stock_levels AS sl (sku_id, location_id, store_id, on_hand, available, committed,
                                    source_updated_at)
    SELECT sku_id, location_id, :store_id, on_hand + withheld, available + withheld, committed, source_updated_at
      FROM incoming WHERE NOT echo
    ON CONFLICT (sku_id, location_id, store_id) DO UPDATE
       SET on_hand = excluded.on_hand, available = excluded.available, committed = excluded.committed,
           source_updated_at = excluded.source_updated_at, updated_at = excluded.updated_at
     WHERE (sl.source_updated_at IS NULL OR excluded.source_updated_at IS NULL
            OR excluded.source_updated_at >= sl.source_updated_at)
       AND (sl.on_hand, sl.available, sl.committed)
           IS DISTINCT FROM (excluded.on_hand, excluded.available, excluded.committed)
    RETURNING sl.sku_id, sl.location_id, sl.on_hand, sl.available, sl.source_updated_at
), history AS (
    INSERT INTO stock_history (sku_id, location_id, store_id, on_hand, available, source_updated_at, echo)
    SELECT sku_id, location_id, :store_id, on_hand, available, source_updated_at, false FROM upserted
    UNION ALL
    SELECT sku_id, location_id, :store_id, on_hand, available, source_updated_at, true FROM incoming
     WHERE echo AND first_echo
), echoed AS (
    UPDATE pushed_levels p SET echoed_at = now(), awaiting = array_remove(p.awaiting, i.available)
      FROM incoming i
     WHERE i.echo AND i.first_echo AND p.sku_id = i.sku_id AND p.store_id = :store_id AND p.location_id = i.location_id
), superseded AS (
    UPDATE pushed_levels p SET live = false, awaiting = '{}'
      FROM upserted u
     WHERE (p.live OR p.awaiting <> '{}') AND p.sku_id = u.sku_id AND p.store_id = :store_id
       AND p.location_id = u.location_id
)
SELECT DISTINCT sku_id FROM upserted ORDER BY sku_id
""")

#: How long after a push a reading equal to it is taken for its echo (``PUSH_ECHO_WINDOW_S``).
#: Longer than any poll interval: a store polled every ten minutes reports our figure back then.
DEFAULT_ECHO_WINDOW = timedelta(hours=24)


def echo_window() -> timedelta:
    """``PUSH_ECHO_WINDOW_S`` (seconds, default a day): a garbled value falls back to the default."""
    return env_seconds("PUSH_ECHO_WINDOW_S", DEFAULT_ECHO_WINDOW)


@dataclass(frozen=True)
class RecordResult:
    changed_sku_ids: list[int]
    unknown: list[StockRecord] = field(default_factory=list)
    stored: int = 0


@dataclass(frozen=True)
class _Row:
    sku_id: int
    location_id: int
    on_hand: int
    available: int
    committed: int
    source_updated_at: datetime | None


SKU_IDS_BY_CODE = text("SELECT code, id FROM skus WHERE code = ANY(CAST(:codes AS text[]))")


def _ids_by_code(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """SKU code → id for the codes we know, with one fixed statement (no per-code parameters)."""
    codes = list(codes)
    return dict(session.execute(SKU_IDS_BY_CODE, {"codes": codes}).tuples().all()) if codes else {}


def learn_listings(session: Session, store_id: int, records: Iterable[StockRecord],
                   by_code: dict[str, int] | None = None) -> None:
    """Remember where each SKU lives on this store (the ids a write-back needs); ``by_code`` is
    the SKU ids of the records' codes when the caller has already looked them up."""
    with_sku = {r.sku: r for r in records if r.sku}
    if not with_sku:
        return
    sku_ids = by_code if by_code is not None else _ids_by_code(session, with_sku)
    rows = [(sku_ids[code], r) for code, r in with_sku.items() if code in sku_ids]
    if rows:
        session.execute(UPSERT_LISTINGS, {"store_id": store_id, "rows": json.dumps([
            {"sku_id": i, "external_id": r.external_id, "item_id": r.inventory_item_id,
             "parent": r.parent_external_id, "backorders": r.backorders_allowed} for i, r in rows])})


def _sku_ids(session: Session, store_id: int, records: Sequence[StockRecord], by_code: dict[str, int]
             ) -> dict[int, int]:
    """Index in ``records`` → SKU id, by SKU code first, else by the platform ids we learned."""
    item_ids = {r.inventory_item_id for r in records if not r.sku and r.inventory_item_id}
    external_ids = {r.external_id for r in records if not r.sku}
    by_item: dict[str, int] = {}
    by_external: dict[str, int] = {}
    if item_ids or external_ids:
        listings = session.execute(select(ChannelListing.inventory_item_id, ChannelListing.external_id,
                                          ChannelListing.sku_id).where(
            ChannelListing.store_id == store_id,
            or_(ChannelListing.inventory_item_id.in_(item_ids), ChannelListing.external_id.in_(external_ids)),
        ))
        for item_id, external_id, sku_id in listings:
            if item_id:
                by_item[item_id] = sku_id
            by_external[external_id] = sku_id
    resolved: dict[int, int] = {}
    for index, record in enumerate(records):
        sku_id = (by_code.get(record.sku) if record.sku else
                  by_item.get(record.inventory_item_id or "") or by_external.get(record.external_id))
        if sku_id is not None:
            resolved[index] = sku_id
    return resolved


def _location_ids(session: Session, store_id: int) -> tuple[dict[str, int], int | None]:
    """The store's platform location ids → ours, and the location used when a record names none."""
    mapping = dict(session.execute(select(StoreLocation.external_id, StoreLocation.location_id)
                                   .where(StoreLocation.store_id == store_id)).all())
    default = mapping.get("default") or (min(mapping.values()) if mapping else None)
    return mapping, default


def _older(row: _Row, than: _Row) -> bool:
    """Within one page the newest figure for a SKU × location wins; undated ones keep page order."""
    if row.source_updated_at is None or than.source_updated_at is None:
        return False
    return row.source_updated_at < than.source_updated_at


def _figures(record: StockRecord) -> tuple[int, int, int] | None:
    """(on_hand, available, committed); None for untracked items (no figure at all)."""
    if record.on_hand is None and record.available is None:
        return None
    committed = record.committed or 0
    on_hand = record.on_hand if record.on_hand is not None else (record.available or 0) + committed
    available = record.available if record.available is not None else on_hand - committed
    return on_hand, available, committed


def _restock_etas(session: Session, etas: list[tuple[int, date]]) -> None:
    """The date a platform expects a SKU's next units (Omnichannel Inventory's nearest future) becomes
    the SKU's ETA, where the customer journey reads a date set for the SKU (``eta_for``); a record
    naming none leaves the date as it is (staff may have set it)."""
    nearest: dict[int, date] = {}
    for sku_id, eta in etas:
        nearest[sku_id] = min(eta, nearest.get(sku_id, eta))
    for sku_id, eta in sorted(nearest.items()):
        session.execute(update(Sku).where(Sku.id == sku_id, or_(Sku.eta.is_(None), Sku.eta != eta)).values(eta=eta))


def record_batch(session: Session, store_id: int, records: Sequence[StockRecord]) -> RecordResult:
    """Store a page of figures; return the SKUs whose stock changed and the records we could not place."""
    session.flush()  # the statements below are text, which does not autoflush
    by_code = _ids_by_code(session, {r.sku for r in records if r.sku})
    learn_listings(session, store_id, records, by_code)
    sku_ids = _sku_ids(session, store_id, records, by_code)
    locations, default_location = _location_ids(session, store_id)
    rows: dict[tuple[int, int], _Row] = {}
    unknown: list[StockRecord] = []
    reorder_points: list[tuple[int, int, int, int | None]] = []
    for index, record in enumerate(records):
        figures = _figures(record)
        location_id = (locations.get(record.location_external_id) if record.location_external_id
                       else default_location)
        if index not in sku_ids or location_id is None:
            unknown.append(record)
            continue
        if record.reorder_point is not None:
            reorder_points.append((sku_ids[index], location_id, record.reorder_point, record.restock_level))
        if figures is None:
            continue
        row = _Row(sku_ids[index], location_id, *figures, record.updated_at)
        previous = rows.get((row.sku_id, row.location_id))
        if previous is None or not _older(row, previous):
            rows[(row.sku_id, row.location_id)] = row
    _restock_etas(session, [(sku_ids[index], record.restock_eta) for index, record in enumerate(records)
                            if index in sku_ids and record.restock_eta])
    # an item the store disconnected from a location: its older readings there count no more
    for key in drop_disconnected(session, store_id, ((r.sku_id, r.location_id, r.source_updated_at)
                                                     for r in rows.values())):
        del rows[key]
    # A reorder point that changed is news for detection even when the figure did not move.
    thresholds_moved = location_thresholds.import_levels(session, store_id, reorder_points)
    if not rows:
        return RecordResult(thresholds_moved, unknown, 0)
    # Rows go in key order: two transactions storing overlapping figures (two drains of one store,
    # a drain beside a poll) then lock them in the same order and wait for each other, never deadlock.
    changed = session.execute(UPSERT_LEVELS, {"store_id": store_id, "echo_since": utcnow() - echo_window(),
                                              "rows": json.dumps([
        {"sku_id": r.sku_id, "location_id": r.location_id, "on_hand": r.on_hand, "available": r.available,
         "committed": r.committed,
         "source_updated_at": r.source_updated_at.isoformat() if r.source_updated_at else None}
        for _, r in sorted(rows.items())])}).scalars().all()
    return RecordResult(sorted(set(changed) | set(thresholds_moved)), unknown, len(rows))
