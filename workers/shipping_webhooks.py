"""Shipping webhooks: ``POST /webhooks/shipping/{account}``, checked, stored once, drained later.

ShipStation signs nothing, so its deliveries must carry the account's secret token (in the URL we
subscribed, ``?token=…``, or the ``X-Shipping-Token`` header; ``connectors.carriers.verify_token``);
Flexport's must carry a valid ``X-Hub-Signature-256``. Answers as for store webhooks: 200 accepted
(or duplicate: the same notification again stores nothing new), 400 malformed, 401 not
authentic, 404 unknown account, 413 too large, 503 when PostgreSQL is unavailable — never 500.
Nothing is fetched or applied here: the row (source ``ship:<account>``, its dedupe key the
provider's event id or a hash of ShipStation's ``resource_url``) is committed first, then a
``tasks.shipping.drain`` applies it; ``tasks.shipping.redrive`` finds rows whose message was lost.
Only the body is kept (never the token header).
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from connectors.errors import MalformedPayloadError, SignatureError
from domain.core.business_config import current_config
from domain.core.db import session_scope
from domain.core.stages import FollowUp, Stage
from domain.stock import webhook_inbox
from flows.shipping import SOURCE_PREFIX, connector_for
from flows.spine import send_now
from workers.webhooks import MAX_BODY_BYTES, BodyTooLarge, read_limited

log = logging.getLogger("workers.shipping_webhooks")
router = APIRouter()


def accept(account_key: str, headers: dict[str, str], body: bytes, token: str | None) -> tuple[int, dict[str, Any]]:
    """Check and store one delivery: (status, answer)."""
    account = current_config().shipping.account(account_key)
    if account is None:
        return 404, {"error": f"unknown shipping account {account_key!r}"}
    connector = connector_for(account, require_credentials=False)
    try:
        connector.verify_delivery(headers, body, token)
    except SignatureError as exc:
        log.warning("shipping webhook for %s refused: %s", account_key, exc)
        return 401, {"error": "not authentic"}
    try:
        notice = connector.parse_delivery(headers, body)
        text = body.decode("utf-8")
    except (MalformedPayloadError, UnicodeDecodeError, RecursionError) as exc:
        return 400, {"error": f"malformed payload: {exc}"}
    kept = {name: value for name, value in headers.items() if name.lower() == "content-type"}
    try:
        with session_scope() as session:
            event_id = webhook_inbox.accept(session, source=SOURCE_PREFIX + account_key, dedupe_key=notice.dedupe_key,
                                            kind="shipping", topic=notice.topic, occurred_at=notice.occurred_at,
                                            payload={"headers": kept, "body": text})
    except SQLAlchemyError as exc:
        log.error("shipping webhook for %s not stored: %s", account_key, str(exc).splitlines()[0])
        return 503, {"error": "database unavailable, retry later"}
    if event_id is None:
        return 200, {"status": "duplicate"}
    try:
        send_now([FollowUp(Stage.SHIPPING_DRAIN, (account_key,))])
    except Exception:  # noqa: BLE001 - the row is stored: tasks.shipping.redrive wakes its drain
        log.warning("shipping webhook %s stored; its drain could not be queued now", event_id, exc_info=True)
    return 200, {"status": "accepted", "id": event_id}


@router.post("/webhooks/shipping/{account_key}", summary="Receive a shipping provider's webhook (token or "
                                                         "signature checked, stored once)")
async def receive(account_key: str, request: Request) -> JSONResponse:
    try:
        body = await read_limited(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        return JSONResponse({"error": f"body larger than {MAX_BODY_BYTES} bytes"}, status_code=413)
    try:
        status, answer = await run_in_threadpool(accept, account_key, dict(request.headers.items()), body,
                                                 request.query_params.get("token"))
    except Exception:  # noqa: BLE001 - an unreadable business file, a broken connector: retry later, never 500
        log.exception("shipping webhook for %s could not be taken", account_key)
        status, answer = 503, {"error": "temporarily unavailable, retry later"}
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(answer, status_code=status, headers=headers)
