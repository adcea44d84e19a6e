"""``POST /webhooks/helpdesk/{key}``: a helpdesk's webhook, verified and stored once.

The key is a ``[[helpdesks]]`` entry's. Its connector verifies the delivery — Zendesk's
``X-Zendesk-Webhook-Signature`` (HMAC-SHA256 of timestamp + body), Intercom's ``X-Hub-Signature``
(HMAC-SHA1 of the body with the app's client secret), and for Gorgias, whose HTTP integrations
sign nothing, the secret of ours its integration sends in ``X-Backorders-Token`` (or ``?token=``)
— and reads the ticket it is about; the delivery is stored once in the inbox under its dedupe key
(``domain.helpdesks.inbox.accept``) and a drain (``tasks.helpdesks.drain``) is woken to store it
as a support ticket (the sweeper wakes it if this message is lost). Answers: 200 (``new`` false for a
redelivery), 400 malformed, 401 signature, 404 unknown helpdesk, 413 too large, 503 when the
database is unavailable (the helpdesk retries) — never 500. Within ``WEBHOOK_DEADLINE_S`` like
every webhook.
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from connectors.helpdesk.contract import HelpdeskDelivery
from connectors.signing import QUERY_HEADER
from domain.core.business_config import current_config
from domain.core.db import session_scope
from domain.core.helpdesk_config import HelpdeskConfig
from domain.core.stages import FollowUp, Stage
from domain.helpdesks import inbox
from flows.helpdesks import helpdesk_for
from flows.spine import send_now
from workers.verified_webhooks import Accepted, Receiver

log = logging.getLogger("workers.helpdesk_webhooks")
router = APIRouter()


def _store(key: str, delivery: HelpdeskDelivery) -> bool:
    with session_scope() as session:
        new = inbox.accept(session, key, delivery) is not None
    if new:
        try:
            send_now([FollowUp(Stage.HELPDESK_DRAIN, (key,))])
        except Exception:  # noqa: BLE001 - the row is stored: tasks.helpdesks.sweep wakes its drain
            log.warning("helpdesk webhook for %s stored; its drain could not be queued now", key, exc_info=True)
    return new


def _headers(request: Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() != QUERY_HEADER}
    headers[QUERY_HEADER] = request.url.query  # ours, never the sender's (a secret in the address)
    return headers


def verify_delivery(entry: HelpdeskConfig, headers: dict[str, str], body: bytes) -> HelpdeskDelivery:
    return helpdesk_for(entry).verify_delivery(headers, body)


def _answer(key: str, accepted: Accepted[HelpdeskConfig, HelpdeskDelivery, bool]) -> Response:
    delivery, new = accepted.verified, accepted.stored
    log.info("helpdesk webhook for %s: %s (%s)", key, delivery.topic, "new" if new else "seen before")
    return JSONResponse({"status": "accepted", "topic": delivery.topic, "new": new})


#: ``verify_delivery`` keeps its name: a deadline passed in it is logged under that name, as before.
RECEIVER = Receiver(log, "helpdesk", "helpdesk", lambda key: current_config().helpdesks.helpdesk(key),
                    verify_delivery, _store, _answer, _headers)


@router.post("/webhooks/helpdesk/{key}", summary="Receive a helpdesk's webhook (verified, stored once)")
async def receive(key: str, request: Request) -> Response:
    return await RECEIVER.receive(key, request)
