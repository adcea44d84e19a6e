"""``POST /webhooks/payments/{account}``: a payment provider's webhook, verified, stored once, drained.

The account is a ``[[payments.accounts]]`` key (Stripe endpoint, Adyen standard webhook, PayPal
webhook — each configured at the provider with this URL). Its connector verifies the delivery
(Stripe ``Stripe-Signature`` within 300 s, Adyen's HMAC on every item, PayPal's
verify-webhook-signature call) and reads its events; each is stored in the inbox under the
provider's event id (``domain.payments.events.accept``), so a redelivery is stored once, and
``tasks.payments.apply_events`` is woken after the commit (the payments sweeper drains any whose
message was lost). Answers: 200 (Adyen's ``[accepted]``, as it expects), 400 malformed,
401 signature, 404 unknown account, 413 too large, 503 when the database or PayPal's verify call
is unavailable (the provider retries) — never 500. Within ``WEBHOOK_DEADLINE_S`` like every webhook.
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from connectors.errors import ConnectorError, MalformedPayloadError, SignatureError
from connectors.payments.common import ProviderEvent
from domain.core.business_config import current_config
from domain.core.db import session_scope
from domain.core.stages import FollowUp, Stage
from domain.payments import events
from flows.payments import provider_for
from flows.spine import send_now
from workers.deadlines import DeadlineExceeded, deadline_of, run_blocking
from workers.webhooks import MAX_BODY_BYTES, BodyTooLarge, read_limited

log = logging.getLogger("workers.payment_webhooks")
router = APIRouter()


def _store(account: str, received: list[ProviderEvent]) -> int:
    with session_scope() as session:
        new = sum(1 for one in events.accept(session, account, received) if one is not None)
    if new:
        try:
            send_now([FollowUp(Stage.APPLY_PAYMENT_EVENTS, (account,))])
        except Exception:  # the broker is down: the rows are stored, the payments sweeper drains them
            log.warning("payment events of %s stored; the drain was not sent", account, exc_info=True)
    return new


@router.post("/webhooks/payments/{account}", summary="Receive a payment provider's webhook (verified, stored once)")
async def receive(account: str, request: Request) -> Response:
    try:
        body = await read_limited(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        return JSONResponse({"error": f"body larger than {MAX_BODY_BYTES} bytes"}, status_code=413)
    found = current_config().payments.account(account)
    if found is None:
        return JSONResponse({"error": f"unknown payments account {account!r}"}, status_code=404)
    headers = dict(request.headers.items())
    deadline = deadline_of(dict(request.scope))
    try:
        provider = provider_for(found)
        received = await run_blocking(deadline, provider.verify_events, headers, body)
        new = await run_blocking(deadline, _store, account, received)
    except SignatureError as exc:
        log.warning("payment webhook for %s refused: %s", account, exc)
        return JSONResponse({"error": "signature verification failed"}, status_code=401)
    except MalformedPayloadError as exc:
        return JSONResponse({"error": f"malformed payload: {exc}"}, status_code=400)
    except (ConnectorError, SQLAlchemyError, DeadlineExceeded) as exc:
        log.error("payment webhook for %s not stored: %s", account, exc)
        return JSONResponse({"error": "temporarily unavailable, retry later"}, status_code=503,
                            headers={"Retry-After": "5"})
    log.info("payment webhook for %s: %d event(s), %d new", account, len(received), new)
    if found.provider == "adyen":
        return PlainTextResponse("[accepted]")
    return JSONResponse({"status": "accepted", "events": len(received), "new": new})
