"""`stores discover` on Lightspeed X-Series: outlets become locations, products become SKUs."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

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


def test_a_platform_without_discovery_says_to_write_it_by_hand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    path = tmp_path / "erp.toml"
    path.write_text('[business]\nname = "E"\n\n[[stores]]\nkey = "erp"\nplatform = "odoo"\n'
                    'base_url = "https://erp.example"\nsells = false\n'
                    'credentials = { database = "ODB", login = "OLOGIN", api_key = "OKEY" }\n')
    for name in ("ODB", "OLOGIN", "OKEY"):
        monkeypatch.setenv(name, "x")
    result = CliRunner().invoke(main, ["stores", "discover", "erp", "--file", str(path)])
    assert result.exit_code == 1 and "odoo: discovery is not supported" in result.output
    assert "[[stores]]" in path.read_text() and "read_only" not in path.read_text()  # nothing written


def test_connect_takes_the_first_sync_and_names_where_webhooks_go(db_session: object, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.core.env_settings import get_settings

    with SandboxServer() as sandbox:
        requests.post(f"{sandbox.base_url}/lightspeed/pos2/_admin/seed", json={
            "outlets": 1, "count": 3, "sku_prefix": "LS-", "current_amount": 0}, timeout=10).raise_for_status()
        path = tmp_path / "pos.toml"
        path.write_text(f'[business]\nname = "POS"\n\n[[stores]]\nkey = "pos"\nplatform = "lightspeed"\n'
                        f'base_url = "{sandbox.base_url}/lightspeed/pos2"\n'
                        'credentials = { access_token = "POS_TOKEN" }\n')
        for key, value in {"POS_TOKEN": "lsxs_sandbox_token", "BACKORDERS_CONFIG": str(path),
                           "PUBLIC_BASE_URL": "https://backorders.example.com"}.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        runner = CliRunner()
        assert runner.invoke(main, ["stores", "discover", "pos"]).exit_code == 0
        result = runner.invoke(main, ["stores", "connect", "pos"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "point them at https://backorders.example.com/webhooks/pos" in result.output
    assert "first full sync: full poll" in result.output and "LS-000002: IN_STOCK -> BACKORDER (available 0)" in result.output
    # X-Series has no backorder setting to read: discover leaves allow_backorder to its default (true)
