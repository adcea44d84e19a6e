"""A Shopify store connected from an empty configuration with `stores discover` and `stores connect`.

The stand-in shop has 120 variants and 3 locations, and its token cannot read orders (403 with
Shopify's scope message on ``orders.json``). The two commands alone must land its stock, alert the
SKUs already at zero, name the missing permission, and write nothing to the store while it is
read-only: the stand-in's request log holds no write but the webhook subscriptions.
"""
from __future__ import annotations

import json

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox.server import SandboxServer
from tests.conftest import wait_for
from workers.cli import main

CLIENT_SECRET = "shpss_connect_test_secret"
TOKEN = "shpat_connect_test"
NO_ORDERS = {"errors": "[API] This action requires merchant approval for read_orders scope."}
EMPTY = """# A new shop: only the business and how to reach the store.
[business]
name = "Connect test shop"
timezone = "America/New_York"

[[stores]]
key = "new-shop"
platform = "shopify"
name = "New shop (Shopify)"
base_url = "{base_url}"
credentials = {{ access_token = "CONNECT_SHOP_TOKEN" }}
"""


@pytest.fixture
def servers(db_session: Session, celery_worker: object) -> Iterator[tuple[str, str]]:
    from workers.web import create_app

    with SandboxServer() as sandbox, SandboxServer(app=create_app(), health_path="/readyz") as web:
        yield sandbox.base_url, web.base_url


def _shop(sandbox: str) -> str:
    admin = f"{sandbox}/shopify/conn/_admin"
    requests.post(f"{admin}/seed", json={"count": 120, "sku_prefix": "CON-", "available": 9}, timeout=30
                  ).raise_for_status()
    requests.post(f"{admin}/config", json={"access_token": TOKEN}, timeout=10).raise_for_status()
    requests.post(f"{admin}/app", json={"client_secret": CLIENT_SECRET}, timeout=10).raise_for_status()
    locations = requests.post(f"{admin}/locations", json={"count": 2}, timeout=10).json()["location_ids"]
    for code in ("CON-000003", "CON-000050", "CON-000117"):
        requests.post(f"{admin}/set_stock", json={"sku": code, "available": 0}, timeout=10).raise_for_status()
    for n, location in enumerate(locations[1:]):
        requests.post(f"{admin}/set_stock", json={"sku": "CON-000010", "available": 4 + n, "location_id": int(location)},
                      timeout=10).raise_for_status()
    requests.post(f"{admin}/faults", json={"status": 403, "count": 1000, "path_contains": "/orders.json",
                                           "body": NO_ORDERS}, timeout=10).raise_for_status()
    requests.delete(f"{admin}/requests", timeout=10).raise_for_status()
    return admin


