"""The ops commands against the real database and the sandbox."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy.orm import Session

from tests.conftest import REPO_ROOT
from tests.integration.workers.conftest import StandIns
from workers.cli import main


def test_config_apply_then_status_json(db_session: Session, tmp_path: Path) -> None:
    runner = CliRunner()
    applied = runner.invoke(main, ["config", "apply", str(REPO_ROOT / "examples" / "futon-store.toml")])
    assert applied.exit_code == 0, applied.output
    status = runner.invoke(main, ["status", "--json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert data["skus_by_state"] == {"IN_STOCK": 30}
    assert {s["key"] for s in data["stores"]} == {"shopify-main", "woo-outlet", "bigcommerce-trade", "magento-trade",
                                                 "showroom-pos", "netsuite-erp"}
    assert data["timers"] == {"pending": 0, "due_now": 0}


def test_sync_reports_what_changed(stand_ins: Callable[..., StandIns], monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = stand_ins({"shopify"}, available=2)
    runner = CliRunner()
    result = runner.invoke(main, ["sync", "shopify-main", "--full"])
    assert result.exit_code == 0, result.output
    assert "full poll" in result.output and "30 records" in result.output
    assert "FUT-FRM-OAK-FULL: IN_STOCK -> LOW (available 2)" in result.output
    missing = runner.invoke(main, ["sync", "no-such-store"])
    assert missing.exit_code == 1 and "unknown store 'no-such-store'" in missing.output
    monkeypatch.delenv("SHOPIFY_ACCESS_TOKEN")
    no_token = runner.invoke(main, ["sync", "shopify-main"])
    assert no_token.exit_code == 1 and "SHOPIFY_ACCESS_TOKEN" in no_token.output
    assert requests.get(f"{sandbox.url}/_sandbox/health", timeout=5).ok


def test_status_shows_provider_circuits_and_webhooks_for_unknown_stores(db_session: Session) -> None:
    from domain.messaging.circuit import get_breaker
    from domain.stock import stray_webhooks

    breaker = get_breaker()
    for provider in ("mailgun", "twilio"):
        breaker.reset(provider)
    for _ in range(10):
        breaker.record_failure("twilio")
    stray_webhooks.note_unknown_store("old-shop", {"X-Shopify-Topic": "inventory_levels/update",
                                                   "User-Agent": "Shopify-Captain-Hook"}, 321)
    try:
        runner = CliRunner()
        data = json.loads(runner.invoke(main, ["status", "--json"]).output)
        assert data["circuits"]["twilio"] == "open" and data["circuits"]["mailgun"] == "closed"
        assert data["stray_webhooks"][0]["store_key"] == "old-shop"
        text = runner.invoke(main, ["status"]).output
        assert "twilio open" in text and "old-shop inventory_levels/update (321 bytes, Shopify-Captain-Hook)" in text
    finally:
        breaker.reset("twilio")
