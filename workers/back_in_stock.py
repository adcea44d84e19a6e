"""``POST /webhooks/back-in-stock/{store}``: a storefront's "tell me when it is back" request.

Shopify has no native back-in-stock requests (apps such as Klaviyo or Back in Stock keep their
own lists), and none of our stand-ins has one, so the receiver is generic: a JSON body
``{"sku": "CODE", "email": "…" | "phone": "+1…", "channel": "email" | "sms", "id": "their id"}``
signed like Shopify's webhooks — ``X-Backorders-Hmac-Sha256`` is the base64 HMAC-SHA256 of the
raw body with the store's webhook secret (``webhook_secret_env``)
(https://shopify.dev/docs/apps/build/webhooks/verify-deliveries describes the scheme). The
request joins the SKU's queue (``domain.journey.rationing``); asking twice keeps the first place.

Answers: 200 ``{"request_id", "position", "created"}``, 401 bad or missing signature, 404 unknown
store, 400 a body that is not such JSON, 413 over 16 KiB, 422 unknown SKU or no usable contact,
503 the store has no secret configured or the database is unavailable.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import domain.core.env_settings as runtime_settings
from connectors.errors import SignatureError
from connectors.signing import header_value, verify_base64_hmac
from domain.core import store_secrets
from domain.core.db import session_scope
from domain.journey import rationing
from workers.callbacks import Reject, read_body

log = logging.getLogger("workers.back_in_stock")

router = APIRouter(tags=["storefront webhooks"])
MAX_BYTES = 16 * 1024
SIGNATURE_HEADER = "X-Backorders-Hmac-Sha256"


def _record(store_key: str, payload: dict[str, Any]) -> dict[str, Any]:
    with session_scope() as session:
        added = rationing.add(session, str(payload.get("sku") or ""), email=payload.get("email"),
                              phone=payload.get("phone"), channel=payload.get("channel"), store_key=store_key,
                              source="webhook", external_id=str(payload["id"])[:200] if payload.get("id") else None)
    return {"request_id": added.request_id, "position": added.position, "created": added.created}


@router.post("/webhooks/back-in-stock/{store_key}", summary="A storefront's back-in-stock request (signed JSON)")
async def back_in_stock(store_key: str, request: Request) -> JSONResponse:
    try:
        store = next((s for s in runtime_settings.current().config.stores if s.key == store_key), None)
        if store is None:
            raise Reject(404, "unknown store")
        secret = store_secrets.lookup(store.webhook_secret_env) if store.webhook_secret_env else None
        if not secret:
            raise Reject(503, "the store has no webhook secret configured")
        raw = await read_body(request, MAX_BYTES)
        verify_base64_hmac(secret, raw, header_value(request.headers, SIGNATURE_HEADER))
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise Reject(400, "body is not JSON") from exc
        if not isinstance(payload, dict):
            raise Reject(400, "expected a JSON object")
        return JSONResponse(await run_in_threadpool(_record, store_key, payload))
    except Reject as exc:
        return JSONResponse({"error": exc.detail}, status_code=exc.status)
    except SignatureError:
        log.warning("back-in-stock request for %s with a bad signature", store_key)
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    except rationing.RequestError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    except Exception:
        log.exception("back-in-stock request for %s could not be handled", store_key)
        return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
