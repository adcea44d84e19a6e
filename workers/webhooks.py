"""Platform webhooks: verify, store once, wake a drain, answer in milliseconds.

Answers: 200 accepted (or duplicate), 400 malformed, 401 bad signature, 404 unknown store,
413 too large, 503 when PostgreSQL is unavailable or does not answer within the request's
deadline (``WEBHOOK_DEADLINE_S``, ``workers.deadlines``; the platform retries) — never 500. Nothing
is applied here: the event is committed to the inbox first, then a coalesced drain task applies
it. The body is parsed here once, to answer 400 to a malformed one, and the inbox row keeps what
the parser made of it beside the raw body and headers (``connectors.webhook_records``), so the
drain applies the records without parsing the body again. The store and its connector come from
a per-process cache (``workers.webhook_stores``), and concurrent deliveries are committed
together by one writer per process (``workers.ingest_writer``), so a burst costs a share of one
insert and one commit each.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from connectors import webhook_records
from domain.core import log_context
from connectors.errors import MalformedPayloadError, SignatureError
from connectors.signing import QUERY_HEADER
from domain.stock import stray_webhooks, webhook_inbox
from domain.stock.apply_events import stored_payload
from flows import metrics
from workers import input_guard, webhook_stores

from workers.deadlines import RETRY_AFTER_S, DeadlineExceeded, deadline_of, run_blocking, work_deadline
from workers.ingest_writer import Outcome, get_writer
from workers.webhook_stores import KnownStore

log = logging.getLogger("workers.webhooks")
events = log_context.get_logger("workers.webhooks")
MAX_BODY_BYTES = int(os.environ.get("WEBHOOK_MAX_BYTES", str(2 * 1024 * 1024)))
#: Bodies up to this size are verified and parsed on the event loop (tens of microseconds);
#: larger ones go to a worker thread so one big delivery does not stall the others.
INLINE_CHECK_BYTES = 64 * 1024

router = APIRouter()


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    #: The stored event's topic (an accepted webhook), for logs and metrics.
    topic: str = ""

    @property
    def reason(self) -> str:
        """What the answer says, in one word: ``accepted``, ``duplicate``, ``pong``, or why it was
        refused (``malformed``, ``signature``, ``unknown_store``, ``too_large``, ``unavailable``)."""
        if self.status == 200:
            return str(self.body.get("status", "accepted"))
        return REFUSALS.get(self.status, str(self.status))

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(RETRY_AFTER_S)} if self.status == 503 else None
        return JSONResponse(self.body, status_code=self.status, headers=headers)

    async def send(self, send: Any) -> None:
        """The same answer as :meth:`response` (bytes and headers), sent as the two ASGI messages
        directly: building and rendering a ``JSONResponse`` cost 3.8 µs a webhook against 1.9 µs."""
        body = _JSON(self.body).encode("utf-8")
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        if self.status == 503:
            headers.append((b"retry-after", str(RETRY_AFTER_S).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


#: JSON as Starlette's ``JSONResponse`` renders it, with one encoder kept for every answer.
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


REFUSALS = {400: "malformed", 401: "signature", 404: "unknown_store", 413: "too_large", 503: "unavailable"}


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


def check_webhook(store: KnownStore, headers: dict[str, str], body: bytes) -> Answer | webhook_inbox.NewEvent:
    """Verify and parse (CPU only): the event to store, or the answer that ends the request."""
    connector = store.connector
    try:
        connector.verify_webhook(headers, body)
    except SignatureError as exc:
        log.warning("webhook for %s rejected: bad signature (%s)", store.key, exc)
        return Answer(401, {"error": "signature verification failed"})
    too_deep = input_guard.too_deep(body) if len(body) > input_guard.UNSIGNED_SCAN_BYTES else None
    if too_deep is not None:  # smaller bodies were measured by the middleware already
        log.warning("webhook for %s rejected: %s", store.key, too_deep)
        return Answer(400, {"error": f"malformed payload: {too_deep}"})
    try:
        body.decode("utf-8")
        event = connector.parse_webhook(headers, body)
    except (MalformedPayloadError, UnicodeDecodeError, RecursionError) as exc:
        log.warning("webhook for %s rejected: malformed (%s)", store.key, exc)
        return Answer(400, {"error": f"malformed payload: {exc}"})
    if event.kind == "ping":
        return Answer(200, {"status": "pong"})
    payload = stored_payload(headers, body, connector.webhook_headers)
    payload[webhook_records.PAYLOAD_KEY] = webhook_records.dump(event)  # the drain applies these as they are
    return webhook_inbox.NewEvent(source=store.key, dedupe_key=event.dedupe_key, kind=event.kind, topic=event.topic,
                          payload=payload, occurred_at=event.occurred_at)


TOO_SLOW = Answer(503, {"error": "database did not answer in time, retry later"})
#: What a request's own timer puts on its writer future when the writer has not answered by the
#: request's deadline (the writer leaves a future that is already done alone).
EXPIRED = Outcome(error="no outcome by the deadline")


def _expire(future: asyncio.Future[Outcome]) -> None:
    if not future.done():
        future.set_result(EXPIRED)


async def accept_webhook(store_key: str, headers: dict[str, str], body: bytes, deadline: float | None = None) -> Answer:
    """Look up (cached), verify, parse, then wait until the row is committed with its batch —
    or until ``deadline`` (``time.monotonic()``; default ``WEBHOOK_DEADLINE_S`` from now), past
    which the answer is 503 and the event is either withdrawn unwritten or, if its statement is
    already on its way, stored at most once (the retry is then a duplicate).

    Only a store cache miss and a large body leave the event loop: the common path does its
    HMAC and JSON parse inline and makes no database round trip of its own.
    """
    deadline = deadline_of({}) if deadline is None else deadline
    # the chain this webhook starts: the id goes into the inbox row and the drain's header
    correlation_id = log_context.new_id()
    tokens = log_context.bind(correlation_id=correlation_id, store=store_key)
    try:
        return note(store_key, await _accept(store_key, headers, body, deadline, correlation_id))
    finally:
        log_context.unbind(tokens)


def note(store_key: str, answer: Answer) -> Answer:
    """Log and count what a webhook was answered (``webhook.received`` or ``webhook.refused``).

    A refusal is a warning. An accepted webhook is logged at debug only, and the debug call is
    not even made unless debug is on: rendering one JSON line cost ~90 µs per request, measured,
    and halved the receiver's throughput in ``bench.ingest`` (0.46 → 0.24 of the bare endpoint),
    and structlog's own level filter cost 4 µs more; the accepted count is on ``/metrics``
    (``backorders_webhooks_accepted_total``) and the drain logs every applied event with its
    correlation id, so nothing is lost at ``LOG_LEVEL=INFO``.
    """
    refused = answer.status != 200
    if refused:
        events.warning("webhook.refused", store=store_key, status=answer.status, reason=answer.reason,
                       inbox_id=answer.body.get("id"), topic=answer.topic or None)
    elif log.isEnabledFor(logging.DEBUG):  # asking structlog costs ~4 µs even when it drops the line
        events.debug("webhook.received", store=store_key, status=answer.status, reason=answer.reason,
                     inbox_id=answer.body.get("id"), topic=answer.topic or None)
    metrics.webhook_answered(store_key, answer.reason)
    return answer


async def _accept(store_key: str, headers: dict[str, str], body: bytes, deadline: float,
                  correlation_id: str | None = None) -> Answer:
    hit, store = webhook_stores.cached(store_key)
    if not hit:
        try:
            store = await run_blocking(deadline, webhook_stores.load, store_key)
        except DeadlineExceeded:
            log.error("webhook for %s: store lookup did not finish in time; answered 503", store_key)
            return TOO_SLOW
    if store is None:  # answered 404, but remembered (bounded) and alerted once an hour per key
        try:
            await run_blocking(deadline, stray_webhooks.note_unknown_store, store_key, headers, len(body))
        except DeadlineExceeded:
            log.warning("webhook for unknown store %r: not remembered in time", store_key)
        return Answer(404, {"error": f"unknown store {store_key!r}"})
    if len(body) <= INLINE_CHECK_BYTES:
        checked = check_webhook(store, headers, body)
    else:
        checked = await run_in_threadpool(check_webhook, store, headers, body)
    if isinstance(checked, Answer):
        return checked
    checked.payload[log_context.CORRELATION_ID] = correlation_id or log_context.current_id()
    writer = get_writer()
    future = writer.submit(checked, work_deadline(deadline))
    # The writer answers by the work deadline; this timer is the backstop. One timer on the
    # future, not ``asyncio.wait_for(asyncio.shield(...))``: 2 µs per request against 6, measured.
    timer = asyncio.get_running_loop().call_later(max(0.0, deadline - time.monotonic()), _expire, future)
    try:
        outcome = await future
    finally:
        timer.cancel()
    if outcome is EXPIRED:
        withdrawn = writer.withdraw(future)
        log.error("webhook for %s: no outcome by the deadline (%s); answered 503", store_key,
                  "withdrawn" if withdrawn else "its batch may still commit")
        return TOO_SLOW
    if outcome.error is not None:
        return Answer(503, {"error": outcome.error})
    if outcome.duplicate:
        return Answer(200, {"status": "duplicate"}, checked.topic)
    return Answer(200, {"status": "accepted", "id": outcome.event_id}, checked.topic)


@router.post("/webhooks/{store_key}", summary="Receive a platform webhook (signature checked, stored once)")
async def receive_webhook(store_key: str, request: Request) -> JSONResponse:
    try:
        body = await read_limited(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        return note(store_key, Answer(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"})).response()
    headers = {k: v for k, v in request.headers.items()}
    headers[QUERY_HEADER] = request.url.query  # ours, never the sender's (a secret in the address)
    try:
        answer = await accept_webhook(store_key, headers, body, deadline_of(request.scope))
    except OperationalError as exc:
        log.error("webhook for %s not stored, database unavailable: %s", store_key, str(exc).splitlines()[0])
        answer = note(store_key, Answer(503, {"error": "database unavailable, retry later"}))
    except SQLAlchemyError:
        log.exception("webhook for %s not stored", store_key)
        answer = note(store_key, Answer(503, {"error": "could not store the event, retry later"}))
    return answer.response()


WEBHOOK_PATH = re.compile(r"^/webhooks/([^/]+)$")


class WebhookFastPath:
    """ASGI middleware that serves ``POST /webhooks/{store_key}`` itself, with exactly the
    route's answers, ahead of FastAPI's routing and request machinery.

    That machinery (route matching over every endpoint, the ``Request`` object, dependency
    resolution) was the largest share of the receiver's CPU per webhook left after group commit,
    and the receiver is the one endpoint platforms hit at volume. The FastAPI route above stays:
    it documents the endpoint in the OpenAPI schema and serves any request this path declines
    (other methods, a trailing slash). Installed innermost, so the body ceiling and the
    per-source limits still run first."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = WEBHOOK_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        deadline = deadline_of(scope)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        headers[QUERY_HEADER] = scope.get("query_string", b"").decode("latin-1")  # ours, never the sender's
        answer = await self.answer(match.group(1), headers, receive, deadline)
        await answer.send(send)

    async def answer(self, store_key: str, headers: dict[str, str], receive: Any, deadline: float) -> Answer:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return note(store_key, Answer(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"}))
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return Answer(400, {"error": "client disconnected before the body was read"})
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return note(store_key, Answer(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"}))
            chunks.append(chunk)
            more = message.get("more_body", False)
        try:
            return await accept_webhook(store_key, headers, b"".join(chunks), deadline)
        except OperationalError as exc:
            log.error("webhook for %s not stored, database unavailable: %s", store_key, str(exc).splitlines()[0])
            return note(store_key, Answer(503, {"error": "database unavailable, retry later"}))
        except SQLAlchemyError:
            log.exception("webhook for %s not stored", store_key)
            return note(store_key, Answer(503, {"error": "could not store the event, retry later"}))
