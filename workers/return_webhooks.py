"""Returns at the web edge: Loop Returns' Return webhook and the customer's one-click survey.

``POST /webhooks/returns/loop``: ``X-Loop-Signature`` checked against ``[returns] loop_secret_env``
(``connectors.loop_returns``) before anything is read; a ``return.created`` becomes one return
(unique per Loop return id, so a redelivery is the same return), decided by the refund policy and
sent on its way after the commit. Other triggers are acknowledged and left (a person or our own
flow moves the return). Answers: 200, 400 malformed or an order we do not know, 401 signature,
413 too large, 503 when the database is unavailable (Loop retries).

``GET /returns/survey/{token}``: a signed score link from the settled-return email shows the score
and one button (mail scanners open links: a GET records nothing); the ``POST`` records it, with an
optional comment; the first answer counts.
"""
from __future__ import annotations

import html
import logging
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError

from connectors import loop_returns
from connectors.errors import MalformedPayloadError, SignatureError
from domain.core import store_secrets
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.db import session_scope
from domain.core.env_settings import get_settings
from domain.core.models import Order
from domain.returns import flow, survey
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


def _checked(token: str) -> tuple[int, int] | Response:
    try:
        return survey.verify(get_settings().secret_key, token, utcnow())
    except survey.BadSurveyLink as exc:
        return HTMLResponse(f"<p>This link does not work ({html.escape(str(exc))}).</p>", status_code=400)


@router.get("/returns/survey/{token}", summary="The return survey's answer page (records nothing)")
def survey_page(token: str) -> Response:
    """Mail scanners open every link of an e-mail: the GET only shows the score and one button."""
    checked = _checked(token)
    if isinstance(checked, Response):
        return checked
    _, score = checked
    return HTMLResponse(
        f"<p>You rated your return {score} out of 5.</p>"
        f'<form method="post"><textarea name="comment" maxlength="2000" placeholder="Anything to add? (optional)">'
        f'</textarea><br><button type="submit">Send my answer</button></form>')


@router.post("/returns/survey/{token}", summary="A customer's answer to the return survey (the first counts)")
async def survey_answer(token: str, request: Request) -> Response:
    checked = _checked(token)
    if isinstance(checked, Response):
        return checked
    return_id, score = checked
    form = parse_qs((await read_limited(request, 16_384)).decode("utf-8", "replace"))
    comment = (form.get("comment") or [""])[0].strip() or None
    with session_scope() as session:
        recorded = survey.answer(session, return_id, score, utcnow(), comment)
    words = "Thank you for your answer." if recorded else "We already have your answer — thank you."
    return HTMLResponse(f"<p>{words}</p>")
