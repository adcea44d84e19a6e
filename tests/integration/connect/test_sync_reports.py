"""`backorders sync` names what it could not match and goes on when orders are refused."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox.server import SandboxServer
from workers.cli import main

CONFIG = """[business]
name = "S"

[[locations]]
key = "warehouse"

[[stores]]
key = "shop"
platform = "shopify"
base_url = "{base_url}"
credentials = {{ access_token = "SYNC_SHOP_TOKEN" }}
locations = {{ "655441491" = "warehouse" }}

[[skus]]
code = "KNOWN-1"
allow_backorder = false

[[skus]]
code = "KNOWN-2"
"""


def test_sync_lists_unmatched_codes_and_survives_a_refused_orders_read(
        db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.core.env_settings import get_settings
    from domain.core.models import AuditLog, DeadLetter, Store

    with SandboxServer() as sandbox:
        admin = f"{sandbox.base_url}/shopify/syncs/_admin"
        requests.post(f"{admin}/seed", json={"items": [
            {"sku": "KNOWN-1", "available": 0}, {"sku": "KNOWN-2", "available": 5},
            {"sku": "EXTRA-9", "available": 1}, {"sku": "", "available": 1}]}, timeout=10).raise_for_status()
        requests.post(f"{admin}/faults", json={"status": 403, "count": 10, "path_contains": "/orders.json", "body": {
            "errors": "[API] This action requires merchant approval for read_orders scope."}}, timeout=10)
        path = tmp_path / "shop.toml"
        path.write_text(CONFIG.format(base_url=f"{sandbox.base_url}/shopify/syncs"))
        monkeypatch.setenv("SYNC_SHOP_TOKEN", "shpat_sandbox")
        monkeypatch.setenv("BACKORDERS_CONFIG", str(path))
        get_settings.cache_clear()
        runner = CliRunner()
        assert runner.invoke(main, ["config", "apply", str(path)]).exit_code == 0
        result = runner.invoke(main, ["sync", "shop", "--full"])
    assert result.exit_code == 0, result.output
    assert "warning: orders not read: read_orders scope missing (HTTP 403)" in result.output
    assert "unmatched (2 records)" in result.output and "    EXTRA-9\n" in result.output
    assert "(no SKU code)" in result.output
    assert "KNOWN-1: IN_STOCK -> OUT (available 0)" in result.output
    store = db_session.scalar(select(Store).where(Store.key == "shop"))
    assert store is not None and store.last_polled_at is not None
    poll = db_session.scalar(select(AuditLog.data).where(AuditLog.action == "poll"))
    assert poll is not None and poll["warnings"] and poll["unmatched"][0] == "EXTRA-9"
    assert db_session.scalar(select(DeadLetter.id)) is None
    status = CliRunner().invoke(main, ["status"])
    assert "Store shop last poll: orders not read: read_orders scope missing" in status.output
    get_settings.cache_clear()
