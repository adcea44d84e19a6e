"""`stores discover` on Lightspeed X-Series: outlets become locations, products become SKUs."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from sandbox.lightspeed import DEFAULT_CLIENT_SECRET
from sandbox.server import SandboxServer
from workers.cli import main


def test_outlets_and_products_are_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SandboxServer() as sandbox:
        seeded = requests.post(f"{sandbox.base_url}/lightspeed/pos/_admin/seed", json={
            "outlets": 2, "count": 5, "sku_prefix": "LS-"}, timeout=10).json()
        path = tmp_path / "pos.toml"
        path.write_text(f'[business]\nname = "POS"\n\n[[stores]]\nkey = "pos"\nplatform = "lightspeed"\n'
                        f'base_url = "{sandbox.base_url}/lightspeed/pos"\n'
                        'credentials = { access_token = "POS_TOKEN" }\n')
        monkeypatch.setenv("POS_TOKEN", "lsxs_sandbox_token")
        result = CliRunner().invoke(main, ["stores", "discover", "pos", "--file", str(path)])
    assert result.exit_code == 0, result.output
    written = tomllib.loads(path.read_text())
    assert set(written["stores"][0]["locations"]) == set(seeded["outlets"])
    assert [s["code"] for s in written["skus"]] == [f"LS-{n:06d}" for n in range(5)]
    assert [loc["key"] for loc in written["locations"]] == ["outlet-0", "outlet-1"]


def test_connect_registers_webhooks_once_and_takes_the_first_sync(db_session: object, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Lightspeed signs with the app's client secret, so connect asks for it; then it registers
    ``inventory.update``, ``product.update`` and ``sale.update`` through ``/api/2.0/webhooks``, and a
    second connect finds them and registers nothing new. A stock change in the back office reaches our receiver
    signed with that secret."""
    from domain.core.env_settings import get_settings
    from workers.web import create_app

    with SandboxServer() as sandbox, SandboxServer(app=create_app(), health_path="/readyz") as web:
        admin = f"{sandbox.base_url}/lightspeed/pos2/_admin"
        requests.post(f"{admin}/seed", json={"outlets": 1, "count": 3, "sku_prefix": "LS-", "current_amount": 0},
                      timeout=10).raise_for_status()
        path = tmp_path / "pos.toml"
        path.write_text(f'[business]\nname = "POS"\n\n[[stores]]\nkey = "pos"\nplatform = "lightspeed"\n'
                        f'base_url = "{sandbox.base_url}/lightspeed/pos2"\n'
                        'credentials = { access_token = "POS_TOKEN" }\n')
        for key, value in {"POS_TOKEN": "lsxs_sandbox_token", "BACKORDERS_CONFIG": str(path),
                           "PUBLIC_BASE_URL": web.base_url, "BACKORDERS_DATA_DIR": str(tmp_path / "data")}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("POS_WEBHOOK_SECRET", raising=False)
        get_settings.cache_clear()
        runner = CliRunner()
        assert runner.invoke(main, ["stores", "discover", "pos"]).exit_code == 0
        refused = runner.invoke(main, ["stores", "connect", "pos"])
        assert refused.exit_code == 1 and "set POS_WEBHOOK_SECRET to the OAuth app's client secret" in refused.output
        monkeypatch.setenv("POS_WEBHOOK_SECRET", DEFAULT_CLIENT_SECRET)
        result = runner.invoke(main, ["stores", "connect", "pos"])
        assert result.exit_code == 0, result.output
        assert f"pos: webhooks to {web.base_url}/webhooks/pos" in result.output
        assert result.output.count(": created (id") == 3, result.output
        assert "first full sync: full poll" in result.output
        assert "LS-000002: IN_STOCK -> BACKORDER (available 0)" in result.output
        # X-Series has no backorder setting to read: discover leaves allow_backorder to its default (true)
        api = f"{sandbox.base_url}/lightspeed/pos2/api/2.0/webhooks"
        listed = requests.get(api, headers={"Authorization": "Bearer lsxs_sandbox_token"}, timeout=10).json()["data"]
        assert sorted((h["type"], h["url"], h["active"]) for h in listed) == [
            ("inventory.update", f"{web.base_url}/webhooks/pos", True),
            ("product.update", f"{web.base_url}/webhooks/pos", True),
            ("sale.update", f"{web.base_url}/webhooks/pos", True)]

        again = runner.invoke(main, ["stores", "connect", "pos"])
        assert again.exit_code == 0 and again.output.count(": found (id") == 3, again.output
        assert "created" not in again.output
        assert len(requests.get(api, headers={"Authorization": "Bearer lsxs_sandbox_token"}, timeout=10
                                ).json()["data"]) == 3

        sold = requests.post(f"{admin}/set_stock", json={"sku": "LS-000001", "current_amount": 7}, timeout=10).json()
        assert [(d["topic"], d["status"]) for d in sold["webhooks"]] == [("inventory.update", 200)]
    get_settings.cache_clear()
