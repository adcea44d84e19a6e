"""Provider delivery callbacks (Twilio, Mailgun, SendGrid) → outbox state.

Each endpoint checks the provider's signature before trusting anything, then applies the events
with ``domain.messaging.delivery_rules.apply_delivery_event``. Answers: 401 bad or missing signature, 400
malformed body, 413 too large, 503 when a setting or a backing service is missing (the provider
retries later), 200 otherwise — also when no outbox row matches, since a retry cannot help then.
Never 500. The lead mounts ``router`` in ``workers.web``.
"""
from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from connectors.errors import MalformedPayloadError, SignatureError
from connectors.messaging import mailgun, sendgrid, twilio_sms
from connectors.messaging.types import DeliveryEvent
from domain.core.db import session_scope
from domain.core.env_settings import get_settings
from domain.messaging import replay
from domain.messaging.delivery_rules import apply_delivery_event
from workers import input_guard

log = logging.getLogger("workers.callbacks")

MAX_FORM_BYTES = 256 * 1024
MAX_SENDGRID_BYTES = 5 * 1024 * 1024
"""SendGrid batches many events in one post; the form/JSON of a single event is small."""
REPLAY_TOKEN_VALIDITY = timedelta(seconds=900)
"""Longer than Mailgun's 300 s timestamp tolerance (either side of now), so a token is remembered
as long as its body could verify; beat's ``tasks.notify.purge_replay_tokens`` deletes it after."""

router = APIRouter(prefix="/callbacks", tags=["provider callbacks"])


