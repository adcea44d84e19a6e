"""A location the store connected an item to, tracked from its first figure on.

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
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connectors.types import StockRecord
from domain.core import audit
from domain.core.models import Location, Store, StoreLocation

ACTION = "store.location_connected"


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
