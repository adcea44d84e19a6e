"""Fixtures of the fraud tests: orders stored the way ingest stores them (``record_orders``, with
what the platform said about the payment), on the example configuration."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import domain.core.env_settings as runtime_settings
from connectors.types import OrderLineRecord, OrderRecord, PaymentRisk
from domain.core.clock import utcnow
from domain.core.models import Sku, Store
from domain.stock.orders import record_orders

FRAME = "FUT-FRM-OAK-FULL"


def address(street: str, postcode: str, country: str) -> dict[str, str]:
    return {"address1": street, "city": "Somewhere", "zip": postcode, "country_code": country}


HOME = address("12 Elm St", "10001", "US")


class Orders:
    """Places orders on a store as ingest would, ``hours_ago`` before a fixed ``now``."""

    def __init__(self, session: Session, now: datetime, store: str = "shopify-main") -> None:
        self.session, self.now = session, now
        self.store_id = session.scalar(select(Store.id).where(Store.key == store))
        self.count = 0

    def place(self, *, email: str | None = "pat@example.com", hours_ago: float = 1, total: int = 10_000,
              risk: PaymentRisk | None = None, sku: str | None = None, status: str = "open",
              number: str | None = None) -> int:
        self.count += 1
        number = number or f"#{5000 + self.count}"
        lines = [OrderLineRecord(f"L{self.count}", sku, 1, "Futon frame", total)] if sku else []
        record = OrderRecord(external_id=f"ext-{number}", number=number,
                             placed_at=self.now - timedelta(hours=hours_ago), email=email, phone=None,
                             customer_name="Pat Doe", lines=lines, total_cents=total, status=status, risk=risk)
        [order_id] = record_orders(self.session, self.store_id, [record]).order_ids
        self.session.flush()
        return order_id


@pytest.fixture
def orders(db_session: Session, catalog: Any) -> Orders:
    assert db_session.scalar(select(Sku.id).where(Sku.code == FRAME)) is not None
    return Orders(db_session, utcnow())


@pytest.fixture
def journey_settings(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> runtime_settings.JourneySettings:
    """The settings the case SLA timer and listeners read, on the example file."""
    settings = runtime_settings.JourneySettings(config=catalog, public_base_url="https://shop.example",
                                                secret_key="k" * 40)
    monkeypatch.setattr(runtime_settings, "current", lambda: settings)
    return settings
