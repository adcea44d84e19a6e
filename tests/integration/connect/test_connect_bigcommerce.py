"""A BigCommerce store connected with `stores discover` and `stores connect`, then kept current by
its webhooks, which name ids only.

Real parts: the product's web app and a Celery worker against PostgreSQL and Redis, the
BigCommerce stand-in delivering its webhooks over HTTP. BigCommerce signs nothing: `connect`
generates the secret and subscribes every topic with it in a header of ours; a delivery without
it is refused, a redelivery (same ``hash``) is stored once, and the drain fetches the product or
order the event names before applying it.
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

from connectors.bigcommerce import SECRET_HEADER
from sandbox.server import SandboxServer
from tests.conftest import wait_for
from workers.cli import main

FILE = """[business]
name = "Trade"
timezone = "America/New_York"

[[stores]]
key = "trade"
platform = "bigcommerce"
base_url = "{base_url}"
credentials = {{ access_token = "TRADE_TOKEN" }}
"""
AUTH = {"X-Auth-Token": "bc_sandbox_token"}


@pytest.fixture
def servers(db_session: Session) -> Iterator[tuple[str, str]]:
    from workers.web import create_app

    with SandboxServer() as sandbox, SandboxServer(app=create_app(), health_path="/readyz") as web:
        yield sandbox.base_url, web.base_url


def test_a_bigcommerce_store_connects_and_its_id_only_webhooks_are_fetched_once(
        servers: tuple[str, str], db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        celery_worker: object) -> None:
    from domain.core import store_secrets
    from domain.core.env_settings import get_settings
    from domain.core.models import InboxEvent, Order, Sku, StockLevel, Store

    sandbox, web = servers
    root = f"{sandbox}/bigcommerce/trade"
    requests.post(f"{root}/_admin/seed", timeout=10, json={"items": [
        {"sku": "SOFA", "name": "Sofa", "inventory_level": 4},
        {"sku": "FUTON", "name": "Futon", "variants": [{"sku": "FUTON-OAK", "inventory_level": 2},
                                                       {"sku": "FUTON-ASH", "inventory_level": 0}]}]}).raise_for_status()
    path = tmp_path / "trade.toml"
    path.write_text(FILE.format(base_url=root))
    for key, value in {"TRADE_TOKEN": "bc_sandbox_token", "PUBLIC_BASE_URL": web, "BACKORDERS_CONFIG": str(path),
                       "BACKORDERS_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TRADE_WEBHOOK_SECRET", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    found = runner.invoke(main, ["stores", "discover", "trade"])
    assert found.exit_code == 0, found.output
    written = tomllib.loads(path.read_text())
    [location] = written["locations"]
    assert written["stores"][0]["locations"] == {"1": location["key"]} and location["name"] == "Location 1"
    assert {s["code"] for s in written["skus"]} == {"SOFA", "FUTON-OAK", "FUTON-ASH"}
    path.write_text(path.read_text().replace("read_only = true", "read_only = false"))

    connected = runner.invoke(main, ["stores", "connect", "trade"])
    assert connected.exit_code == 0, connected.output
    assert "TRADE_WEBHOOK_SECRET (generated, kept in" in connected.output
    assert "FUTON-ASH: IN_STOCK -> OUT (available 0)" in connected.output
    secret = store_secrets.lookup("TRADE_WEBHOOK_SECRET")
    hooks = requests.get(f"{root}/v3/hooks", headers=AUTH, timeout=10).json()["data"]
    assert {(h["scope"], h["destination"], h["headers"][SECRET_HEADER]) for h in hooks} == {
        (scope, f"{web}/webhooks/trade", secret) for scope in (
            "store/product/inventory/updated", "store/product/inventory/order/updated",
            "store/sku/inventory/updated", "store/sku/inventory/order/updated", "store/order/created")}

    # a control-panel edit: the webhook names the product; the drain fetches it and stores the figure
    [delivery] = requests.post(f"{root}/_admin/set_stock", json={"sku": "SOFA", "quantity": 0}, timeout=10
                               ).json()["webhooks"]
    assert delivery["status"] == 200 and json.loads(delivery["body"])["data"]["inventory"]["value"] == 0

    def sofa() -> int | None:
        db_session.expire_all()
        return db_session.scalar(select(StockLevel.available).join(Sku, Sku.id == StockLevel.sku_id)
                                 .where(Sku.code == "SOFA"))

    wait_for(lambda: sofa() == 0, timeout_s=30)
    assert wait_for(lambda: db_session.scalar(select(Sku.state).where(Sku.code == "SOFA")) == "OUT"
                    or db_session.expire_all())
    fetched = [r for r in requests.get(f"{root}/_admin/requests", params={"method": "GET"}, timeout=10).json()[
        "requests"] if "id:in" in r["query"]]
    assert fetched, "the product was read by id after the webhook"

    # the same delivery again (same hash): stored once
    again = requests.post(delivery["address"], data=delivery["body"].encode(), headers=delivery["headers"], timeout=10)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    # without our header, or with another value: refused, nothing stored
    forged = {**delivery["headers"], SECRET_HEADER: "guessed"}
    assert requests.post(delivery["address"], data=delivery["body"].encode(), headers=forged, timeout=10
                         ).status_code == 401
    stored = db_session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.source == "trade"))
    assert stored == 1

    # an order: the webhook names it; its lines come from the fetch
    order = requests.post(f"{root}/_admin/create_order", timeout=10, json={
        "lines": [{"sku": "FUTON-OAK", "quantity": 1, "price": "499.00"}], "email": "ann@example.com"}).json()["order"]
    store_id = db_session.scalar(select(Store.id).where(Store.key == "trade"))
    recorded = wait_for(lambda: db_session.scalar(select(Order).where(Order.store_id == store_id,
                                                                      Order.external_id == str(order["id"])))
                        or db_session.expire_all(), timeout_s=30)
    assert recorded.email == "ann@example.com"
    wait_for(lambda: db_session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.source == "trade", InboxEvent.state == "pending")) == 0 or db_session.expire_all())

    # a second connect finds every hook; a hook whose header changed is given ours again
    assert runner.invoke(main, ["stores", "connect", "trade"]).output.count(": found (id") == 5
    requests.put(f"{root}/v3/hooks/{hooks[0]['id']}", json={"headers": {SECRET_HEADER: "old"}}, headers=AUTH,
                 timeout=10).raise_for_status()
    mended = runner.invoke(main, ["stores", "connect", "trade"])
    assert mended.output.count(": updated (id") == 1 and mended.output.count(": found (id") == 4, mended.output
    get_settings.cache_clear()
