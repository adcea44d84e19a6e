"""Platform webhooks: verify, store once, wake a drain, answer in milliseconds.

Answers: 200 accepted (or duplicate), 400 malformed, 401 bad signature, 404 unknown store,
413 too large, 503 when PostgreSQL is unavailable (the platform retries) — never 500. Nothing
is applied here: the event is committed to the inbox first, then a coalesced drain task applies
it, so a burst of deliveries costs one insert each.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from connectors.errors import MalformedPayloadError, SignatureError
from domain import coalesce, inbox, stray_webhooks
from domain.db import session_scope
from domain.inbound import stored_payload
from domain.models import Store
from tasks.connections import connector_for

log = logging.getLogger("workers.webhooks")
MAX_BODY_BYTES = int(os.environ.get("WEBHOOK_MAX_BYTES", str(2 * 1024 * 1024)))

router = APIRouter()


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    def response(self) -> JSONResponse:
        headers = {"Retry-After": "5"} if self.status == 503 else None
        return JSONResponse(self.body, status_code=self.status, headers=headers)


class BodyTooLarge(Exception):
    """The body passed ``WEBHOOK_MAX_BYTES`` while it was read: answer 413 without reading on."""


async def read_limited(request: Request, limit: int) -> bytes:
    """Read the body but stop at ``limit`` bytes, so a 20 MB upload costs us 2 MB at most."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def accept_webhook(store_key: str, headers: dict[str, str], body: bytes) -> Answer:
    """The synchronous part: look up, verify, parse, store. Runs in a worker thread."""
    with session_scope() as session:
        store = session.scalar(select(Store).where(Store.key == store_key, Store.enabled))
        if store is None:  # answered 404, but remembered (bounded) and alerted once an hour per key
            stray_webhooks.note_unknown_store(store_key, headers, len(body))
            return Answer(404, {"error": f"unknown store {store_key!r}"})
        connector = connector_for(store, require_credentials=False)
        try:
            connector.verify_webhook(headers, body)
        except SignatureError as exc:
            log.warning("webhook for %s rejected: bad signature (%s)", store_key, exc)
            return Answer(401, {"error": "signature verification failed"})
        try:
            body.decode("utf-8")
            event = connector.parse_webhook(headers, body)
        except (MalformedPayloadError, UnicodeDecodeError) as exc:
            log.warning("webhook for %s rejected: malformed (%s)", store_key, exc)
            return Answer(400, {"error": f"malformed payload: {exc}"})
        if event.kind == "ping":
            return Answer(200, {"status": "pong"})
        event_id = inbox.accept(session, source=store_key, dedupe_key=event.dedupe_key, kind=event.kind,
                                topic=event.topic, payload=stored_payload(headers, body),
                                occurred_at=event.occurred_at)
    if event_id is None:
        return Answer(200, {"status": "duplicate"})
    wake_drain(store_key)
    return Answer(200, {"status": "accepted", "id": event_id})


def wake_drain(store_key: str) -> None:
    from tasks.inbound import drain

    if not coalesce.should_wake(store_key):
        return
    try:
        drain.delay(store_key)
    except Exception:  # broker down: the row is committed and the inbox sweeper will wake a drain
        log.exception("could not enqueue drain for %s; the inbox sweeper will pick it up", store_key)
        coalesce.clear(store_key)


@router.post("/webhooks/{store_key}", summary="Receive a platform webhook (signature checked, stored once)")
async def receive_webhook(store_key: str, request: Request) -> JSONResponse:
    try:
        body = await read_limited(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        return Answer(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"}).response()
    headers = {k: v for k, v in request.headers.items()}
    try:
        answer = await run_in_threadpool(accept_webhook, store_key, headers, body)
    except OperationalError as exc:
        log.error("webhook for %s not stored, database unavailable: %s", store_key, str(exc).splitlines()[0])
        answer = Answer(503, {"error": "database unavailable, retry later"})
    except SQLAlchemyError:
        log.exception("webhook for %s not stored", store_key)
        answer = Answer(503, {"error": "could not store the event, retry later"})
    return answer.response()
