"""Shared machinery for the messaging stand-ins (Twilio, Mailgun, SendGrid, Slack).

One :class:`MessagingState` on ``app.state.messaging`` keeps every request each stand-in saw,
the messages it accepted, the faults it was told to inject and the credentials it accepts. The
admin endpoints under ``/_sandbox/messaging/…`` and the ``/_sandbox/messages`` page read it.
Provider modules own their wire formats; this module owns what they have in common.
"""
from __future__ import annotations

import asyncio
import base64
import html
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from sandbox import slack_blocks

PROVIDERS = ("twilio", "mailgun", "sendgrid", "slack")


@dataclass
class Fault:
    """An injected misbehaviour: ``fail`` answers ``status`` instead of working; ``hang`` accepts
    the message, then waits ``hang_s`` before answering (a timeout after acceptance)."""

    provider: str
    mode: Literal["fail", "hang"]
    remaining: int = 1
    status: int = 500
    retry_after: str | None = None
    body: str | None = None
    code: int | None = None
    hang_s: float = 0.0


@dataclass
class Credentials:
    """What the stand-ins accept; defaults documented in ``docs/sandbox-messaging.md``."""

    twilio_accounts: dict[str, str] = field(default_factory=lambda: {
        "AC00000000000000000000000000000000": "sandbox-twilio-token"})
    twilio_unsubscribed: list[str] = field(default_factory=list)
    mailgun_api_key: str = "sandbox-mailgun-key"
    mailgun_signing_key: str = "sandbox-mailgun-signing-key"
    mailgun_domains: list[str] = field(default_factory=list)
    sendgrid_api_key: str = "SG.sandbox-sendgrid-key"
    slack_webhooks: list[str] = field(default_factory=lambda: ["T000/B000/SANDBOX"])


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class MessagingState:
    """Everything the messaging stand-ins remember, guarded by one lock (handlers run on the event
    loop and in the thread pool)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sendgrid_private_key = ec.generate_private_key(ec.SECP256R1())
        self.reset()

    def reset(self) -> None:
        """Back to a fresh sandbox: default credentials, nothing recorded, no faults. The SendGrid
        key pair survives so a receiver configured with its public key keeps verifying."""
        with self.lock:
            self.credentials = Credentials()
            self.requests: list[dict[str, Any]] = []
            self.messages: list[dict[str, Any]] = []
            self.faults: list[Fault] = []
            self.rate_limits: dict[str, int] = {}
            self._hits: dict[str, deque[float]] = {}
            self.sinks: dict[str, list[dict[str, Any]]] = {}
            self._seq = 0

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    @property
    def sendgrid_public_key_b64(self) -> str:
        der = self.sendgrid_private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def add_message(self, message: dict[str, Any]) -> dict[str, Any]:
        message.setdefault("received_at", utc_now().isoformat())
        with self.lock:
            self.messages.append(message)
        return message

    def find_message(self, provider: str, message_id: str) -> dict[str, Any] | None:
        with self.lock:
            for message in reversed(self.messages):
                if message["provider"] == provider and message["id"] == message_id:
                    return message
        return None

    def take_failure(self, provider: str) -> Fault | None:
        """The fault or rate limit that should answer this request instead of the stand-in."""
        with self.lock:
            limit = self.rate_limits.get(provider)
            if limit is not None:
                hits = self._hits.setdefault(provider, deque())
                now = time.monotonic()
                while hits and now - hits[0] >= 1.0:
                    hits.popleft()
                if len(hits) >= limit:
                    return Fault(provider, "fail", status=429, retry_after="1")
                hits.append(now)
            return self._take(provider, "fail")

    def take_hang(self, provider: str) -> Fault | None:
        with self.lock:
            return self._take(provider, "hang")

    def _take(self, provider: str, mode: str) -> Fault | None:
        for fault in self.faults:
            if fault.provider == provider and fault.mode == mode and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None


def state(app: FastAPI) -> MessagingState:
    """The app's messaging state, created on first use so module order in MODULES does not matter."""
    current = getattr(app.state, "messaging", None)
    if current is None:
        current = app.state.messaging = MessagingState()
    return current