def test_a_store_connects_from_an_empty_configuration(servers: tuple[str, str], db_session: Session, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.core.env_settings import get_settings
    from domain.core.models import Alert, BlockedWrite, Sku, StockLevel, Store

    sandbox, web = servers
    admin = _shop(sandbox)
    path = tmp_path / "shop.toml"
    path.write_text(EMPTY.format(base_url=f"{sandbox}/shopify/conn"))
    monkeypatch.delenv("NEW_SHOP_WEBHOOK_SECRET", raising=False)
    for key, value in {"CONNECT_SHOP_TOKEN": TOKEN, "PUBLIC_BASE_URL": web, "BACKORDERS_CONFIG": str(path),
                       "BACKORDERS_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    runner = CliRunner()

    found = runner.invoke(main, ["stores", "discover", "new-shop", "--threshold", "2"])
    assert found.exit_code == 0, found.output
    assert "3 location(s)" in found.output and "120 SKUs added" in found.output, found.output
    written = tomllib.loads(path.read_text())
    assert len(written["skus"]) == 120 and len(written["locations"]) == 3
    store = written["stores"][0]
    assert store["read_only"] is True and store["webhook_secret_env"] == "NEW_SHOP_WEBHOOK_SECRET"
    assert set(store["locations"]) == {"655441491", "655441492", "655441493"}
    assert written["skus"][0]["allow_backorder"] is False  # the shop's inventory_policy is deny

    # the operator takes backorders for one item and raises a threshold; a second discover keeps both
    edited = path.read_text().replace('code = "CON-000050"\ntitle = "Generated item 50"\nprice = "10.00"\n'
                                      'threshold = 2\nallow_backorder = false',
                                      'code = "CON-000050"\ntitle = "Generated item 50"\nprice = "10.00"\n'
                                      'threshold = 5\nallow_backorder = true')
    assert edited != path.read_text()
    path.write_text(edited)
    rediscovered = runner.invoke(main, ["stores", "discover", "new-shop"])
    assert rediscovered.exit_code == 0 and "0 SKUs added, 120 already listed" in rediscovered.output
    assert path.read_text() == edited

    # Shopify signs with the app's API secret key: connect cannot invent it and asks before touching the store
    refused = runner.invoke(main, ["stores", "connect", "new-shop"])
    assert refused.exit_code == 1 and "set NEW_SHOP_WEBHOOK_SECRET to the app's API secret key" in refused.output
    assert [r for r in requests.get(f"{admin}/requests", timeout=10).json()["requests"] if r["method"] != "GET"] == []
    monkeypatch.setenv("NEW_SHOP_WEBHOOK_SECRET", CLIENT_SECRET)

    connected = runner.invoke(main, ["stores", "connect", "new-shop"])
    assert connected.exit_code == 0, connected.output
    assert "NEW_SHOP_WEBHOOK_SECRET (environment)" in connected.output
    assert "122 records" in connected.output and "120 SKUs evaluated" in connected.output
    assert "read_orders scope missing" in connected.output, connected.output
    assert "CON-000003: IN_STOCK -> OUT (available 0)" in connected.output
    assert "CON-000050: IN_STOCK -> BACKORDER (available 0)" in connected.output
    topics = {line.split(":")[0].strip() for line in connected.output.splitlines() if ": created (id" in line}
    assert topics == {"inventory_levels/update", "inventory_levels/connect", "inventory_levels/disconnect",
                      "orders/create", "orders/fulfilled", "orders/partially_fulfilled", "products/update",
                      "refunds/create", "returns/request", "returns/approve", "returns/decline", "returns/cancel",
                      "returns/close", "returns/reopen", "returns/update"}

    levels = db_session.scalar(select(func.count()).select_from(StockLevel))
    assert levels == 120 + 2  # every variant at the main location, CON-000010 at the two others
    out = set(db_session.scalars(select(Sku.code).where(Sku.state == "OUT")))
    assert out == {"CON-000003", "CON-000117"}
    alerted = set(db_session.execute(select(Sku.code, Alert.kind).join(Alert, Alert.sku_id == Sku.id)).tuples())
    assert alerted == {("CON-000003", "stock.out"), ("CON-000117", "stock.out"), ("CON-000050", "stock.backorder")}
    row = db_session.scalar(select(Store).where(Store.key == "new-shop"))
    assert row is not None and row.read_only and row.last_full_sync_at is not None

    again = runner.invoke(main, ["stores", "connect", "new-shop"])
    assert again.exit_code == 0, again.output
    assert again.output.count(": found (id") == len(topics) and ": created" not in again.output
    as_json = runner.invoke(main, ["stores", "connect", "new-shop", "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output)
    assert {(s["topic"], s["outcome"]) for s in report["subscriptions"]} == {(topic, "found") for topic in topics}
    assert report["poll"] is None and report["read_only"] is True and report["secret_env"] == "NEW_SHOP_WEBHOOK_SECRET"

    # a stock change in Shopify's own admin arrives by webhook, signed with the app's secret
    requests.post(f"{admin}/set_stock", json={"sku": "CON-000020", "available": 0}, timeout=10).raise_for_status()
    hooks = requests.get(f"{admin}/webhooks", timeout=10).json()["deliveries"]
    assert hooks and all(d["status"] == 200 for d in hooks), hooks

    def held_back() -> set[str]:
        db_session.rollback()
        return set(db_session.scalars(select(Sku.code).join(BlockedWrite, BlockedWrite.subject_id == Sku.id)
                                      .where(BlockedWrite.action == "channel.push", BlockedWrite.reason == "read-only")))

    # switching CON-000050's listing to accept backorders is a write: held back, not made
    wait_for(lambda: held_back() == {"CON-000050"}, timeout_s=60)
    status = runner.invoke(main, ["status"])
    assert "read-only" in status.output and "channel.push" in status.output, status.output
    writes = [r for r in requests.get(f"{admin}/requests", timeout=10).json()["requests"] if r["method"] != "GET"]
    assert [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in writes] == [("POST", "webhooks.json")] * len(topics)
    get_settings.cache_clear()
