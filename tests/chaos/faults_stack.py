"""Fixtures for the provider-fault, bad-input and security scenarios.

They need only the ordinary ``tests/conftest.py`` services: the sandbox (every provider and
platform stand-in) and the product's web app, each served over real HTTP in this process, and one
Celery worker consuming the real broker. Test modules import the fixtures they use by name.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import requests
from sqlalchemy.orm import Session

from domain.core.env_settings import get_settings
from sandbox.server import SandboxServer

SID = "AC00000000000000000000000000000000"
TOKEN = "sandbox-twilio-token"
SLACK_PATH = "/slack/services/T000/B000/SANDBOX"
PROVIDERS = ("mailgun", "sendgrid", "twilio", "slack")
CONTEXT = {
    "event": "stock.out", "sku": "FUT-FULL-OAK", "title": "Oak futon", "from_state": "LOW",
    "to_state": "OUT", "available": 0, "threshold": 3, "open_demand": 2,
    "locations": [{"name": "Main", "available": 0}], "channels": ["Shopify store"], "detail": "",
}


@dataclass
class Servers:
    sandbox: SandboxServer
    web: SandboxServer


class Messaging:
    """The sandbox's messaging admin API: inject faults, read what each provider received."""

    def __init__(self, base_url: str) -> None:
        self.base = f"{base_url}/_sandbox/messaging"

    def fault(self, **fault: Any) -> None:
        requests.post(f"{self.base}/faults", json=fault, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.base}/faults", timeout=5).raise_for_status()

    def messages(self, provider: str) -> list[dict[str, Any]]:
        return requests.get(f"{self.base}/messages", params={"provider": provider}, timeout=5).json()["messages"]

    def requests(self, provider: str) -> list[dict[str, Any]]:
        return requests.get(f"{self.base}/requests", params={"provider": provider}, timeout=5).json()["requests"]

    def reset(self) -> None:
        requests.post(f"{self.base}/reset", timeout=5).raise_for_status()


@pytest.fixture(scope="module")
def servers(services: dict[str, str]) -> Iterator[Servers]:
    """The whole sandbox and the product's web app (callbacks, webhooks, reply pages)."""
    from workers.web import create_app

    with SandboxServer() as sandbox, SandboxServer(app=create_app(), health_path="/readyz") as web:
        yield Servers(sandbox, web)


@pytest.fixture(scope="module")
def worker(celery_app: object) -> Iterator[object]:
    """One worker for the module (starting one costs seconds; the scenarios are shorter)."""
    from celery.contrib.testing.worker import start_worker

    import tasks.notify  # noqa: F401  (registers the notify tasks with the app)
    from celeryconfig import QUEUES

    with start_worker(celery_app, pool="threads", concurrency=4, perform_ping_check=False,  # type: ignore[arg-type]
                      loglevel="WARNING", queues=list(QUEUES), shutdown_timeout=20) as running:
        yield running


def provider_env(sandbox_url: str, web_url: str) -> dict[str, str]:
    return {
        "EMAIL_PROVIDER": "mailgun", "MAILGUN_API_KEY": "sandbox-mailgun-key", "MAILGUN_DOMAIN": "mg.example.test",
        "MAILGUN_BASE_URL": f"{sandbox_url}/mailgun", "EMAIL_FROM": "Backorders <alerts@mg.example.test>",
        "SENDGRID_API_KEY": "SG.sandbox-sendgrid-key", "SENDGRID_BASE_URL": f"{sandbox_url}/sendgrid",
        "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM": "+15005550006",
        "TWILIO_BASE_URL": f"{sandbox_url}/twilio", "SLACK_WEBHOOK_OPS": f"{sandbox_url}{SLACK_PATH}",
        "SLACK_WEBHOOK_PURCHASING": f"{sandbox_url}{SLACK_PATH}",
        "SLACK_WEBHOOK_CARE": f"{sandbox_url}{SLACK_PATH}",
        "NOTIFY_TIMEOUT_S": "1", "PUBLIC_BASE_URL": web_url,
        "RATE_LIMIT_SLACK_PER_S": "0", "RATE_LIMIT_MAILGUN_PER_S": "0", "RATE_LIMIT_TWILIO_PER_S": "0",
        "MAILGUN_WEBHOOK_SIGNING_KEY": "sandbox-mailgun-signing-key",
    }


@pytest.fixture
def messaging(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> Iterator[Messaging]:
    """A fresh messaging sandbox, provider variables pointing at it, every circuit closed."""
    from domain.messaging.circuit import get_breaker

    admin = Messaging(servers.sandbox.base_url)
    admin.reset()
    for name, value in provider_env(servers.sandbox.base_url, servers.web.base_url).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    for provider in PROVIDERS:
        get_breaker().reset(provider)
    yield admin
    for provider in PROVIDERS:
        get_breaker().reset(provider)
    get_settings.cache_clear()


def outbox_row(session: Session, outbox_id: int) -> Any:
    from domain.core.models import OutboxMessage

    session.expire_all()
    return session.get(OutboxMessage, outbox_id)


def enqueue(session: Session, channel: str, recipient: str, key: str, template: str = "stock_alert",
            context: dict[str, Any] | None = None) -> int:
    from domain.messaging import outbox

    outbox_id = outbox.enqueue(session, idempotency_key=key, channel=channel, template=template,
                               recipient=recipient, context=context or CONTEXT)
    session.commit()
    assert outbox_id is not None
    return outbox_id


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url)


class Captured(logging.Handler):
    """Every record the product's loggers emit, formatted as the process would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


def elapsed(since: float) -> float:
    return time.monotonic() - since
