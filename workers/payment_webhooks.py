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

from connectors.payments.common import ProviderEvent
from domain.core.business_config import current_config
from domain.core.db import session_scope
from domain.core.payment_config import PaymentAccountConfig
from domain.core.stages import FollowUp, Stage
from domain.payments import events
from flows.payments import provider_for
from flows.spine import send_now
from workers.verified_webhooks import Accepted, Receiver

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


def verify_events(found: PaymentAccountConfig, headers: dict[str, str], body: bytes) -> list[ProviderEvent]:
    return provider_for(found).verify_events(headers, body)


def _answer(account: str, accepted: Accepted[PaymentAccountConfig, list[ProviderEvent], int]) -> Response:
    received, new = accepted.verified, accepted.stored
    log.info("payment webhook for %s: %d event(s), %d new", account, len(received), new)
    if accepted.entry.provider == "adyen":
        return PlainTextResponse("[accepted]")
    return JSONResponse({"status": "accepted", "events": len(received), "new": new})


#: ``verify_events`` keeps its name: a deadline passed in it is logged under that name, as before.
RECEIVER = Receiver(log, "payment", "payments account",
                    lambda account: current_config().payments.account(account),
                    verify_events, _store, _answer)


@router.post("/webhooks/payments/{account}", summary="Receive a payment provider's webhook (verified, stored once)")
async def receive(account: str, request: Request) -> Response:
    return await RECEIVER.receive(account, request)
