"""A webhook is answered within WEBHOOK_DEADLINE_S even when PostgreSQL stops answering.

PostgreSQL is reached through a TCP relay that can be frozen: it keeps the connections open and
stops passing bytes either way, as a SIGSTOPped server looks from the client (its kernel still
acknowledges, nothing answers). Frozen, a delivery hears 503 with ``Retry-After`` by the
deadline; thawed, the retry is stored once (or answered "duplicate" when the abandoned batch
committed after all) and the next deliveries are accepted at once on fresh connections.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from domain.core.models import InboxEvent
from demo.scenario import PLATFORM_SECRETS

SECRET = PLATFORM_SECRETS["SHOPIFY_WEBHOOK_SECRET"]
BUDGET_S = 1.5


class FreezableRelay:
    """A loopback TCP relay to ``target``; ``frozen`` holds every byte until thawed."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.thawed = threading.Event()
        self.thawed.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self.thawed.clear()

    def thaw(self) -> None:
        self.thawed.set()

    def close(self) -> None:
        self.thaw()
        for sock in [self.listener, *self.sockets]:
            with suppress(OSError):  # already closed by its pipe
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            with suppress(OSError):  # either end closed: the pipe ends
                while True:
                    data = source.recv(65536)
                    self.thawed.wait()  # a frozen relay holds the close too
                    if not data:
                        break
                    sink.sendall(data)
        finally:
            for sock in (source, sink):
                with suppress(OSError):  # the other pipe shut it already
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def relay(services: dict[str, str]) -> Iterator[FreezableRelay]:
    url = make_url(services["database_url"])
    relay = FreezableRelay((url.host or "127.0.0.1", url.port or 5432))
    yield relay
    relay.close()


@pytest.fixture
def client(db_session: Session, catalog: object, relay: FreezableRelay,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from domain.core.db import reset_engine
    from domain.core.env_settings import get_settings
    from workers import deadlines, webhook_stores
    from workers.web import create_app

    for key, value in PLATFORM_SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WEBHOOK_DEADLINE_S", str(BUDGET_S))
    url = make_url(os.environ["DATABASE_URL"])
    monkeypatch.setenv("DATABASE_URL", url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False))
    deadlines.budget_s.cache_clear()
    get_settings.cache_clear()
    reset_engine()
    webhook_stores.forget()
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client
    relay.thaw()
    webhook_stores.forget()
    monkeypatch.undo()
    deadlines.budget_s.cache_clear()
    get_settings.cache_clear()
    reset_engine()


def _delivery(available: int, event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"inventory_item_id": 9007199254740993, "location_id": 655441491, "available": available,
                       "updated_at": "2026-11-25T10:00:00-05:00"}).encode()
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return body, {"X-Shopify-Topic": "inventory_levels/update", "X-Shopify-Hmac-Sha256": digest,
                  "X-Shopify-Event-Id": event_id, "X-Shopify-Webhook-Id": "w-1", "Content-Type": "application/json"}


def _post(client: TestClient, available: int, event_id: str) -> tuple[int, dict[str, object], dict[str, str], float]:
    body, headers = _delivery(available, event_id)
    started = time.monotonic()
    response = client.post("/webhooks/shopify-main", content=body, headers=headers)
    return response.status_code, response.json(), dict(response.headers), time.monotonic() - started


def test_a_stalled_database_gets_503_within_the_budget_and_the_retry_is_stored_once(
        client: TestClient, relay: FreezableRelay, db_session: Session, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.WARNING, logger="workers.ingest_writer")
    status, body, _, _ = _post(client, 5, "before")
    assert (status, body["status"]) == (200, "accepted")

    relay.freeze()
    answers = [_post(client, 6 + n, f"stalled-{n}") for n in range(3)]
    relay.thaw()

    for status, body, headers, seconds in answers:
        assert status == 503, body
        assert headers.get("retry-after") == "5"
        assert seconds < BUDGET_S + 0.5, f"answered after {seconds:.2f}s, budget {BUDGET_S}s"
    assert "the batch is abandoned" in caplog.text, "the writer gave the stalled batch up itself"

    retries = [_post(client, 6 + n, f"stalled-{n}") for n in range(3)]
    assert [(status, body["status"]) for status, body, _, _ in retries if status != 200] == []
    assert {body["status"] for _, body, _, _ in retries} <= {"accepted", "duplicate"}
    after = _post(client, 20, "after")
    assert after[0] == 200 and after[3] < BUDGET_S, "the writer works again on a fresh connection"

    keys = ["shopify:before", "shopify:after"] + [f"shopify:stalled-{n}" for n in range(3)]
    stored = db_session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.dedupe_key.in_(keys)))
    assert stored == 5, "each delivery stored exactly once"
