"""Payment stand-ins on one session sandbox; each test gets a fresh provider instance and the
plain HTTP receiver (``webhook_receiver``) registered as its webhook endpoint."""
from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from sandbox.server import SandboxServer
from tests.connectors.conftest import Admin, Received, WebhookReceiver

PAYMENT_MODULES = ("sandbox.stripe", "sandbox.adyen", "sandbox.paypal")


@pytest.fixture(scope="module")
def payments_sandbox(sandbox_for: Callable[..., SandboxServer]) -> SandboxServer:
    return sandbox_for(*PAYMENT_MODULES)


@pytest.fixture
def fresh_admin(payments_sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> Callable[..., Admin]:
    def make(provider: str, **endpoint: str) -> Admin:
        admin = Admin(payments_sandbox.base_url, provider, f"{provider}-{uuid.uuid4().hex[:8]}")
        admin.post("webhook_endpoints", {"url": webhook_receiver.url, **endpoint})
        return admin
    return make


def last_delivery(receiver: WebhookReceiver) -> Received:
    assert receiver.received, "no webhook arrived"
    return receiver.received[-1]
