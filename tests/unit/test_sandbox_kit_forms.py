"""The kit's parts for version-walked collections and form-encoded webhooks: ``VersionPages.serve``
and ``Versioned``, ``add_change`` (an admin edit of any record) and ``FormSigned`` deliveries,
driven over real HTTP on a small stand-in built only from them."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from fastapi import FastAPI, Request

from connectors.signing import keyed_fields, verify_keyed_hmac
from sandbox import control
from sandbox.kit import KitState, StandIn
from sandbox.kit.admin import add_change
from sandbox.kit.dates import zulu
from sandbox.kit.pages import Versioned, VersionPages
from sandbox.kit.webhooks import FormSigned, subscribe
from sandbox.server import SandboxServer


@dataclass
class TillState(Versioned, KitState):
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)


till: StandIn[TillState] = StandIn("till", "/api", TillState, auth=lambda call: None, error_body=lambda status: {})
pages = VersionPages(lambda message: {"error": message})
pages.serve(till, "/tickets", lambda state: state.tickets.values())
HOOKS = FormSigned(lambda state, topic: {"type": topic}, record=lambda payload: {"ticket": payload["id"]})


@till.admin.post("/open")
def open_ticket(state: TillState = till.state) -> dict[str, Any]:
    with state.lock:
        ticket = {"id": str(len(state.tickets) + 1), "status": "OPEN", "version": state.bump()}
        state.tickets[ticket["id"]] = ticket
        return ticket


@till.admin.post("/hook")
def add_hook(state: TillState = till.state) -> dict[str, Any]:
    return subscribe(state, {"address": RECEIVER["url"], "secret": "s3cret", "topic": "ticket.update"})


def close(state: TillState, key: str, payload: dict[str, Any], now: datetime) -> tuple[Any, Any]:
    ticket = state.tickets[key]
    ticket.update(status=payload["status"], version=state.bump())
    return dict(ticket), [("ticket.update", dict(ticket))]


add_change(till, "/close", lambda state, key: key if key in state.tickets else None, close, HOOKS.deliver_all,
           by="id", shown="ticket")
RECEIVER: dict[str, Any] = {"url": "", "got": []}
LOCK = threading.Lock()


def receiver(app: FastAPI) -> None:
    @app.post("/receiver")
    async def receive(request: Request) -> dict[str, str]:
        with LOCK:
            RECEIVER["got"].append((await request.body(), dict(request.headers)))
        return {"ok": "yes"}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    app = FastAPI()
    for install in (control.install, till.install, receiver):
        install(app)
    with SandboxServer(app=app) as running:
        RECEIVER["url"] = f"{running.base_url}/receiver"
        yield running


def test_a_served_collection_walks_by_version_and_each_change_moves_it_on(server: SandboxServer) -> None:
    root = f"{server.base_url}/till/{uuid.uuid4().hex[:8]}"
    opened = [requests.post(f"{root}/_admin/open", timeout=5).json() for _ in range(3)]
    versions = [t["version"] for t in opened]
    assert versions == sorted(versions) and len(set(versions)) == 3
    page = requests.get(f"{root}/api/tickets", params={"after": versions[0], "page_size": 1}, timeout=5).json()
    assert [t["id"] for t in page["data"]] == ["2"] and page["version"] == {"min": versions[1], "max": versions[1]}
    past = requests.get(f"{root}/api/tickets", params={"after": versions[2]}, timeout=5).json()
    assert past == {"data": [], "version": None}


def test_an_admin_change_finds_its_record_by_the_named_field_and_sends_a_signed_form(server: SandboxServer) -> None:
    root = f"{server.base_url}/till/{uuid.uuid4().hex[:8]}"
    ticket = requests.post(f"{root}/_admin/open", timeout=5).json()
    requests.post(f"{root}/_admin/hook", timeout=5).raise_for_status()
    RECEIVER["got"].clear()

    closed = requests.post(f"{root}/_admin/close", json={"id": ticket["id"], "status": "CLOSED"}, timeout=5).json()

    assert closed["ticket"]["status"] == "CLOSED" and closed["ticket"]["version"] > ticket["version"]
    assert [(d["topic"], d["status"], d["ticket"]) for d in closed["webhooks"]] == [("ticket.update", 200, "1")]
    [(body, headers)] = RECEIVER["got"]
    assert headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = parse_qs(body.decode())
    assert form["type"] == ["ticket.update"] and json.loads(form["payload"][0])["status"] == "CLOSED"
    signed = keyed_fields(headers["x-signature"])
    assert signed == {"signature": hmac.new(b"s3cret", body, hashlib.sha256).hexdigest(), "algorithm": "HMAC-SHA256"}
    verify_keyed_hmac("s3cret", body, headers["x-signature"])
    unknown = requests.post(f"{root}/_admin/close", json={"id": "99", "status": "CLOSED"}, timeout=5)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "unknown id 99"})


def test_zulu_writes_utc_to_the_second() -> None:
    assert zulu(datetime(2026, 5, 1, 12, 0, 30, 999, tzinfo=timezone.utc)) == "2026-05-01T12:00:30Z"
