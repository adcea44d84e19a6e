"""What each channel must show for a SKU, computed from the truth at the moment of pushing.

A push carries no numbers in its message: it reads the current state when it runs, so a late
or repeated push writes today's truth, never yesterday's.

Sellable = available − the store's buffer. A channel shows our figure for as long as the push
takes to reach it, and sells meanwhile; the buffer holds back the units expected to sell in that
time, ``ceil(velocity × the store's measured propagation delay)``, plus a configured floor (the
store's ``options.buffer_floor``, default 0). Velocity comes from ``domain.purchasing.demand``; the delay is
measured per store by ``domain.stock.pushes``. Units filled for waiting customers are held back first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connectors.types import ListingRef
from domain.core.models import ChannelListing, Sku, StockLevel, Store, StoreLocation, StoreSyncLag
from domain.purchasing import demand

SECONDS_PER_DAY = Decimal(86400)

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
class Buffer:
    """The units a store does not offer, and the numbers they come from."""

    velocity_per_day: Decimal
    delay_s: float | None
    delay_samples: int
    floor: int

    @property
    def lag_units(self) -> int:
        """Units expected to sell while a change travels to this store, rounded up."""
        if not self.delay_s or self.velocity_per_day <= 0:
            return 0
        return math.ceil(self.velocity_per_day * Decimal(str(self.delay_s)) / SECONDS_PER_DAY)

    @property
    def units(self) -> int:
        return self.lag_units + self.floor

    def as_dict(self) -> dict[str, Any]:
        return {"units": self.units, "lag_units": self.lag_units, "floor": self.floor,
                "velocity_per_day": str(self.velocity_per_day),
                "delay_s": None if self.delay_s is None else round(self.delay_s, 3),
                "delay_samples": self.delay_samples,
                "rule": "ceil(velocity_per_day × delay_s / 86400) + floor"}


@dataclass(frozen=True)
class PlannedPush:
    """One store location's figure: ``available`` is what the channel is told it can sell."""

    listing: ListingRef
    available: int
    backorder: bool
    location_id: int = 0
    #: Units at the location free to sell before the buffer (after waiting customers' units).
    before_buffer: int = 0
    #: The location's figure minus ``available``: what a reading from this store is short of.
    withheld: int = 0
    #: What the store itself last reported there (None if it never did).
    reported: int | None = None


@dataclass(frozen=True)
class StorePlan:
    """Everything one push of one SKU to one store writes, and why."""

    sku_id: int
    store_id: int
    listing: ListingRef
    backorder: bool
    buffer: Buffer
    pushes: list[PlannedPush] = field(default_factory=list)
    promised: int = 0
    #: The store's own backorder setting as last read from it (None where the platform has none).
    store_backorders: bool | None = None

    def levels(self) -> dict[str | None, int]:
        """Platform location id → figure to write."""
        return {p.listing.location_external_id: p.available for p in self.pushes}


def buffer_floor(options: dict[str, Any] | None) -> int:
    """``options.buffer_floor``: a whole number ≥ 0 (``config check`` refuses anything else)."""
    raw = (options or {}).get("buffer_floor", 0)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return 0
    return max(0, value)


def store_buffer(session: Session, store: Store, velocity: Decimal) -> Buffer:
    lag = session.get(StoreSyncLag, store.id)
    return Buffer(velocity_per_day=velocity, delay_s=lag.delay_s if lag else None,
                  delay_samples=lag.samples if lag else 0, floor=buffer_floor(store.options))


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


def plan(session: Session, sku_id: int, store_id: int, now: datetime | None = None) -> list[PlannedPush]:
    """The per-location figures of :func:`plan_store` (empty when there is nothing to write)."""
    planned = plan_store(session, sku_id, store_id, now)
    return planned.pushes if planned is not None else []


def plan_store(session: Session, sku_id: int, store_id: int, now: datetime | None = None) -> StorePlan | None:
    """What one store must show for one SKU: a figure per platform location where the store stocks
    the SKU, the buffer taken off, backorder mode while BACKORDER.

    Only locations the store has reported a figure for are written: a platform refuses stock at
    a location where the item is not stocked (Shopify answers 422), and that is not a failure.
    The buffer is taken from the store's fullest locations first, as the promised units are.
    """
    from domain.core.clock import utcnow

    now = now or utcnow()
    sku = session.get(Sku, sku_id)
    store = session.get(Store, store_id)
    listing = session.scalar(select(ChannelListing).where(ChannelListing.sku_id == sku_id,
                                                          ChannelListing.store_id == store_id))
    if sku is None or listing is None or store is None:
        return None
    raw = {row.location_id: row.available for row in session.execute(LATEST_AT_LOCATION, {"sku_id": sku_id})}
    promised = session.execute(PROMISED_TO_BACKORDERS, {"sku_id": sku_id}).scalar_one()
    free = withhold(raw, promised)
    reported = dict(session.execute(select(StockLevel.location_id, StockLevel.available).where(
        StockLevel.sku_id == sku_id, StockLevel.store_id == store_id)).tuples().all())
    locations = list(session.execute(
        select(StoreLocation.external_id, StoreLocation.location_id)
        .where(StoreLocation.store_id == store_id, StoreLocation.location_id.in_(list(reported)))
        .order_by(StoreLocation.external_id)))
    buffer = store_buffer(session, store, demand.velocities(session, [sku_id], now).get(sku_id, Decimal(0)))
    before = {location_id: max(0, free.get(location_id, 0)) for _external, location_id in locations}
    sellable = withhold(before, buffer.units)
    backorder = sku.state == "BACKORDER"
    pushes = []
    for external_id, location_id in locations:
        figure = max(0, sellable[location_id])
        pushes.append(PlannedPush(
            ListingRef(sku=sku.code, external_id=listing.external_id, inventory_item_id=listing.inventory_item_id,
                       parent_external_id=listing.parent_external_id, location_external_id=external_id),
            available=figure, backorder=backorder, location_id=location_id, before_buffer=before[location_id],
            withheld=max(0, raw.get(location_id, 0)) - figure, reported=reported.get(location_id),
        ))
    base = ListingRef(sku=sku.code, external_id=listing.external_id, inventory_item_id=listing.inventory_item_id,
                      parent_external_id=listing.parent_external_id)
    return StorePlan(sku_id, store_id, base, backorder, buffer, pushes, promised, listing.backorders_allowed)


def already_shown(planned: StorePlan, previous: dict[int, tuple[int, bool]], last_backorder: bool | None) -> bool:
    """True when the store already shows every planned figure and the backorder mode, so the push
    would write nothing new: what we last wrote there (if the store reported nothing else since),
    else what the store itself reports."""
    mode = last_backorder if last_backorder is not None else planned.store_backorders
    if mode is not None and mode != planned.backorder:
        return False
    for push in planned.pushes:
        if push.location_id in previous:
            if previous[push.location_id] != (push.available, True):
                return False
        elif push.reported != push.available:
            return False
    return True
