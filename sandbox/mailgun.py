"""Mailgun stand-in: ``POST /mailgun/v3/{domain}/messages`` as the public API reference describes.

Basic auth ``api:<key>`` (a wrong key answers ``401 Forbidden`` in plain text, as Mailgun does),
multipart or urlencoded fields, at least one of ``text``/``html``/``amp-html``/``template``,
``200 {"id": "<…@domain>", "message": "Queued. Thank you."}``. An admin endpoint emits signed
event webhooks (``delivered``, ``failed``, ``complained`` …) for recorded messages.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from sandbox.kit.faults import retry_headers
from sandbox.messaging import (
    Fault,
    MessagingState,
    accept,
    as_list,
    basic_credentials,
    deliver,
    finish,
    new_token,
    receive,
    state,
    utc_now,
)

PROVIDER = "mailgun"
BODY_FIELDS = ("text", "html", "amp-html", "template")


def error(status: int, message: str, retry_after: str | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=retry_headers(retry_after))


def fault_response(fault: Fault) -> JSONResponse:
    default = "Too many requests" if fault.status == 429 else "Internal Server Error"
    return error(fault.status, fault.body or default, fault.retry_after)


def _authenticated(st: MessagingState, request: Request) -> bool:
    credentials = basic_credentials(request)
    if credentials is None:
        return False
    user, password = credentials
    return user == "api" and hmac.compare_digest(password, st.credentials.mailgun_api_key)


def _validate(form: dict[str, Any]) -> JSONResponse | None:
    if not form.get("from"):
        return error(400, "from parameter is missing")
    if not form.get("to"):
        return error(400, "to parameter is missing")
    if not any(form.get(name) for name in BODY_FIELDS):
        return error(400, "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified")
    options = sum(len(str(v)) for k, v in form.items() if k[:2] in ("o:", "h:", "v:", "t:"))
    if options > 16 * 1024:
        return error(400, "Options (o:, h:, v:, t:) exceed the 16 KB limit")
    return None


def _first(value: Any) -> str | None:
    values = as_list(value)
    return values[0] if values else None


class EventIn(BaseModel):
    message_id: str
    url: str
    event: str = "delivered"
    recipient: str | None = None
    reason: str | None = None
    severity: str | None = None
    description: str | None = None


def sign(signing_key: str, timestamp: str, token: str) -> str:
    return hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def install(app: FastAPI) -> None:
    state(app)
    router = APIRouter()

    @router.post("/mailgun/v3/{domain}/messages")
    async def send(request: Request, domain: str) -> Response:
        st, record, failed = await receive(request, PROVIDER, fault_response)
        if failed:
            return failed
        if not _authenticated(st, request):
            return finish(record, PlainTextResponse("Forbidden", status_code=401))
        if st.credentials.mailgun_domains and domain not in st.credentials.mailgun_domains:
            return finish(record, error(404, f"Domain not found: {domain}"))
        form = record["body"] if isinstance(record["body"], dict) else {}
        invalid = _validate(form)
        if invalid:
            return finish(record, invalid)
        stamp = utc_now().strftime("%Y%m%d%H%M%S")
        bare_id = f"{stamp}.{secrets.token_hex(8)}@{domain}"
        st.add_message({
            "provider": PROVIDER, "kind": "email", "id": bare_id, "domain": domain, "to": as_list(form.get("to")),
            "from": _first(form.get("from")), "subject": _first(form.get("subject")), "text": _first(form.get("text")),
            "html": _first(form.get("html")), "tags": as_list(form.get("o:tag")),
            "headers": {k[2:]: _first(v) for k, v in form.items() if k.startswith("h:")},
            "variables": {k[2:]: _first(v) for k, v in form.items() if k.startswith("v:")},
            "attachments": [f for f in record["files"] if f["field"] in ("attachment", "inline")],
            "status": "queued"})
        queued = JSONResponse({"id": f"<{bare_id}>", "message": "Queued. Thank you."})
        return await accept(st, record, PROVIDER, queued)

    @router.get("/mailgun/v3/{domain}/events")
    def events(request: Request, domain: str) -> Response:
        """The Events API as far as reconciliation reads it: one ``accepted`` event per recipient
        of every message accepted for ``domain``, filtered by ``event``, ``recipient`` and
        ``begin`` (epoch seconds), ordered by ``ascending``, at most ``limit`` (1..300) items,
        with the ``paging`` links Mailgun returns (not followed here)."""
        st = state(request.app)
        if not _authenticated(st, request):
            return PlainTextResponse("Forbidden", status_code=401)
        query = request.query_params
        try:
            limit = int(query.get("limit", "100"))
            begin = float(query.get("begin", "0"))
        except ValueError:
            return error(400, "Invalid 'limit' or 'begin'")
        if not 1 <= limit <= 300:
            return error(400, "The 'limit' parameter must be between 1 and 300")
        wanted_event, recipient = query.get("event"), query.get("recipient")
        with st.lock:
            accepted = [m for m in st.messages if m["provider"] == PROVIDER and m.get("domain") == domain]
        items = []
        for message in accepted:
            at = datetime.fromisoformat(message["received_at"]).timestamp()
            for to in message["to"]:
                if at < begin or (recipient and to != recipient) or (wanted_event and wanted_event != "accepted"):
                    continue
                items.append({"id": secrets.token_urlsafe(16), "event": "accepted", "timestamp": at,
                              "recipient": to, "log-level": "info", "tags": message.get("tags", []),
                              "message": {"headers": {"message-id": message["id"], "from": message["from"],
                                                      "to": to, "subject": message["subject"]}},
                              "user-variables": message.get("variables", {})})
        items.sort(key=lambda item: item["timestamp"], reverse=query.get("ascending") != "yes")
        page = f"{request.url.scheme}://{request.url.netloc}/mailgun/v3/{domain}/events"
        return JSONResponse({"items": items[:limit], "paging": {
            "first": f"{page}/first", "last": f"{page}/last", "next": f"{page}/next", "previous": f"{page}/previous"}})

    @router.post("/_sandbox/messaging/mailgun/events")
    def emit_event(request: Request, emit: EventIn) -> dict[str, Any]:
        """POSTs a signed Mailgun event webhook for a recorded message."""
        st = state(request.app)
        message_id = emit.message_id.strip("<>")
        message = st.find_message(PROVIDER, message_id)
        if message is None:
            raise HTTPException(404, f"no recorded mailgun message {message_id}")
        timestamp, token = str(int(time.time())), new_token(50)
        event_data: dict[str, Any] = {
            "id": secrets.token_urlsafe(16), "timestamp": time.time(), "event": emit.event,
            "recipient": emit.recipient or message["to"][0], "log-level": "info",
            "message": {"headers": {"message-id": message_id, "from": message["from"], "to": message["to"][0],
                                    "subject": message["subject"]}},
            "user-variables": message.get("variables", {}), "tags": message.get("tags", []),
        }
        if emit.event == "failed":
            event_data.update({"log-level": "error", "severity": emit.severity or "permanent",
                               "reason": emit.reason or "bounce",
                               "delivery-status": {"code": 550, "message": emit.description or "mailbox unavailable",
                                                   "description": emit.description or "mailbox unavailable"}})
        elif emit.event == "delivered":
            event_data["delivery-status"] = {"code": 250, "message": "OK", "description": ""}
        message["status"] = emit.event
        payload = {"signature": {"timestamp": timestamp, "token": token,
                                 "signature": sign(st.credentials.mailgun_signing_key, timestamp, token)},
                   "event-data": event_data}
        result = deliver(emit.url, headers={"Content-Type": "application/json"},
                         content=json.dumps(payload).encode())
        return {**result, "payload": payload}

    app.include_router(router)