async def capture(request: Request, provider: str) -> dict[str, Any]:
    """Records the request as received (method, path, headers, parsed body, time) and returns it."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    body: Any
    files: list[dict[str, Any]] = []
    if "json" in content_type:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode("utf-8", "replace")
    elif "form" in content_type:
        body = {}
        form = await request.form()
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                files.append({"field": name, "filename": value.filename, "content_type": value.content_type,
                              "size": len(content)})
                continue
            _add_field(body, name, value)
    else:
        body = raw.decode("utf-8", "replace")
    record = {
        "seq": state(request.app).next_seq(), "provider": provider, "method": request.method,
        "path": request.url.path, "query": str(request.url.query), "headers": dict(request.headers),
        "body": body, "files": files, "received_at": utc_now().isoformat(), "status": None,
    }
    st = state(request.app)
    with st.lock:
        st.requests.append(record)
    return record


def _add_field(fields: dict[str, Any], name: str, value: str) -> None:
    """Form fields: a repeated name (``to``, ``o:tag``) becomes a list, a single one stays a string."""
    if name not in fields:
        fields[name] = value
    elif isinstance(fields[name], list):
        fields[name].append(value)
    else:
        fields[name] = [fields[name], value]


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def finish(record: dict[str, Any], response: Response) -> Response:
    record["status"] = response.status_code
    return response


async def receive(request: Request, provider: str, fault_response: Callable[[Fault], Response],
                  ) -> tuple[MessagingState, dict[str, Any], Response | None]:
    """What every provider endpoint does first: record the request, then let a ``fail`` fault or
    the rate limit answer it (in the provider's own error format) before auth is even checked."""
    st = state(request.app)
    record = await capture(request, provider)
    fault = st.take_failure(provider)
    return st, record, finish(record, fault_response(fault)) if fault else None


async def accept(st: MessagingState, record: dict[str, Any], provider: str, response: Response) -> Response:
    """Answer a request the provider accepted; a ``hang`` fault first holds the answer back
    ``hang_s`` (the message is already recorded: a timeout after acceptance)."""
    hang = st.take_hang(provider)
    if hang:
        await asyncio.sleep(hang.hang_s)
    return finish(record, response)


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic`` header; None when absent or unreadable."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def deliver(url: str, *, headers: dict[str, str], data: dict[str, str] | None = None,
            content: bytes | None = None, timeout_s: float = 10.0) -> dict[str, Any]:
    """Sends a provider callback to ``url`` and reports what was sent and what came back."""
    try:
        response = requests.post(url, data=data if content is None else content, headers=headers,
                                 timeout=timeout_s)
    except requests.RequestException as exc:
        return {"url": url, "delivered": False, "error": str(exc), "headers": headers}
    return {"url": url, "delivered": True, "status_code": response.status_code,
            "response_body": response.text[:2000], "headers": headers}


class FaultIn(BaseModel):
    provider: Literal["twilio", "mailgun", "sendgrid", "slack"]
    mode: Literal["fail", "hang"] = "fail"
    count: int = Field(default=1, ge=1)
    status: int = Field(default=500, ge=400, le=599)
    retry_after: str | None = None
    body: str | None = None
    code: int | None = None
    hang_s: float = Field(default=5.0, ge=0, le=120)


class RateLimitIn(BaseModel):
    provider: Literal["twilio", "mailgun", "sendgrid", "slack"]
    per_second: int | None = Field(default=None, ge=0)


def _config_view(st: MessagingState) -> dict[str, Any]:
    return {**asdict(st.credentials), "sendgrid_public_key": st.sendgrid_public_key_b64}


