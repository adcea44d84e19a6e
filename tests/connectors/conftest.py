"""Connector fixtures: one sandbox server per set of stand-ins per session, one fresh platform
instance per test.

Each test gets its own ``{instance}`` path segment, so tests share nothing but the port. A
sandbox app holds only the stand-ins its tests use, so an unfinished module elsewhere in
``sandbox.app.MODULES`` cannot break them. Sleeps are recorded, never slept.
"""
from __future__ import annotations

import importlib
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from fastapi import FastAPI

from connectors.types import ConnectorConfig
from sandbox.server import SandboxServer

COMMERCE_MODULES = ("sandbox.shopify", "sandbox.woocommerce")
WEBHOOK_SECRET = "whsec_sandbox_test"
#: Platforms whose stand-in module is not named as the platform (``sap_b1`` is ``sandbox.sapb1``).
STANDIN_MODULES = {"sap_b1": "sapb1"}

#: Starts (or returns the already running) sandbox serving exactly the named stand-in modules.
SandboxFor = Callable[..., SandboxServer]


def sandbox_app(*modules: str) -> FastAPI:
    """The health check plus only the named stand-ins (e.g. ``"sandbox.lightspeed"``)."""
    app = FastAPI()
    for name in ("sandbox.control", *modules):
        importlib.import_module(name).install(app)
    return app


@pytest.fixture(scope="session")
def sandbox_for() -> Iterator[SandboxFor]:
    """``sandbox_for("sandbox.netsuite")``: one server per set of modules for the whole session,
    started on first use and stopped at the end, so test modules share it instead of each
    starting their own."""
    servers: dict[tuple[str, ...], SandboxServer] = {}

    def start(*modules: str) -> SandboxServer:
        if modules not in servers:
            servers[modules] = SandboxServer(app=sandbox_app(*modules)).start()
        return servers[modules]

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def commerce_sandbox(sandbox_for: SandboxFor) -> SandboxServer:
    return sandbox_for(*COMMERCE_MODULES)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A plain HTTP endpoint standing in for our web process: records every delivery verbatim."""

    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            length = int(self.headers.get("Content-Length") or 0)
            receiver.received.append(Received(dict(self.headers.items()), self.rfile.read(length)))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()


@pytest.fixture
def webhook_receiver(_receiver_server: WebhookReceiver) -> WebhookReceiver:
    _receiver_server.received.clear()
    _receiver_server.status = 200
    return _receiver_server


class Admin:
    """Calls ``/{platform}/{instance}/_admin/…`` and fails loudly on a non-2xx answer."""

    def __init__(self, base_url: str, platform: str, instance: str) -> None:
        self.instance = instance
        self.root = f"{base_url}/{platform}/{instance}"
        self.admin = f"{self.root}/_admin"

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.post(f"{self.admin}/{path}", json=body or {}, timeout=10)
        response.raise_for_status()
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.admin}/{path}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def item(self, sku: str) -> dict[str, Any]:
        return self.get("state/items", skus=sku)["items"][0]

    def requests_log(self, method: str | None = None, path_contains: str | None = None) -> list[dict]:
        params = {k: v for k, v in {"method": method, "path_contains": path_contains}.items() if v}
        return self.get("requests", **params)["requests"]

    def purchase_orders(self) -> list[dict[str, Any]]:
        """The ERP stand-ins' purchase orders with their lines (NetSuite, Odoo)."""
        return self.get("state/purchase_orders")["purchase_orders"]


@pytest.fixture
def admin_for(sandbox_for: SandboxFor) -> Callable[[str, str], Admin]:
    """``admin_for("lightspeed", "ls-1234")``: the admin client of a fresh instance on a sandbox
    serving only that platform's stand-in."""
    def make(platform: str, instance: str) -> Admin:
        return Admin(sandbox_for(f"sandbox.{STANDIN_MODULES.get(platform, platform)}").base_url, platform, instance)
    return make


@pytest.fixture
def webhook_secret() -> str:
    return WEBHOOK_SECRET


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def shop(commerce_sandbox: SandboxServer) -> Admin:
    """A fresh Shopify instance with a roomy bucket (rate-limit tests shrink it themselves)."""
    admin = Admin(commerce_sandbox.base_url, "shopify", f"shop-{uuid.uuid4().hex[:8]}")
    admin.post("config", {"bucket_size": 10_000, "leak_rate": 10_000})
    return admin


@pytest.fixture
def shop_config(shop: Admin) -> ConnectorConfig:
    return ConnectorConfig(store_key="futon-shop", base_url=shop.root,
                           credentials={"access_token": "shpat_sandbox"}, webhook_secret=WEBHOOK_SECRET,
                           options={"page_size": 3}, timeout_s=5.0)


@pytest.fixture
def woo(commerce_sandbox: SandboxServer) -> Admin:
    return Admin(commerce_sandbox.base_url, "woocommerce", f"woo-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def woo_config(woo: Admin) -> ConnectorConfig:
    return ConnectorConfig(store_key="futon-woo", base_url=woo.root,
                           credentials={"consumer_key": "ck_sandbox", "consumer_secret": "cs_sandbox"},
                           webhook_secret=WEBHOOK_SECRET, options={"page_size": 3}, timeout_s=5.0)


@pytest.fixture
def bc(sandbox_for: SandboxFor) -> Admin:
    """A fresh BigCommerce store on a sandbox serving only that stand-in (its quota roomy)."""
    return Admin(sandbox_for("sandbox.bigcommerce").base_url, "bigcommerce", f"bc-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def bc_config(bc: Admin) -> ConnectorConfig:
    return ConnectorConfig(store_key="futon-bc", base_url=bc.root, credentials={"access_token": "bc_sandbox_token"},
                           webhook_secret=WEBHOOK_SECRET, options={"page_size": 2}, timeout_s=5.0)
