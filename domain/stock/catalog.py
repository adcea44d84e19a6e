"""Loads the business configuration into the database: stores, locations, vendors and SKU rules.

Upserts by natural key, so applying the same file twice changes nothing and an edited threshold
takes effect on the next apply. Rows that left the file are kept (orders and history point at
them); a store removed from the file is disabled instead. Per-location thresholds are rows of
their own (``domain.stock.location_thresholds``): the file sets the ones it names and clears the ones
it stopped naming, leaving a platform's imported reorder point in place.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig
from domain.core.models import Location, Sku, Store, StoreLocation, Vendor
from domain.stock import location_thresholds


@dataclass(frozen=True)
class ApplySummary:
    locations: int
    stores: int
    vendors: int
    skus: int


def _upsert(session: Session, model: type, key_column: str, rows: list[dict[str, object]]) -> dict[str, int]:
    if not rows:
        return {}
    statement = insert(model).values(rows)
    updates = {name: statement.excluded[name] for name in rows[0] if name != key_column}
    statement = statement.on_conflict_do_update(index_elements=[key_column], set_=updates)
    session.execute(statement)
    column = getattr(model, key_column)
    keys = [row[key_column] for row in rows]
    return {key: id_ for key, id_ in session.execute(select(column, model.id).where(column.in_(keys)))}


def _move_levels(session: Session, store_id: int, external_id: str, location_id: int) -> None:
    """A store location the file now maps to another of our locations (one adopted when the store
    connected it, ``domain.stock.connected_locations``, then named by ``stores discover``): the
    figures the store reported there move with it, so the old location keeps no stale copy."""
    old = session.scalar(select(StoreLocation.location_id).where(StoreLocation.store_id == store_id,
                                                                 StoreLocation.external_id == external_id))
    if old is None or old == location_id:
        return
    figures = {"store_id": store_id, "old": old, "new": location_id}
    session.execute(text("DELETE FROM stock_levels o USING stock_levels n WHERE o.store_id = :store_id "
                         "AND o.location_id = :old AND n.store_id = :store_id AND n.location_id = :new "
                         "AND n.sku_id = o.sku_id"), figures)
    session.execute(text("UPDATE stock_levels SET location_id = :new WHERE store_id = :store_id AND location_id = :old"),
                    figures)


def apply_config(session: Session, config: BusinessConfig) -> ApplySummary:
    was_read_only = set(session.scalars(select(Store.key).where(Store.read_only.is_(True))))
    location_ids = _upsert(session, Location, "key", [
        {"key": loc.key, "name": loc.name, "timezone": loc.timezone} for loc in config.locations
    ])
    store_ids = _upsert(session, Store, "key", [
        {"key": s.key, "platform": s.platform, "name": s.name, "base_url": s.base_url, "enabled": True,
         "credentials_env": s.credentials, "webhook_secret_env": s.webhook_secret_env, "options": s.options,
         "sells": s.sells, "read_only": s.read_only, "poll_interval_s": s.poll_interval_s, "full_sync_interval_s": s.full_sync_interval_s}
        for s in config.stores
    ])
    session.execute(update(Store).where(Store.key.not_in(list(store_ids) or [""])).values(enabled=False))
    for loc in config.locations:
        session.execute(update(Location).where(Location.key == loc.key)
                        .values(owner_store_id=store_ids.get(loc.owner) if loc.owner else None))
    for store in config.stores:
        for external, location_key in store.locations.items():
            _move_levels(session, store_ids[store.key], external, location_ids[location_key])
            session.execute(insert(StoreLocation).values(
                store_id=store_ids[store.key], location_id=location_ids[location_key], external_id=external,
            ).on_conflict_do_update(constraint="uq_store_locations_external",
                                    set_={"location_id": location_ids[location_key]}))
    _switched_on(session, [store_ids[s.key] for s in config.stores if s.key in was_read_only and not s.read_only])
    vendor_ids = _upsert(session, Vendor, "key", [
        {"key": v.key, "name": v.name, "email": v.email, "lead_time_days": v.lead_time_days,
         "min_order_cents": v.min_order_cents, "min_order_units": v.min_order_units, "case_pack": v.case_pack,
         "ack_within_hours": v.ack_within_hours, "erp_store_key": v.erp_store,
         "order_cutoff": v.order_cutoff}
        for v in config.vendors
    ])
    sku_ids = _upsert(session, Sku, "code", [
        {"code": s.code, "title": s.title, "category": s.category, "price_cents": s.price_cents,
         "cost_cents": s.cost_cents, "vendor_id": vendor_ids.get(s.vendor) if s.vendor else None,
         "threshold": s.threshold, "reorder_point": s.reorder_point, "safety_stock": s.safety_stock,
         "reorder_qty": s.reorder_qty, "case_pack": s.case_pack, "substitutes": list(s.substitutes),
         "allow_backorder": s.allow_backorder}
        for s in config.skus
    ])
    location_thresholds.apply_config(session, sku_ids, location_ids,
                                     {s.code: s.location_thresholds for s in config.skus})
    return ApplySummary(len(location_ids), len(store_ids), len(vendor_ids), len(config.skus))


def _switched_on(session: Session, store_ids: list[int]) -> None:
    """A store switched from read-only to live is owed every push it held back: those rows are made
    due now, and the push sweeper sends them (``domain.stock.pushes``)."""
    if not store_ids:
        return
    session.execute(text("""
        INSERT INTO channel_pushes AS p (sku_id, store_id, due_at, dirty_since)
        SELECT DISTINCT b.subject_id, b.store_id, now(), now() FROM blocked_writes b
         WHERE b.store_id = ANY(:store_ids) AND b.action = 'channel.push'
        ON CONFLICT ON CONSTRAINT uq_channel_pushes_sku_store DO UPDATE
           SET due_at = LEAST(COALESCE(p.due_at, excluded.due_at), excluded.due_at),
               dirty_since = COALESCE(p.dirty_since, excluded.dirty_since)
    """), {"store_ids": store_ids})