def install(app: FastAPI) -> None:
    state(app)
    router = APIRouter(prefix="/_sandbox/messaging")

    @router.get("/messages")
    def list_messages(request: Request, provider: str | None = None, to: str | None = None) -> dict[str, Any]:
        st = state(request.app)
        with st.lock:
            found = [m for m in st.messages if (provider is None or m["provider"] == provider)
                     and (to is None or to in m.get("to", []))]
        return {"messages": found}

    @router.get("/requests")
    def list_requests(request: Request, provider: str | None = None) -> dict[str, Any]:
        st = state(request.app)
        with st.lock:
            return {"requests": [r for r in st.requests if provider is None or r["provider"] == provider]}

    @router.post("/reset")
    def reset(request: Request) -> dict[str, str]:
        state(request.app).reset()
        return {"status": "reset"}

    @router.get("/faults")
    def list_faults(request: Request) -> dict[str, Any]:
        st = state(request.app)
        with st.lock:
            return {"faults": [asdict(f) for f in st.faults], "rate_limits": dict(st.rate_limits)}

    @router.post("/faults")
    def add_fault(request: Request, fault: FaultIn) -> dict[str, Any]:
        st = state(request.app)
        with st.lock:
            st.faults.append(Fault(fault.provider, fault.mode, fault.count, fault.status, fault.retry_after,
                                   fault.body, fault.code, fault.hang_s))
            return {"faults": [asdict(f) for f in st.faults]}

    @router.delete("/faults")
    def clear_faults(request: Request) -> dict[str, Any]:
        st = state(request.app)
        with st.lock:
            st.faults.clear()
            st.rate_limits.clear()
        return {"faults": [], "rate_limits": {}}

    @router.post("/rate-limit")
    def set_rate_limit(request: Request, limit: RateLimitIn) -> dict[str, Any]:
        st = state(request.app)
        with st.lock:
            if limit.per_second is None:
                st.rate_limits.pop(limit.provider, None)
            else:
                st.rate_limits[limit.provider] = limit.per_second
            return {"rate_limits": dict(st.rate_limits)}

    @router.get("/config")
    def get_config(request: Request) -> dict[str, Any]:
        return _config_view(state(request.app))

    @router.post("/config")
    def update_config(request: Request, changes: dict[str, Any]) -> dict[str, Any]:
        st = state(request.app)
        known = set(asdict(st.credentials))
        unknown = set(changes) - known
        if unknown:
            raise HTTPException(400, f"unknown config keys: {', '.join(sorted(unknown))}")
        with st.lock:
            for key, value in changes.items():
                setattr(st.credentials, key, value)
        return _config_view(st)

    @router.post("/sink/{name}")
    async def sink(request: Request, name: str) -> Response:
        """A callback receiver for demos and tests: stores what a provider callback carried."""
        raw = await request.body()
        entry = {"headers": dict(request.headers), "url": str(request.url), "raw_body": raw.decode("utf-8", "replace"),
                 "received_at": utc_now().isoformat()}
        if "form" in request.headers.get("content-type", ""):
            entry["form"] = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        st = state(request.app)
        with st.lock:
            st.sinks.setdefault(name, []).append(entry)
        return Response("<Response/>", media_type="text/xml")

    @router.get("/sink/{name}")
    def sink_entries(request: Request, name: str) -> dict[str, Any]:
        st = state(request.app)
        with st.lock:
            return {"received": list(st.sinks.get(name, []))}

    app.include_router(router)
    app.add_api_route("/_sandbox/messages", messages_page, methods=["GET"], response_class=HTMLResponse)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _email_card(m: dict[str, Any]) -> str:
    parts = [f"<h3>{_e(m.get('subject'))}</h3>",
             f"<p><b>to</b> {_e(', '.join(m.get('to', [])))} <b>from</b> {_e(m.get('from'))} "
             f"<b>id</b> {_e(m['id'])}</p>"]
    if m.get("html"):
        parts.append(f'<iframe sandbox="" referrerpolicy="no-referrer" srcdoc="{_e(m["html"])}"></iframe>')
    if m.get("text"):
        parts.append(f"<pre>{_e(m['text'])}</pre>")
    if m.get("attachments"):
        names = ", ".join(f"{a['filename']} ({a['size']} B)" for a in m["attachments"])
        parts.append(f"<p><b>attachments</b> {_e(names)}</p>")
    return "".join(parts)


def _sms_card(m: dict[str, Any]) -> str:
    return (f"<p><b>to</b> {_e(', '.join(m.get('to', [])))} <b>from</b> {_e(m.get('from'))} "
            f"<b>segments</b> {_e(m.get('num_segments'))} <b>status</b> {_e(m.get('status'))} "
            f"<b>sid</b> {_e(m['id'])}</p><pre>{_e(m.get('body'))}</pre>")


def _slack_card(m: dict[str, Any]) -> str:
    card = f"<p><b>webhook</b> {_e(m.get('webhook'))}</p><pre>{_e(m.get('text'))}</pre>"
    if m.get("blocks"):
        card += slack_blocks.render(m["blocks"])
    return card


CARDS = {"email": _email_card, "sms": _sms_card, "slack": _slack_card}


def messages_page(request: Request) -> HTMLResponse:
    """Every message the stand-ins accepted, newest first; all provider content is escaped and
    email HTML only renders inside a script-less sandboxed iframe."""
    st = state(request.app)
    with st.lock:
        messages = list(reversed(st.messages))
    items = "".join(
        f'<article class="{_e(m["kind"])}"><header>{_e(m["provider"])} · {_e(m["kind"])} · '
        f'{_e(m["received_at"])}</header>{CARDS[m["kind"]](m)}</article>'
        for m in messages)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Sandbox messages</title>"
        "<style>body{font-family:sans-serif;margin:2em}article{border:1px solid #ccc;padding:1em;"
        "margin:1em 0}header{color:#666;font-size:.9em}iframe{width:100%;height:240px;border:1px solid #eee}"
        "pre{white-space:pre-wrap;background:#f7f7f7;padding:.5em}</style></head><body>"
        f"<h1>Sandbox messages ({len(messages)})</h1>{items or '<p>No messages yet.</p>'}</body></html>")
    return HTMLResponse(page)


def new_token(length: int = 50) -> str:
    return secrets.token_hex(length)[:length]
