"""A WooCommerce site connected with `stores discover` and `stores connect`.

WooCommerce keeps one stock figure per product, so its one location is ``default``; its webhooks
take a secret we choose, which ``connect`` generates and keeps. A second connect finds the
subscriptions; one found while the secret is new (the old one lost) is given the new secret.
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

from sandbox.server import SandboxServer
from workers.cli import main

EMPTY = """[business]
name = "Outlet"
timezone = "Europe/Berlin"

[[stores]]
key = "outlet"
platform = "woocommerce"
base_url = "{base_url}"
credentials = {{ consumer_key = "OUTLET_KEY", consumer_secret = "OUTLET_SECRET" }}
"""


@pytest.fixture
def servers(db_session: Session) -> Iterator[tuple[str, str]]:
    from workers.web import create_app

    with SandboxServer() as sandbox, SandboxServer(app=create_app(), health_path="/readyz") as web:
        yield sandbox.base_url, web.base_url


def test_a_woocommerce_site_connects_with_a_generated_secret(servers: tuple[str, str], db_session: Session,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.core import store_secrets
    from domain.core.env_settings import get_settings
    from domain.core.models import Sku

    sandbox, web = servers
    admin = f"{sandbox}/woocommerce/outlet/_admin"
    requests.post(f"{admin}/seed", json={"count": 130, "sku_prefix": "OUT-", "stock_quantity": 4}, timeout=30
                  ).raise_for_status()
    requests.post(f"{admin}/seed", json={"reset": False, "items": [
        {"sku": "FUTON-V", "name": "Futon", "type": "variable", "manage_stock": False, "variations": [
            {"sku": "FUTON-V-OAK", "stock_quantity": 0}, {"sku": "FUTON-V-ASH", "stock_quantity": 2}]},
        {"sku": "", "name": "Gift wrap", "stock_quantity": 100}]}, timeout=30).raise_for_status()
    requests.post(f"{admin}/faults", json={"status": 403, "count": 1000, "path_contains": "/orders", "body": {
        "code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
        "data": {"status": 403}}}, timeout=10).raise_for_status()
    path = tmp_path / "outlet.toml"
    path.write_text(EMPTY.format(base_url=f"{sandbox}/woocommerce/outlet"))
    for key, value in {"OUTLET_KEY": "ck_sandbox", "OUTLET_SECRET": "cs_sandbox", "PUBLIC_BASE_URL": web,
                       "BACKORDERS_CONFIG": str(path), "BACKORDERS_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OUTLET_WEBHOOK_SECRET", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    found = runner.invoke(main, ["stores", "discover", "outlet"])
    assert found.exit_code == 0, found.output
    assert 'its one location is "default"' in found.output
    assert "132 SKUs added" in found.output and "Gift wrap" in found.output  # the item without a code is named
    written = tomllib.loads(path.read_text())
    assert written["stores"][0]["locations"] == {"default": "outlet"}
    assert {"FUTON-V-OAK", "FUTON-V-ASH"} <= {s["code"] for s in written["skus"]}
    assert "FUTON-V" not in {s["code"] for s in written["skus"]}  # the variable parent holds no stock

    connected = runner.invoke(main, ["stores", "connect", "outlet"])
    assert connected.exit_code == 0, connected.output
    assert "OUTLET_WEBHOOK_SECRET (generated, kept in" in connected.output
    assert "Read permission on the API key" in connected.output
    assert "FUTON-V-OAK: IN_STOCK -> OUT (available 0)" in connected.output
    secret = store_secrets.lookup("OUTLET_WEBHOOK_SECRET")
    assert secret and (store_secrets.secrets_file().stat().st_mode & 0o777) == 0o600
    listed = requests.get(f"{sandbox}/woocommerce/outlet/wp-json/wc/v3/webhooks",
                          auth=("ck_sandbox", "cs_sandbox"), timeout=10).json()
    assert {(h["topic"], h["delivery_url"], h["status"]) for h in listed} == {
        (topic, f"{web}/webhooks/outlet", "active") for topic in ("product.created", "product.updated", "order.created")}
    assert all("secret" not in h for h in listed)

    # a change in the WooCommerce admin arrives signed with the generated secret and is stored
    requests.post(f"{admin}/set_stock", json={"sku": "OUT-000012", "stock_quantity": 0}, timeout=10
                  ).raise_for_status()
    deliveries = requests.get(f"{admin}/webhooks", timeout=10).json()["deliveries"]
    assert [d["status"] for d in deliveries if d["topic"] == "product.updated"] == [200]

    again = runner.invoke(main, ["stores", "connect", "outlet"])
    assert again.exit_code == 0 and again.output.count(": found (id") == 3, again.output
    store_secrets.secrets_file().unlink()  # the kept secret is lost: a new one is made and given to each webhook
    mended = runner.invoke(main, ["stores", "connect", "outlet"])
    assert mended.exit_code == 0 and mended.output.count(": updated (id") == 3, mended.output
    assert store_secrets.lookup("OUTLET_WEBHOOK_SECRET") not in (None, secret)
    requests.post(f"{admin}/set_stock", json={"sku": "OUT-000013", "stock_quantity": 1}, timeout=10
                  ).raise_for_status()
    deliveries = requests.get(f"{admin}/webhooks", timeout=10).json()["deliveries"]
    assert [d["status"] for d in deliveries if d["topic"] == "product.updated"] == [200, 200]
    assert db_session.scalar(select(Sku.state).where(Sku.code == "FUTON-V-OAK")) == "OUT"
    get_settings.cache_clear()
