"""Fixtures of the shipping tests: the example store with its ShipStation and Flexport accounts
pointed at fresh stand-in instances (a business file written for the test, as production reads
one), and orders placed on the example's Shopify store."""
from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from demo.scenario import ALL_PLATFORMS, PLATFORM_SECRETS, sandbox_config_text
from domain.core.models import Store
from domain.core.stages import FollowUp
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders
from sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[3]
WAREHOUSE = "655441491"


@pytest.fixture(scope="session")
def shipping_sandbox() -> Iterator[SandboxServer]:
    app = FastAPI()
    for name in ("sandbox.control", "sandbox.shipstation", "sandbox.flexport"):
        importlib.import_module(name).install(app)
    with SandboxServer(app=app) as server:
        yield server


@dataclass
class Admin:
    root: str

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = requests.post(f"{self.root}/_admin/{path}", json=body or {}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def get(self, path: str) -> Any:
        answer = requests.get(f"{self.root}/_admin/{path}", timeout=10)
        answer.raise_for_status()
        return answer.json()


@dataclass
class Shipping:
    """The accounts' stand-in instances and what the flows asked to send."""

    shipstation: Admin
    flexport: Admin
    config_path: Path
    sent: list[FollowUp] = field(default_factory=list)

    def send(self, follow_ups: list[FollowUp]) -> None:
        self.sent.extend(follow_ups)


@pytest.fixture
def shipping(catalog: Any, shipping_sandbox: SandboxServer, tmp_path: Path, celery_app: Any,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Shipping]:
    from domain.core.env_settings import get_settings

    ss_instance, fx_instance = f"ss-{uuid.uuid4().hex[:8]}", f"fx-{uuid.uuid4().hex[:8]}"
    text = sandbox_config_text(REPO / "examples" / "futon-store.toml", shipping_sandbox.base_url, set(ALL_PLATFORMS))
    text = text.replace("/shipstation/shipstation-main", f"/shipstation/{ss_instance}") \
        .replace("/flexport/flexport-freight", f"/flexport/{fx_instance}")
    path = tmp_path / "store.toml"
    path.write_text(text)
    for key, value in {**PLATFORM_SECRETS, "BACKORDERS_CONFIG": str(path), "SLACK_WEBHOOK_CARE": "http://127.0.0.1:9/x",
                       "SLACK_WEBHOOK_OPS": "http://127.0.0.1:9/x", "SLACK_WEBHOOK_PURCHASING": "http://127.0.0.1:9/x",
                       "PUBLIC_BASE_URL": "https://shop.example"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    base = shipping_sandbox.base_url
    yield Shipping(Admin(f"{base}/shipstation/{ss_instance}"), Admin(f"{base}/flexport/{fx_instance}"), path)
    get_settings.cache_clear()


def place_order(session: Session, number: int, lines: list[tuple[str, int, int]], *, phone: str | None = None) -> list[int]:
    """An order on the example's Shopify store: (SKU, quantity, units in stock) per line; a line
    short of stock becomes a backorder. Returns the new backorder ids."""
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    assert store_id is not None
    now = datetime.now(UTC)
    record_batch(session, store_id, [StockRecord(external_id=f"v-{sku}", sku=sku, location_external_id=WAREHOUSE,
                                                 available=stock, on_hand=stock, updated_at=now)
                                     for sku, _qty, stock in lines])
    result = record_orders(session, store_id, [OrderRecord(
        external_id=str(number), number=f"#{number}", placed_at=now, email=f"customer{number}@example.com",
        phone=phone, customer_name=f"Customer {number}",
        lines=[OrderLineRecord(external_id=f"{number}-{n}", sku=sku, quantity=qty, title=f"Item {sku}",
                               price_cents=50_000) for n, (sku, qty, _stock) in enumerate(lines, 1)])])
    session.commit()
    return list(result.backorder_ids)