class Reject(Exception):
    """An answer other than 200, raised inside a handler and turned into a JSON response."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _secret(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        log.error("provider callback rejected: %s is not set", name)
        raise Reject(503, f"{name} is not configured")
    return value


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or :class:`Reject` 413 when it (or its declared length) is over ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Reject(413, "body too large")
    raw = await request.body()
    if len(raw) > limit:
        raise Reject(413, "body too large")
    return raw


def twilio_signed_form(request: Request, raw: bytes, token: str, public_base_url: str) -> dict[str, list[str]]:
    """A Twilio form POST as name → values, once its ``X-Twilio-Signature`` checks out against the
    URL Twilio called: ``public_base_url`` + path (+ query), since a proxy may have rewritten ours
    (https://www.twilio.com/docs/usage/webhooks/webhooks-security). :class:`Reject` 400 for a body
    that is no form; ``SignatureError`` for a bad signature."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Reject(400, "body is not a form") from exc
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    query = request.url.query
    url = public_base_url + request.url.path + (f"?{query}" if query else "")
    twilio_sms.verify_signature(token, url, params, request.headers.get("X-Twilio-Signature"))
    return params


def _apply(provider: str, events: list[tuple[DeliveryEvent, str | None]], replay_token: str | None = None) -> int:
    """Applies events in one transaction; returns how many matched an outbox row.

    ``replay_token`` (Mailgun's one-use signature token) is claimed in the same transaction
    (``domain.messaging.replay``, a PostgreSQL row): a second use is refused, and a failed apply releases it.
    """
    matched = 0
    with session_scope() as session:
        if replay_token is not None and not replay.claim(session, provider, replay_token, REPLAY_TOKEN_VALIDITY):
            raise SignatureError(f"{provider} webhook token was already used (replay)")
        for event, key in events:
            row = apply_delivery_event(session, provider, event.provider_message_id, event.event, event.reason,
                                       idempotency_key=key)
            matched += row is not None
    return matched


async def _store(provider: str, events: list[tuple[DeliveryEvent, str | None]],
                 replay_token: str | None = None) -> JSONResponse:
    try:
        matched = await run_in_threadpool(_apply, provider, events, replay_token)
    except SQLAlchemyError as exc:
        log.error("%s callback not stored (database unavailable): %s", provider, exc)
        raise Reject(503, "database unavailable; retry later") from exc
    if matched < len(events):
        log.info("%s callback: %d of %d events matched no outbox row", provider, len(events) - matched, len(events))
    return JSONResponse({"status": "ok", "events": len(events), "matched": matched})


def _answer(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Maps the rejections to status codes in one place (FastAPI keeps the signature via wraps)."""
    @functools.wraps(handler)
    async def wrapped(request: Request) -> JSONResponse:
        try:
            return await handler(request)
        except Reject as exc:
            return JSONResponse({"error": exc.detail}, status_code=exc.status)
        except SignatureError as exc:
            log.warning("provider callback with a bad signature on %s: %s", request.url.path, exc)
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        except MalformedPayloadError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except RecursionError:
            return JSONResponse({"error": "JSON nested too deeply"}, status_code=400)
        except Exception:
            log.exception("provider callback on %s could not be handled", request.url.path)
            return JSONResponse({"error": "temporarily unavailable"}, status_code=503)

    return wrapped


@router.post("/twilio/status")
@_answer
async def twilio_status(request: Request) -> JSONResponse:
    """Twilio message status callback (form POST, ``X-Twilio-Signature``).

    The signature covers the URL Twilio called — our public one (``PUBLIC_BASE_URL``), which a
    proxy in front of us may have rewritten — so it is rebuilt from the settings, not the request.
    """
    raw = await read_body(request, MAX_FORM_BYTES)
    params = twilio_signed_form(request, raw, _secret("TWILIO_AUTH_TOKEN"), get_settings().public_base_url)
    event = twilio_sms.parse_status_callback({name: values[0] for name, values in params.items()})
    key = request.query_params.get(twilio_sms.IDEMPOTENCY_QUERY)
    return await _store("twilio", [(event, key)])


@router.post("/mailgun")
@_answer
async def mailgun_events(request: Request) -> JSONResponse:
    """Mailgun event webhook (JSON, signature in the body, replay-guarded by its token)."""
    raw = await read_body(request, MAX_FORM_BYTES)
    signing_key = _secret("MAILGUN_WEBHOOK_SIGNING_KEY")
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise Reject(400, "body is not JSON") from exc
    if not isinstance(payload, dict):
        raise Reject(400, "body is not a JSON object")
    mailgun.verify_webhook(signing_key, payload)  # signature and timestamp; the token is claimed below
    token = str(payload["signature"]["token"])
    event = mailgun.parse_event(payload)
    data = payload["event-data"]
    if event.event == "failed" and data.get("severity") == "temporary":
        event = DeliveryEvent(event.provider_message_id, "deferred", event.reason)  # Mailgun retries it
    variables = data.get("user-variables") if isinstance(data.get("user-variables"), dict) else {}
    key = variables.get(mailgun.IDEMPOTENCY_VARIABLE)
    return await _store("mailgun", [(event, str(key) if key else None)], replay_token=token)


@router.post("/sendgrid")
@_answer
async def sendgrid_events(request: Request) -> JSONResponse:
    """SendGrid Signed Event Webhook (ECDSA over timestamp + the raw body, a JSON array)."""
    raw = await read_body(request, MAX_SENDGRID_BYTES)
    public_key = _secret("SENDGRID_WEBHOOK_PUBLIC_KEY")
    sendgrid.verify_event_webhook(public_key, request.headers.get(sendgrid.SIGNATURE_HEADER, ""),
                                  request.headers.get(sendgrid.TIMESTAMP_HEADER, ""), raw)
    too_deep = input_guard.too_deep(raw)  # measured only now that the signature verified
    if too_deep is not None:
        raise Reject(400, too_deep)
    events = sendgrid.parse_events(raw)
    items = json.loads(raw)
    keys = [item.get(sendgrid.IDEMPOTENCY_ARG) if isinstance(item, dict) else None for item in items]
    return await _store("sendgrid", [(event, str(key) if key else None) for event, key in zip(events, keys)])
