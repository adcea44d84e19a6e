"""Zoho Inventory and Cin7 Core as the example's back office, their webhooks through the real web
edge: a delivery carrying the store's secret header is stored once however often it comes, one
without the header or with another value is refused 401, and the drain reads what the delivery
names from the stand-in and records it per mapped location. Real PostgreSQL, the stand-ins over
HTTP."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import subscriptions
from connectors.cin7_core import SECRET_HEADER as CIN7_SECRET
from connectors.oauth2 import RefreshTokenGrant
from connectors.zoho_inventory import SECRET_HEADER as ZOHO_SECRET
from domain.core.business_config import load_config
from domain.core.models import InboxEvent, Location, Sku, StockLevel, Store
from domain.stock import webhook_inbox
from domain.stock.catalog import apply_config
from flows.connections import connector_for
from flows.inbound import apply_events, fetch_named
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT
from tests.integration.purchasing.test_erp_switch import switched

SECRET = "back-office-hook-secret"
SKU = "FUT-FRM-OAK-FULL"
ZOHO_ENV = {"ZOHO_CLIENT_ID": "1000.ZOHOSANDBOX", "ZOHO_CLIENT_SECRET": "zoho_sandbox_secret",
            "ZOHO_REFRESH_TOKEN": "1000.refresh.sandbox", "ZOHO_ERP_WEBHOOK_SECRET": SECRET}
CIN7_ENV = {"CIN7_ACCOUNT_ID": "2a4c9b1e-0000-4c0e-9d2a-5a0c1b2c3d4e", "CIN7_APPLICATION_KEY": "cin7-sandbox-key",
            "CIN7_ERP_WEBHOOK_SECRET": SECRET}


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    import sandbox.cin7_core
    import sandbox.control
    import sandbox.zoho_inventory

    app = FastAPI()
    for module in (sandbox.control, sandbox.zoho_inventory, sandbox.cin7_core):
        module.install(app)
    with SandboxServer(app=app) as running:
        yield running


def configured(db_session: Session, tmp_path: Path, key: str, base_url: str, extra: str = "") -> int:
    text = switched((REPO_ROOT / "examples" / "futon-store.toml").read_text(), key)
    text = text.replace('base_url = "https://www.zohoapis.com"', f'base_url = "{base_url}"').replace(
        'accounts_host = "https://accounts.zoho.com"', f'accounts_host = "{base_url}/accounts"').replace(
        'base_url = "https://inventory.dearsystems.com"', f'base_url = "{base_url}"') + extra
    path = tmp_path / f"{key}.toml"
    path.write_text(text)
    apply_config(db_session, load_config(path))
    db_session.commit()
    store_id = db_session.scalar(select(Store.id).where(Store.key == key))
    assert store_id is not None
    return store_id


@pytest.fixture
def client(db_session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for name, value in {**ZOHO_ENV, **CIN7_ENV}.items():
        monkeypatch.setenv(name, value)
    RefreshTokenGrant._kept.clear()
    from workers import webhook_stores
    from workers.web import create_app

    webhook_stores.forget()
    yield TestClient(create_app(), raise_server_exceptions=False)
    webhook_stores.forget()


def levels(db_session: Session, store_id: int) -> dict[str, int | None]:
    db_session.expire_all()
    rows = db_session.execute(select(Location.key, StockLevel.available).join(Sku, Sku.id == StockLevel.sku_id)
                              .join(Location, Location.id == StockLevel.location_id)
                              .where(Sku.code == SKU, StockLevel.store_id == store_id))
    return {location: available for location, available in rows}


def delivered_through_the_edge(client: TestClient, db_session: Session, key: str, store_id: int,
                               delivery: dict[str, Any], secret_header: str) -> None:
    body, headers = delivery["body"].encode(), {k: v for k, v in delivery["headers"].items()}
    for _ in range(2):  # the platform's retry: one stored row
        answer = client.post(f"/webhooks/{key}", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
    for forged in ({}, {secret_header: "forged"}):
        refused = client.post(f"/webhooks/{key}", content=body, headers={
            **{k: v for k, v in headers.items() if k != secret_header}, **forged})
        assert refused.status_code == 401
    assert len(list(db_session.scalars(select(InboxEvent).where(InboxEvent.source == key)))) == 1

    connector = connector_for(db_session.get(Store, store_id))  # type: ignore[arg-type]
    first = apply_events(db_session, store_id, connector, webhook_inbox.claim_pending(db_session, key))
    db_session.commit()
    assert len(first.deferred) == 1, "the delivery names what changed; the drain reads it"
    fetched = fetch_named(connector, first.deferred)
    done = apply_events(db_session, store_id, connector, webhook_inbox.claim_pending(db_session, key), fetched)
    db_session.commit()
    assert done.done == 1 and done.quarantined == []


def test_a_zoho_workflow_webhook_is_stored_once_and_its_item_read_per_location(
        db_session: Session, tmp_path: Path, server: SandboxServer, client: TestClient) -> None:
    root = f"{server.base_url}/zoho_inventory/zoho-edge"
    store_id = configured(db_session, tmp_path, "zoho-erp", root)
    requests.post(f"{root}/_admin/seed", json={
        "locations": [{"id": "460000000038080", "name": "Newark"}, {"id": "460000000038099", "name": "Brooklyn"}],
        "items": [{"sku": SKU, "stock": {"460000000038080": {"on_hand": 6, "committed": 1}}}]}, timeout=10
                  ).raise_for_status()
    requests.post(f"{root}/_admin/webhooks", json={"address": "http://127.0.0.1:9/unused",
                                                   "headers": {ZOHO_SECRET: SECRET}}, timeout=10).raise_for_status()
    [delivery] = requests.post(f"{root}/_admin/set_stock", json={"sku": SKU, "location": "460000000038099",
                                                                 "on_hand": 2}, timeout=10).json()["webhooks"]
    delivered_through_the_edge(client, db_session, "zoho-erp", store_id, delivery, ZOHO_SECRET)
    assert levels(db_session, store_id) == {"warehouse": 5, "showroom": 2}


def test_a_cin7_stock_webhook_subscribed_by_connect_is_stored_once_and_read_per_location(
        db_session: Session, tmp_path: Path, server: SandboxServer, client: TestClient) -> None:
    root = f"{server.base_url}/cin7_core/cin7-edge"
    store_id = configured(db_session, tmp_path, "cin7-erp", root)
    requests.post(f"{root}/_admin/seed", json={
        "locations": ["Main Warehouse", "Showroom"],
        "products": [{"sku": SKU, "stock": {"Main Warehouse": {"on_hand": 6, "allocated": 1}}}]}, timeout=10
                  ).raise_for_status()
    connector = connector_for(db_session.get(Store, store_id))  # type: ignore[arg-type]
    [made] = subscriptions.ensure(connector, "http://127.0.0.1:9/unused", SECRET, True)
    assert made.outcome == "created"
    [delivery] = requests.post(f"{root}/_admin/set_stock", json={"sku": SKU, "location": "Showroom", "on_hand": 3},
                               timeout=10).json()["webhooks"]
    delivered_through_the_edge(client, db_session, "cin7-erp", store_id, delivery, CIN7_SECRET)
    assert levels(db_session, store_id) == {"warehouse": 5, "showroom": 3}
