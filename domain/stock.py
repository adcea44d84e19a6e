"""Recording stock figures from any source with one set-based statement per page.

A page of platform records becomes rows keyed by SKU × location × source store. The upsert only
touches a row when the figure changed and the record is not older than what we hold, so a
webhook retried hours later (Shopify retries with the original payload) never overwrites newer
state. The statement returns the SKUs whose figures changed; only those go to detection.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connectors.types import StockRecord
from domain.models import ChannelListing, Sku, StockHistory, StockLevel, StoreLocation


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


def learn_listings(session: Session, store_id: int, records: Iterable[StockRecord]) -> None:
    """Remember where each SKU lives on this store (the ids a write-back needs)."""
    with_sku = {r.sku: r for r in records if r.sku}
    if not with_sku:
        return
    sku_ids = dict(session.execute(select(Sku.code, Sku.id).where(Sku.code.in_(list(with_sku)))).all())
    rows = [
        {"store_id": store_id, "sku_id": sku_ids[code], "external_id": r.external_id,
         "inventory_item_id": r.inventory_item_id, "parent_external_id": r.parent_external_id,
         "backorders_allowed": r.backorders_allowed}
        for code, r in with_sku.items() if code in sku_ids
    ]
    if not rows:
        return
    statement = insert(ChannelListing).values(rows)
    session.execute(statement.on_conflict_do_update(
        constraint="uq_channel_listings_store_sku",
        set_={name: statement.excluded[name] for name in ("external_id", "inventory_item_id",
                                                          "parent_external_id", "backorders_allowed")},
    ))


def _sku_ids(session: Session, store_id: int, records: Sequence[StockRecord]) -> dict[int, int]:
    """Index in ``records`` → SKU id, by SKU code first, else by the platform ids we learned."""
    codes = {r.sku for r in records if r.sku}
    by_code = dict(session.execute(select(Sku.code, Sku.id).where(Sku.code.in_(codes))).all()) if codes else {}
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


def record_batch(session: Session, store_id: int, records: Sequence[StockRecord]) -> RecordResult:
    """Store a page of figures; return the SKUs whose stock changed and the records we could not place."""
    learn_listings(session, store_id, records)
    sku_ids = _sku_ids(session, store_id, records)
    locations, default_location = _location_ids(session, store_id)
    rows: dict[tuple[int, int], _Row] = {}
    unknown: list[StockRecord] = []
    for index, record in enumerate(records):
        figures = _figures(record)
        location_id = (locations.get(record.location_external_id) if record.location_external_id
                       else default_location)
        if index not in sku_ids or location_id is None:
            unknown.append(record)
            continue
        if figures is None:
            continue
        row = _Row(sku_ids[index], location_id, *figures, record.updated_at)
        previous = rows.get((row.sku_id, row.location_id))
        if previous is None or not _older(row, previous):
            rows[(row.sku_id, row.location_id)] = row
    if not rows:
        return RecordResult([], unknown, 0)
    statement = insert(StockLevel).values([
        {"sku_id": r.sku_id, "location_id": r.location_id, "store_id": store_id, "on_hand": r.on_hand,
         "available": r.available, "committed": r.committed, "source_updated_at": r.source_updated_at}
        for r in rows.values()
    ])
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["sku_id", "location_id", "store_id"],
        set_={"on_hand": excluded.on_hand, "available": excluded.available, "committed": excluded.committed,
              "source_updated_at": excluded.source_updated_at, "updated_at": excluded.updated_at},
        where=and_(
            or_(StockLevel.source_updated_at.is_(None), excluded.source_updated_at.is_(None),
                excluded.source_updated_at >= StockLevel.source_updated_at),
            tuple_(StockLevel.on_hand, StockLevel.available, StockLevel.committed)
            != tuple_(excluded.on_hand, excluded.available, excluded.committed),
        ),
    ).returning(StockLevel.sku_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.available,
                StockLevel.source_updated_at)
    changed = session.execute(statement).all()
    if changed:
        session.execute(insert(StockHistory).values([
            {"sku_id": sku_id, "location_id": location_id, "store_id": store_id, "on_hand": on_hand,
             "available": available, "source_updated_at": source_updated_at}
            for sku_id, location_id, on_hand, available, source_updated_at in changed
        ]))
    return RecordResult(sorted({row[0] for row in changed}), unknown, len(rows))
