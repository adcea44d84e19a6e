"""The shared JSON-RPC 2.0 connector over real HTTP: the Odoo stand-in and a plain local server."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from connectors.errors import AuthError, PermanentError, TransientError
from connectors.rpc import JsonRpcConnector
from connectors.types import ConnectorConfig

Admin = Any  # tests/connectors/conftest.py::Admin


class PlainRpc(JsonRpcConnector):
    """A JSON-RPC client with nothing of its own: the base's envelope and default error mapping."""

    platform: ClassVar[str] = "plainrpc"


def plain(root: str, timeout_s: float = 5.0) -> PlainRpc:
    return PlainRpc(ConnectorConfig(store_key="rpc", base_url=root, timeout_s=timeout_s), sleep=lambda _s: None)


@pytest.fixture
def odoo(admin_for: Callable[[str, str], Admin]) -> Admin:
    return admin_for("odoo", f"rpc-{uuid.uuid4().hex[:8]}")


def version_call() -> dict[str, Any]:
    return {"service": "common", "method": "version", "args": []}


def test_calls_carry_the_envelope_and_a_fresh_id_each(odoo: Admin) -> None:
    client = plain(odoo.root)

    first = client.rpc("call", version_call())
    client.rpc("call", version_call())

    assert first["protocol_version"] == 1
    bodies = [entry["body"] for entry in odoo.requests_log("POST", "jsonrpc")]
    assert [(b["jsonrpc"], b["method"], b["id"]) for b in bodies] == [("2.0", "call", 1), ("2.0", "call", 2)]


def test_an_error_object_is_permanent_by_default_with_its_code_and_message(odoo: Admin) -> None:
    with pytest.raises(PermanentError) as caught:
        plain(odoo.root).rpc("call", {"service": "nope", "method": "x", "args": []}, what="nope.x")

    assert str(caught.value) == "plainrpc nope.x: 200: Odoo Server Error"
    assert not isinstance(caught.value, (AuthError, TransientError)) and "builtins.KeyError" in caught.value.body


def test_reads_are_retried_on_5xx_and_writes_are_not(odoo: Admin) -> None:
    odoo.post("faults", {"status": 503, "count": 1})
    assert plain(odoo.root).rpc("call", version_call())["protocol_version"] == 1

    odoo.post("faults", {"status": 503, "count": 1})
    with pytest.raises(TransientError):
        plain(odoo.root).rpc("call", version_call(), safe=False)


@pytest.fixture
def array_server() -> Iterator[str]:
    """Answers every POST with a JSON array: valid JSON, not a JSON-RPC answer."""
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"[1, 2]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_answer_that_is_not_an_object_is_permanent(array_server: str) -> None:
    with pytest.raises(PermanentError, match="plainrpc call: answer is not a JSON-RPC object") as caught:
        plain(array_server).rpc("call", version_call())
    assert caught.value.status_code == 200
