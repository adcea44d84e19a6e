"""``backorders doctor`` against the stand-ins: good credentials pass with one call each, a bad
store token and a bad provider key fail naming the store or provider and the refusal, exit 1."""
from __future__ import annotations

import json

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy.orm import Session

from workers.cli import main


def _checks(output: str) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in json.loads(output)["checks"]}


def test_doctor_passes_with_good_credentials(sandboxed: str, db_session: Session) -> None:
    result = CliRunner().invoke(main, ["doctor"])
    text = result.output
    lines = {line.split()[1]: line for line in text.splitlines()[:-1] if line.strip()}
    for name in ("config", "database", "migrations", "broker"):
        assert lines[name].startswith("OK "), text
    assert "maxmemory-policy noeviction" in text
    assert lines["workers"].startswith("WARN") and "no worker has recorded a heartbeat" in lines["workers"]
    assert any(ln.startswith("OK") and "store shopify-main" in ln and "credentials accepted (30 records" in ln
               for ln in text.splitlines()), text
    assert any(ln.startswith("OK") and "store woo-outlet" in ln for ln in text.splitlines()), text
    assert any(ln.startswith("OK") and "shipping shipstation-main" in ln and "credentials accepted" in ln
               for ln in text.splitlines()), text
    assert any(ln.startswith("OK") and "shipping flexport-freight" in ln for ln in text.splitlines()), text
    assert any(ln.startswith("OK") and "provider mailgun" in ln and "domain mg.futonloft.example" in ln
               for ln in text.splitlines()), text
    assert any(ln.startswith("OK") and "provider twilio" in ln for ln in text.splitlines()), text
    assert any(ln.startswith("OK") and "slack SLACK_WEBHOOK_OPS" in ln for ln in text.splitlines()), text
    assert result.exit_code == 0, text
    data = json.loads(CliRunner().invoke(main, ["doctor", "--json"]).output)
    assert data["ok"] is True and all(c["status"] in ("OK", "WARN") for c in data["checks"])


def test_doctor_names_a_store_that_refuses_orders(sandboxed: str, db_session: Session) -> None:
    """A token that reads stock but not orders (Shopify answers 403 on orders.json) fails its own line."""
    requests.post(f"{sandboxed}/shopify/shopify-main/_admin/faults", timeout=5, json={
        "status": 403, "count": 1, "method": "GET", "path_contains": "/orders.json",
        "body": {"errors": "[API] This action requires merchant approval for read_orders scope."}}).raise_for_status()
    result = CliRunner().invoke(main, ["doctor", "--json"])
    assert result.exit_code == 1
    checks = _checks(result.output)
    assert checks["store shopify-main"]["status"] == "OK", "the stock page still answers"
    orders = checks["store shopify-main orders"]
    assert orders["status"] == "FAIL" and "(403)" in orders["detail"] and "read_orders" in orders["detail"], orders
    assert checks["store woo-outlet orders"]["status"] == "OK"


def test_doctor_fails_on_a_bad_store_token_and_a_bad_provider_key(sandboxed: str, db_session: Session,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_revoked")
    monkeypatch.setenv("MAILGUN_API_KEY", "key-rotated-away")
    monkeypatch.setenv("SHIPSTATION_API_SECRET", "rotated")
    monkeypatch.delenv("FLEXPORT_API_KEY")
    result = CliRunner().invoke(main, ["doctor", "--json"])
    assert result.exit_code == 1, result.output
    checks = _checks(result.output)
    shop = checks["store shopify-main"]
    assert shop["status"] == "FAIL" and "refused the credentials (401)" in shop["detail"], shop
    assert checks["store woo-outlet"]["status"] == "OK", "one bad store does not fail the others"
    mail = checks["provider mailgun"]
    assert mail["status"] == "FAIL" and "mailgun answered 401" in mail["detail"], mail
    assert checks["provider twilio"]["status"] == "OK"
    ship = checks["shipping shipstation-main"]
    assert ship["status"] == "FAIL" and "refused the credentials (401)" in ship["detail"], ship
    assert checks["shipping flexport-freight"]["status"] == "FAIL"
    assert "FLEXPORT_API_KEY" in checks["shipping flexport-freight"]["detail"]

    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    monkeypatch.setenv("EMAIL_PROVIDER", "sendgrid")
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.sandbox-sendgrid-key")
    monkeypatch.setenv("SENDGRID_BASE_URL", f"{sandboxed}/sendgrid")
    monkeypatch.delenv("SHOPIFY_ACCESS_TOKEN")
    checks = _checks(CliRunner().invoke(main, ["doctor", "--json"]).output)
    assert checks["provider sendgrid"]["status"] == "OK" and "mail.send" in checks["provider sendgrid"]["detail"]
    assert checks["provider sms"]["status"] == "FAIL" and "TWILIO_AUTH_TOKEN" in checks["provider sms"]["detail"]
    assert checks["store shopify-main"]["status"] == "FAIL"
    assert "SHOPIFY_ACCESS_TOKEN" in checks["store shopify-main"]["detail"]
    text = CliRunner().invoke(main, ["doctor"]).output
    assert text.splitlines()[-1].endswith("failed") and "FAIL  store shopify-main" in text
