"""Change notifications from platforms that subscribe with a validation handshake (Business Central:
``connectors.notification_subscriptions``): ``POST /webhooks/{store}/notifications``.

* ``?validationToken=…``: the platform checking the address while a subscription is created or
  renewed. The token is echoed as ``text/plain`` with 200 for an enabled store of such a platform
  (404 otherwise), without a database write: Business Central gives the answer five seconds and
  refuses the subscription without it
  (https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/dynamics-subscriptions).
* a delivery ``{"value": [notification, …]}``: every notification must carry the store's client
  state (401 otherwise: a forged delivery is not the platform's, which is never answered so); then
  each notification is stored as its own inbox row, deduplicated by what identifies it, so a
  delivery repeated or re-batched by the platform stores nothing twice. The rows carry no stock
  (a notification names what changed, not its figures): the drain makes the store's incremental
  read due at once (``domain.stock.apply_events``: ``read_now``), which fetches what changed.
  Answers: 200 ``{"accepted", "duplicates"}``; 400 malformed; 503 when PostgreSQL cannot store them
  in time — Business Central retries 408, 429 and 5xx for 36 hours and deletes a subscription
  answered anything else, so a refusal of ours must never be a 4xx that is really a 5xx.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from connectors import notification_subscriptions
from connectors.errors import MalformedPayloadError, SignatureError
from connectors.subscriptions import NOTIFICATION_PATHS
from domain.core import log_context
from domain.stock import webhook_inbox
from workers import webhook_stores
from workers.deadlines import DeadlineExceeded, deadline_of, run_blocking, work_deadline
from workers.ingest_writer import get_writer
from workers.webhook_stores import KnownStore
from workers.webhooks import TOO_SLOW, Answer, BodyTooLarge, MAX_BODY_BYTES, check_webhook, note, read_limited

log = logging.getLogger("workers.notifications")
router = APIRouter()


async def known_store(store_key: str, deadline: float) -> KnownStore | None:
    """The enabled store (cached), if its platform takes notifications here."""
    hit, store = webhook_stores.cached(store_key)
    if not hit:
        store = await run_blocking(deadline, webhook_stores.load, store_key)
    return store if store is not None and store.connector.platform in NOTIFICATION_PATHS else None


async def store_each(store: KnownStore, headers: dict[str, str], body: bytes, deadline: float) -> Answer:
    """Verify the delivery, then store each notification once; the answer counts what was new."""
    try:
        store.connector.verify_webhook(headers, body)
        parts = notification_subscriptions.split(body)
    except SignatureError as exc:
        log.warning("notification for %s refused: %s", store.key, exc)
        return Answer(401, {"error": "client state does not match"})
    except MalformedPayloadError as exc:
        return Answer(400, {"error": f"malformed payload: {exc}"})
    checked = [check_webhook(store, headers, part) for part in parts]
    refused = next((c for c in checked if isinstance(c, Answer)), None)
    if refused is not None:
        return refused
    writer, futures = get_writer(), []
    for event in checked:
        assert isinstance(event, webhook_inbox.NewEvent)
        event.payload[log_context.CORRELATION_ID] = log_context.current_id()
        futures.append(writer.submit(event, work_deadline(deadline)))
    try:
        outcomes = await asyncio.wait_for(asyncio.gather(*map(asyncio.shield, futures)),
                                          max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        for future in futures:
            writer.withdraw(future)
        return TOO_SLOW
    failed = next((o.error for o in outcomes if o.error is not None), None)
    if failed is not None:
        return Answer(503, {"error": failed})
    duplicates = sum(1 for o in outcomes if o.duplicate)
    return Answer(200, {"status": "accepted", "accepted": len(outcomes) - duplicates, "duplicates": duplicates},
                  checked[0].topic if checked else "")


@router.post("/webhooks/{store_key}/notifications",
             summary="Receive change notifications (validation handshake echoed; each notification stored once)")
async def receive_notifications(store_key: str, request: Request) -> Response:
    deadline = deadline_of(cast(dict[str, Any], request.scope))
    with log_context.bound(correlation_id=log_context.new_id(), store=store_key):
        try:
            store = await known_store(store_key, deadline)
            token = request.query_params.get("validationToken")
            if store is None:
                answer = Answer(404, {"error": f"unknown store {store_key!r} (or it takes no notifications)"})
            elif token is not None:
                log.info("notification address of %s validated", store_key)
                return PlainTextResponse(token, status_code=200)
            else:
                answer = await store_each(store, dict(request.headers.items()),
                                          await read_limited(request, MAX_BODY_BYTES), deadline)
        except BodyTooLarge:
            answer = Answer(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"})
        except DeadlineExceeded:
            answer = TOO_SLOW
        except SQLAlchemyError as exc:
            log.error("notifications for %s not stored: %s", store_key, str(exc).splitlines()[0])
            answer = Answer(503, {"error": "database unavailable, retry later"})
        return note(store_key, answer).response()

