"""Settings and a backorder to survey, on the example store's configuration."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import domain.cases.backorder_cases  # noqa: F401  (the listener, as every worker process has it)
import domain.core.env_settings as runtime_settings
from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core.models import Store
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SKU = "FUT-FRM-OAK-FULL"


@pytest.fixture
def journey_settings(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> runtime_settings.JourneySettings:
    settings = runtime_settings.JourneySettings(config=catalog, public_base_url="https://shop.example",
                                                secret_key="k" * 40)
    monkeypatch.setattr(runtime_settings, "current", lambda: settings)
    return settings


def stock(session: Session, on_hand: int, at: datetime = NOW, store: str = "shopify-main") -> None:
    store_id = session.scalar(select(Store.id).where(Store.key == store))
    record_batch(session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id=f"v-{SKU}", sku=SKU, location_external_id="655441491", available=on_hand, on_hand=on_hand,
        updated_at=at)])


def order(session: Session, number: int, quantity: int = 1, email: str | None = None, at: datetime = NOW,
          store: str = "shopify-main") -> list[int]:
    """Place an order for ``SKU``; returns the backorder ids it made (none when stock covered it)."""
    store_id = session.scalar(select(Store.id).where(Store.key == store))
    return record_orders(session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id=str(number), number=f"#{number}", placed_at=at, email=email or f"customer{number}@example.com",
        phone=None, customer_name=f"Customer {number}",
        lines=[OrderLineRecord(external_id=f"{number}-1", sku=SKU, quantity=quantity, title="Oak futon frame",
                               price_cents=64900)])]).backorder_ids
