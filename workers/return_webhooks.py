"""Returns at the web edge: Loop Returns' Return webhook.

``POST /webhooks/returns/loop``: ``X-Loop-Signature`` checked against ``[returns] loop_secret_env``
(``connectors.loop_returns``) before anything is read; a ``return.created`` becomes one return
(unique per Loop return id, so a redelivery is the same return), decided by the refund policy and
sent on its way after the commit. Other triggers are acknowledged and left (a person or our own
flow moves the return). Answers: 200, 400 malformed or an order we do not know, 401 signature,
413 too large, 503 when the database is unavailable (Loop retries).

The settled-return email's survey links are the satisfaction survey's (``/csat/{token}``,
``workers.csat_pages``).
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError

from connectors import loop_returns
from connectors.errors import MalformedPayloadError, SignatureError
from domain.core import store_secrets
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.db import session_scope
from domain.core.models import Order
from domain.returns import flow
from flows.spine import send_now
from workers.webhooks import MAX_BODY_BYTES, BodyTooLarge, read_limited

log = logging.getLogger("workers.return_webhooks")
router = APIRouter()


def _take(received: loop_returns.LoopReturn) -> tuple[str, bool]:
    config = current_config()
    with session_scope() as session:
        order = session.scalar(select(Order).where(or_(
            Order.number == received.order_name, Order.number == f"#{received.order_name}",
            Order.external_id == (received.provider_order_id or ""))).order_by(Order.id).limit(1))
        if order is None:
            raise MalformedPayloadError(f"no order {received.order_name!r} is known here")
        done = flow.request(session, config, order, received.lines, received.reason, "loop", received.return_id,
                            "loop returns", utcnow())
        assert done.row is not None
        rma, created, follow_ups = done.row.rma, done.created, done.follow_ups
    if follow_ups:
        try:
            send_now(follow_ups)
        except Exception:  # the broker is down: the returns sweeper sends the step
            log.warning("return %s stored; its step was not sent", rma, exc_info=True)
    return rma, created


@router.post("/webhooks/returns/loop", summary="Receive Loop Returns' Return webhook (signed, stored once)")
async def loop_webhook(request: Request) -> Response:
    try:
        body = await read_limited(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        return JSONResponse({"error": f"body larger than {MAX_BODY_BYTES} bytes"}, status_code=413)
    try:
        loop_returns.verify(store_secrets.lookup(current_config().returns.loop_secret_env),
                            dict(request.headers.items()), body)
        received = loop_returns.parse(body)
        if received.trigger != "return.created":
            return JSONResponse({"status": "ignored", "trigger": received.trigger})
        if not received.lines:
            raise MalformedPayloadError("the return lists no line with a SKU")
        rma, created = _take(received)
    except SignatureError as exc:
        log.warning("Loop webhook refused: %s", exc)
        return JSONResponse({"error": "signature verification failed"}, status_code=401)
    except (MalformedPayloadError, ValueError) as exc:
        return JSONResponse({"error": f"malformed payload: {exc}"}, status_code=400)
    except SQLAlchemyError as exc:
        log.error("Loop webhook not stored: %s", exc)
        return JSONResponse({"error": "temporarily unavailable, retry later"}, status_code=503,
                            headers={"Retry-After": "5"})
    return JSONResponse({"status": "accepted", "rma": rma, "new": created})

