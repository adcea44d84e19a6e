"""Who a message is from (``domain.messaging.senders``): the ``[notifications]`` senders in the TOML, the
environment only where the file says nothing. Sent for real through the sandbox providers."""
from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

import tasks.notify  # noqa: F401  (registers the tasks)
from domain.core.env_settings import get_settings
from domain.core.models import OutboxMessage
from domain.messaging import outbox
from sandbox.server import SandboxServer
from tasks.notify import deliver
from tests.conftest import REPO_ROOT

ALERT = {"event": "stock.out", "sku": "FUT-FULL-OAK", "title": "Oak futon", "from_state": "LOW", "to_state": "OUT",
         "available": 0, "threshold": 3, "open_demand": 2, "locations": [], "channels": [], "detail": ""}
CUSTOMER = {"store_name": "Futon Loft", "order_number": "#1001", "customer_name": "Ada", "item_title": "Oak frame",
            "sku": "FUT-FRM-OAK-FULL", "quantity": 1, "eta": "2026-08-01", "consent_required": False,
            "deadline": None, "timezone": "America/New_York",
            "links": {"wait": "https://x/w", "cancel": "https://x/c", "credit": "https://x/k"},
            "substitutes": [], "sms_keywords": ["WAIT", "REFUND", "CREDIT"], "auto_cancel_action": "refund"}
ENV_EMAIL, ENV_NUMBER = "Env Sender <env@mg.example.test>", "+15005550001"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    app = FastAPI()
    for name in ("sandbox.control", "sandbox.messaging", "sandbox.twilio", "sandbox.mailgun", "sandbox.sendgrid"):
        importlib.import_module(name).install(app)
    with SandboxServer(app=app) as server:
        yield server


@pytest.fixture
def providers(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, services: dict[str, str]) -> Iterator[str]:
    sandbox.app.state.messaging.reset()
    base = sandbox.base_url
    for name, value in {
        "EMAIL_PROVIDER": "mailgun", "MAILGUN_API_KEY": "sandbox-mailgun-key", "MAILGUN_DOMAIN": "mg.example.test",
        "MAILGUN_BASE_URL": f"{base}/mailgun", "SENDGRID_API_KEY": "SG.sandbox-sendgrid-key",
        "SENDGRID_BASE_URL": f"{base}/sendgrid", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "sandbox-twilio-token", "TWILIO_BASE_URL": f"{base}/twilio", "EMAIL_FROM": ENV_EMAIL,
        "TWILIO_FROM": ENV_NUMBER, "NOTIFY_TIMEOUT_S": "2", "PUBLIC_BASE_URL": "https://backorders.example.test",
        "BACKORDERS_CONFIG": str(REPO_ROOT / "examples" / "futon-store.toml"),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield f"{base}/_sandbox/messaging"
    get_settings.cache_clear()


def _sent(session: Session, channel: str, template: str, recipient: str, context: dict[str, Any]) -> None:
    outbox_id = outbox.enqueue(session, idempotency_key=f"test:{uuid.uuid4()}", channel=channel, template=template,
                               recipient=recipient, context=context)
    session.commit()
    assert deliver.apply(args=[outbox_id]).get() == "sent"


def _from(admin: str, provider: str) -> list[str]:
    messages = requests.get(f"{admin}/messages", params={"provider": provider}, timeout=5).json()["messages"]
    return [m["from"] for m in messages]


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid"])
def test_the_toml_senders_are_used_for_customers_staff_and_sms(db_session: Session, providers: str,
                                                               monkeypatch: pytest.MonkeyPatch, provider: str) -> None:
    monkeypatch.setenv("EMAIL_PROVIDER", provider)
    _sent(db_session, "email", "backorder_notice", "ada@example.com", CUSTOMER)
    _sent(db_session, "email", "stock_alert", "ops@example.com", ALERT)
    _sent(db_session, "sms", "backorder_notice", "+12015550123", CUSTOMER)
    # examples/futon-store.toml: from_email, staff_from_email, sms_from — the environment loses
    assert _from(providers, provider) == ["orders@futonloft.example", "alerts@futonloft.example"]
    assert _from(providers, "twilio") == ["+15005550006"]


def test_the_environment_is_the_fallback_where_the_toml_says_nothing(db_session: Session, providers: str,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    text = (REPO_ROOT / "examples" / "futon-store.toml").read_text()
    kept = [line for line in text.splitlines()
            if not line.startswith(("from_email", "staff_from_email", "sms_from"))]
    config = tmp_path / "no-senders.toml"
    config.write_text("\n".join(kept) + "\n")
    monkeypatch.setenv("BACKORDERS_CONFIG", str(config))
    get_settings.cache_clear()
    _sent(db_session, "email", "backorder_notice", "ada@example.com", CUSTOMER)
    _sent(db_session, "email", "stock_alert", "ops@example.com", ALERT)
    _sent(db_session, "sms", "backorder_notice", "+12015550123", CUSTOMER)
    assert _from(providers, "mailgun") == [ENV_EMAIL, ENV_EMAIL]
    assert _from(providers, "twilio") == [ENV_NUMBER]


def test_no_sender_anywhere_fails_the_row_naming_the_keys(db_session: Session, providers: str,
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = (REPO_ROOT / "examples" / "futon-store.toml").read_text()
    config = tmp_path / "no-senders.toml"
    config.write_text("\n".join(line for line in text.splitlines() if not line.startswith("staff_from_email")
                                and not line.startswith("from_email")) + "\n")
    monkeypatch.setenv("BACKORDERS_CONFIG", str(config))
    monkeypatch.delenv("EMAIL_FROM")
    get_settings.cache_clear()
    outbox_id = outbox.enqueue(db_session, idempotency_key=f"test:{uuid.uuid4()}", channel="email",
                               template="stock_alert", recipient="ops@example.com", context=ALERT)
    db_session.commit()
    assert deliver.apply(args=[outbox_id]).get() == "failed"
    db_session.expire_all()
    row = db_session.get(OutboxMessage, outbox_id)
    assert row is not None and "staff_from_email" in (row.last_error or "") and "EMAIL_FROM" in (row.last_error or "")
    assert _from(providers, "mailgun") == []


def test_the_scheduled_scorecard_reaches_the_buyer_from_the_staff_sender_with_its_csv(
        db_session: Session, providers: str, catalog: Any) -> None:
    from celeryconfig import beat_schedule
    from tasks.purchasing import send_scorecard

    assert beat_schedule["vendor-scorecard"]["task"] == "tasks.purchasing.send_scorecard"
    assert send_scorecard.apply().get() == 1, "the example schedule (weekly) always has a latest period"
    assert send_scorecard.apply().get() == 0, "once per period"
    [row] = db_session.scalars(select(OutboxMessage).where(OutboxMessage.template == "vendor_scorecard")).all()
    assert deliver.apply(args=[row.id]).get() == "sent"
    [mail] = requests.get(f"{providers}/messages", params={"provider": "mailgun"}, timeout=5).json()["messages"]
    assert mail["from"] == "alerts@futonloft.example" and mail["to"] == ["buyer@futonloft.example"]
    assert mail["subject"].startswith("Vendor scorecard ")
    [attachment] = mail["attachments"]
    assert attachment["filename"].startswith("vendor-scorecard-") and attachment["filename"].endswith(".csv")
