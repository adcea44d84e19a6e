"""A location the store connected an item to, tracked from its first figure on; one it
disconnected the item from, no longer counted or written for that item.

Shopify sends ``inventory_levels/connect`` when an inventory item is stocked at a location for the
first time (https://shopify.dev/docs/api/admin-rest/latest/resources/webhook , topic list): a
new store, warehouse or pop-up the merchant just added. A location the configuration maps already
is nothing new. One it does not map yet is adopted on the spot, as ``backorders stores discover``
would map it (``domain.core.config_file.merge_locations``): a ``[[locations]]`` row of its own
(key ``<store>-<location id>``, owned by that store, since no ERP reports it yet) and the store's
mapping to it, so the connect's own figure and every later update there count at once, with no
restart and no quarantine. An ``inventory_levels/update`` naming an unmapped location is still
quarantined and alerted (``domain.stock.apply_events``): only the store's own word that it connected
a location adopts one. The adoption is in the audit log (``store.location_connected``); staff run
``backorders stores discover STORE`` to write it into the file under its real name.

The mirror: Shopify sends ``inventory_levels/disconnect`` (payload ``{inventory_item_id,
location_id}``: https://shopify.dev/docs/api/webhooks?reference=toml , topic list) when an item
stops being stocked at a location. :func:`disconnect` drops the store's figure for that item there
(so it no longer counts in the stock truth, and the push planner, which writes only where the
store reports a figure, no longer writes there), forgets what we last wrote there, and keeps a
:class:`~domain.core.models.DisconnectedLevel` row: a reading of that item there dated no later
than the disconnect (a retried update, a poll read before it) is dropped by
:func:`drop_disconnected`, and a newer one — the store stocking it there again — ends the row. Each
disconnect is in the audit log under the SKU (``store.location_disconnected``, shown by
``backorders why sku``). Nothing is restarted: the next push reads the rows as they are.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connectors.types import StockRecord
from domain.core import audit
from domain.core.models import ChannelListing, DisconnectedLevel, Location, PushedLevel, StockLevel, Store, StoreLocation

log = logging.getLogger(__name__)
ACTION = "store.location_connected"
DISCONNECTED = "store.location_disconnected"


def location_key(store_key: str, external_id: str) -> str:
    return f"{store_key}-{external_id}"[:64]


def adopt(session: Session, store_id: int, records: Sequence[StockRecord]) -> list[str]:
    """Map every location these records name that the store does not map yet; the keys adopted."""
    named = {record.location_external_id for record in records if record.location_external_id}
    mapped = set(session.scalars(select(StoreLocation.external_id).where(StoreLocation.store_id == store_id,
                                                                           StoreLocation.external_id.in_(named))))
    store = session.get(Store, store_id)
    if store is None or not named - mapped:
        return []
    adopted: list[str] = []
    for external_id in sorted(named - mapped):
        key = location_key(store.key, external_id)
        session.execute(insert(Location).values(key=key, name=f"{store.name} location {external_id}"[:200],
                                                owner_store_id=store_id).on_conflict_do_nothing(index_elements=["key"]))
        location_id = session.scalar(select(Location.id).where(Location.key == key))
        added = session.execute(insert(StoreLocation).values(store_id=store_id, location_id=location_id,
                                                             external_id=external_id)
                                .on_conflict_do_nothing(constraint="uq_store_locations_external")
                                .returning(StoreLocation.id)).scalar_one_or_none()
        if added is not None:
            audit.record(session, "inbound", ACTION, "store", store_id, location=key, external_id=external_id)
            adopted.append(key)
    return adopted


def disconnect(session: Session, store_id: int, records: Sequence[StockRecord], at: datetime) -> list[int]:
    """Stop counting and writing the store's figure for each item at each location these records
    name (an inventory item id and a location id); the SKUs whose stock changed. An item or a
    location the store never mapped was never counted: nothing to stop."""
    store_key = session.scalar(select(Store.key).where(Store.id == store_id)) or str(store_id)
    changed: list[int] = []
    for record in records:
        item = record.inventory_item_id or record.external_id
        sku_id = session.scalar(select(ChannelListing.sku_id).where(
            ChannelListing.store_id == store_id,
            (ChannelListing.inventory_item_id == item) | (ChannelListing.external_id == item)).limit(1))
        mapped = session.execute(select(StoreLocation.location_id, Location.key).join(
            Location, Location.id == StoreLocation.location_id).where(
            StoreLocation.store_id == store_id, StoreLocation.external_id == record.location_external_id)).first()
        if sku_id is None or mapped is None:
            continue
        location_id, location_key = mapped
        before = session.execute(delete(StockLevel).where(
            StockLevel.store_id == store_id, StockLevel.sku_id == sku_id, StockLevel.location_id == location_id)
            .returning(StockLevel.available)).scalar()
        session.execute(delete(PushedLevel).where(PushedLevel.store_id == store_id, PushedLevel.sku_id == sku_id,
                                                  PushedLevel.location_id == location_id))
        session.execute(insert(DisconnectedLevel).values(
            store_id=store_id, sku_id=sku_id, location_id=location_id, disconnected_at=at, available_before=before)
            .on_conflict_do_update(index_elements=["store_id", "sku_id", "location_id"],
                                   set_={"disconnected_at": at, "available_before": before}))
        log.info("%s disconnected SKU %s from location %s (%s): its figure there (%s) no longer counts", store_key,
                 sku_id, location_key, record.location_external_id, before)
        audit.record(session, "inbound", DISCONNECTED, "sku", sku_id, store=store_key, location=location_key,
                     external_location=record.location_external_id, inventory_item_id=item, available_before=before)
        if before is not None:
            changed.append(sku_id)
    return sorted(set(changed))


def drop_disconnected(session: Session, store_id: int, readings: Iterable[tuple[int, int, datetime | None]]
                      ) -> set[tuple[int, int]]:
    """Of the (SKU, location, reading time) of a page from this store, those at a disconnected
    item and location that are not newer than the disconnect (to be dropped); a newer reading ends
    the row, the store stocking the item there again."""
    marks = {(sku_id, location_id): at for sku_id, location_id, at in session.execute(
        select(DisconnectedLevel.sku_id, DisconnectedLevel.location_id, DisconnectedLevel.disconnected_at)
        .where(DisconnectedLevel.store_id == store_id)).tuples()}  # few: one read of them all
    if not marks:
        return set()
    dropped, ended = set(), set()
    for sku_id, location_id, when in readings:
        mark = marks.get((sku_id, location_id))
        if mark is None:
            continue
        if when is not None and when > mark:
            ended.add((sku_id, location_id))
        else:
            dropped.add((sku_id, location_id))
    for sku_id, location_id in ended - dropped:
        session.execute(delete(DisconnectedLevel).where(DisconnectedLevel.store_id == store_id,
                                                        DisconnectedLevel.sku_id == sku_id,
                                                        DisconnectedLevel.location_id == location_id))
    return dropped - ended
