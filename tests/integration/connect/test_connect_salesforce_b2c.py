"""A Salesforce B2C Commerce store connected with `stores discover` and `stores connect`, then polled
and told of a sell-out.

Real parts: the product's CLI and a Celery worker against PostgreSQL and Redis, the B2C Commerce
stand-in (Account Manager tokens, OCAPI) over HTTP. B2C Commerce sends no stock webhooks, so a
storefront sale reaches us by the next poll; the SKU goes to BACKORDER and the push writes the
record's allocation with the backorder handling and the in-stock date.
"""
from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.oauth2 import forget_tokens
from sandbox.salesforce_b2c import CLIENT_ID, CLIENT_SECRET
from sandbox.server import SandboxServer
from tests.conftest import wait_for
from workers.cli import main

FILE = """[business]
name = "Futon Loft US"
timezone = "America/New_York"

[[stores]]
key = "sfcc-us"
platform = "salesforce_b2c"
base_url = "{root}"
credentials = {{ client_id = "SFCC_CLIENT_ID", client_secret = "SFCC_CLIENT_SECRET" }}
options = {{ site_id = "RefArch", token_url = "{root}/dwsso/oauth2/access_token" }}
"""


@pytest.fixture
def sandbox(db_session: Session) -> Iterator[str]:
    forget_tokens()
    with SandboxServer() as server:
        yield server.base_url
    forget_tokens()


def test_a_b2c_commerce_store_is_discovered_connected_polled_and_told_of_a_sell_out(
        sandbox: str, db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        celery_worker: object) -> None:
    from domain.core.env_settings import get_settings
    from domain.core.models import Order, Sku, Store

    root = f"{sandbox}/salesforce_b2c/sfcc-us"
    requests.post(f"{root}/_admin/seed", timeout=10, json={"lists": [{"id": "futon-inventory", "sites": ["RefArch"],
        "items": [{"sku": "FRAME-OAK", "name": "Oak frame", "allocation": 2},
                  {"sku": "COVER-RED", "name": "Red cover", "allocation": 5, "handling": "backorder",
                   "backorder_allocation": 20}]}]}).raise_for_status()
    path = tmp_path / "sfcc.toml"
    path.write_text(FILE.format(root=root))
    for key, value in {"SFCC_CLIENT_ID": CLIENT_ID, "SFCC_CLIENT_SECRET": CLIENT_SECRET,
                       "BACKORDERS_CONFIG": str(path), "BACKORDERS_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    runner = CliRunner()

    found = runner.invoke(main, ["stores", "discover", "sfcc-us"])
    assert found.exit_code == 0, found.output
    written = tomllib.loads(path.read_text())
    [location] = written["locations"]
    assert written["stores"][0]["locations"] == {"futon-inventory": location["key"]}
    assert {s["code"]: s["allow_backorder"] for s in written["skus"]} == {"FRAME-OAK": False, "COVER-RED": True}
    # the frame is to keep selling once it is out (the store did not allow it yet)
    text = path.read_text().replace("read_only = true", "read_only = false")
    frame = text.index('code = "FRAME-OAK"')
    at = text.index("allow_backorder = false", frame)
    path.write_text(text[:at] + "allow_backorder = true" + text[at + len("allow_backorder = false"):])

    connected = runner.invoke(main, ["stores", "connect", "sfcc-us"])
    assert connected.exit_code == 0, connected.output
    assert "first full sync" in connected.output

    # a storefront checkout sells the last two frames: no webhook, the next poll sees it
    requests.post(f"{root}/_admin/create_order", timeout=10, json={
        "lines": [{"sku": "FRAME-OAK", "quantity": 2, "price": "499.00"}], "email": "ann@example.com"}
                  ).raise_for_status()
    synced = runner.invoke(main, ["sync", "sfcc-us"])
    assert synced.exit_code == 0, synced.output

    wait_for(lambda: db_session.expire_all() or db_session.scalar(select(Sku.state).where(Sku.code == "FRAME-OAK"))
             == "BACKORDER", timeout_s=30)

    def told() -> dict | None:
        item = requests.get(f"{root}/_admin/state/items", params={"skus": "FRAME-OAK"}, timeout=10).json()["items"][0]
        return item if item["pre_order_back_order_handling"] == "backorder" and item["in_stock_date"] else None

    record = wait_for(told, timeout_s=30)
    assert record["allocation"]["amount"] == 0 and record["ats"] > 0  # type: ignore[index]
    store_id = db_session.scalar(select(Store.id).where(Store.key == "sfcc-us"))
    order = db_session.scalar(select(Order).where(Order.store_id == store_id))
    assert order is not None and order.email == "ann@example.com"
    get_settings.cache_clear()
