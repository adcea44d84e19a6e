"""Helpdesk stand-ins on one session sandbox; each test gets a fresh account with the plain HTTP
receiver (``webhook_receiver``) subscribed to its new-ticket webhooks."""
from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from sandbox.server import SandboxServer
from tests.connectors.conftest import Admin, WebhookReceiver

HELPDESK_MODULES = ("sandbox.zendesk", "sandbox.gorgias", "sandbox.intercom")
SECRET = "helpdesk-webhook-secret"


@pytest.fixture(scope="module")
def helpdesk_sandbox(sandbox_for: Callable[..., SandboxServer]) -> SandboxServer:
    return sandbox_for(*HELPDESK_MODULES)


@pytest.fixture
def fresh_account(helpdesk_sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> Callable[..., Admin]:
    def make(platform: str, **subscription: str) -> Admin:
        admin = Admin(helpdesk_sandbox.base_url, platform, f"{platform}-{uuid.uuid4().hex[:8]}")
        admin.post("webhooks", {"address": webhook_receiver.url, "secret": SECRET, **subscription})
        return admin
    return make
