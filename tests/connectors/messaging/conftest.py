"""One messaging sandbox for the session, reset before each test, so tests share nothing but the port."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.messaging import MessagingState
from sandbox.server import SandboxServer

MESSAGING_MODULES = ("sandbox.messaging", "sandbox.twilio", "sandbox.mailgun", "sandbox.sendgrid", "sandbox.slack")


@pytest.fixture(scope="module")
def sandbox(sandbox_for: Callable[..., SandboxServer]) -> SandboxServer:
    """Only the stand-ins these tests exercise (``sandbox_for`` in tests/connectors/conftest.py),
    so a half-finished platform stand-in elsewhere in ``sandbox.app.MODULES`` cannot break them;
    ``test_app_modules`` checks the full app separately."""
    return sandbox_for(*MESSAGING_MODULES)


@pytest.fixture(autouse=True)
def fresh(sandbox: SandboxServer) -> MessagingState:
    st: MessagingState = sandbox.app.state.messaging
    st.reset()
    return st


class Admin:
    """Thin client for the ``/_sandbox/messaging`` admin endpoints, used the way a demo would."""

    def __init__(self, base_url: str) -> None:
        self.base = f"{base_url}/_sandbox/messaging"

    def fault(self, **fault: Any) -> None:
        requests.post(f"{self.base}/faults", json=fault, timeout=5).raise_for_status()

    def rate_limit(self, provider: str, per_second: int | None) -> None:
        requests.post(f"{self.base}/rate-limit", json={"provider": provider, "per_second": per_second},
                      timeout=5).raise_for_status()

    def messages(self, **filters: str) -> list[dict[str, Any]]:
        response = requests.get(f"{self.base}/messages", params=filters, timeout=5)
        response.raise_for_status()
        return response.json()["messages"]

    def requests(self, provider: str) -> list[dict[str, Any]]:
        return requests.get(f"{self.base}/requests", params={"provider": provider}, timeout=5).json()["requests"]

    def emit(self, path: str, **body: Any) -> dict[str, Any]:
        response = requests.post(f"{self.base}/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def sink(self, name: str) -> list[dict[str, Any]]:
        return requests.get(f"{self.base}/sink/{name}", timeout=5).json()["received"]

    def config(self, **changes: Any) -> dict[str, Any]:
        if changes:
            response = requests.post(f"{self.base}/config", json=changes, timeout=5)
        else:
            response = requests.get(f"{self.base}/config", timeout=5)
        response.raise_for_status()
        return response.json()


@pytest.fixture
def admin(sandbox: SandboxServer) -> Admin:
    return Admin(sandbox.base_url)
