"""What each channel must show for a SKU, computed from the truth at the moment of pushing.

A push carries no numbers in its message: it reads the current state when it runs, so a late
or repeated push writes today's truth, never yesterday's.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connectors.types import ListingRef
from domain.models import ChannelListing, Sku, StockLevel, Store, StoreLocation

LATEST_AT_LOCATION = text("""
SELECT DISTINCT ON (location_id) location_id, available
  FROM stock_levels WHERE sku_id = :sku_id
 ORDER BY location_id, COALESCE(source_updated_at, updated_at) DESC, updated_at DESC
""")


PROMISED_TO_BACKORDERS = text("""
SELECT COALESCE(SUM(b.quantity), 0)::int
  FROM backorders b JOIN order_lines ol ON ol.id = b.order_line_id JOIN orders o ON o.id = ol.order_id
 WHERE b.sku_id = :sku_id AND b.state = 'filled' AND o.status = 'open'
""")


@dataclass(frozen=True)
class PlannedPush:
    listing: ListingRef
    available: int
    backorder: bool


def withhold(available: dict[int, int], promised: int) -> dict[int, int]:
    """Units filled for waiting customers are not for sale: take them from the fullest locations
    first, so only what is left after the backorders returns to sellable stock."""
    remaining = dict(available)
    for location_id in sorted(remaining, key=lambda loc: (-remaining[loc], loc)):
        if promised <= 0:
            break
        take = min(promised, max(0, remaining[location_id]))
        remaining[location_id] -= take
        promised -= take
    return remaining


def selling_stores(session: Session, sku_id: int) -> list[int]:
    """Stores that list this SKU and sell it (the ERP is not a sales channel)."""
    return list(session.scalars(
        select(ChannelListing.store_id).join(Store, Store.id == ChannelListing.store_id)
        .where(ChannelListing.sku_id == sku_id, Store.sells, Store.enabled).order_by(ChannelListing.store_id)
    ))


def plan(session: Session, sku_id: int, store_id: int) -> list[PlannedPush]:
    """One push per platform location where this store stocks the SKU; backorder mode while BACKORDER.

    Only locations the store has reported a figure for are written: a platform refuses stock at
    a location where the item is not stocked (Shopify answers 422), and that is not a failure.
    """
    sku = session.get(Sku, sku_id)
    listing = session.scalar(select(ChannelListing).where(ChannelListing.sku_id == sku_id,
                                                          ChannelListing.store_id == store_id))
    if sku is None or listing is None:
        return []
    available = {row.location_id: row.available for row in session.execute(LATEST_AT_LOCATION, {"sku_id": sku_id})}
    available = withhold(available, session.execute(PROMISED_TO_BACKORDERS, {"sku_id": sku_id}).scalar_one())
    stocked = select(StockLevel.location_id).where(StockLevel.sku_id == sku_id, StockLevel.store_id == store_id)
    backorder = sku.state == "BACKORDER"
    pushes = []
    for external_id, location_id in session.execute(
            select(StoreLocation.external_id, StoreLocation.location_id)
            .where(StoreLocation.store_id == store_id, StoreLocation.location_id.in_(stocked))
            .order_by(StoreLocation.external_id)):
        pushes.append(PlannedPush(
            ListingRef(sku=sku.code, external_id=listing.external_id, inventory_item_id=listing.inventory_item_id,
                       parent_external_id=listing.parent_external_id, location_external_id=external_id),
            available=max(0, available.get(location_id, 0)), backorder=backorder,
        ))
    return pushes
