"""The Adyen stand-in's declarations: the merchant account's state, its error body, idempotent
requests and HMAC-signed standard notifications.

* Auth: ``X-API-Key`` (https://docs.adyen.com/development-resources/api-credentials/); a wrong or
  missing key → 401 ``{"status": 401, "errorCode": "000", "message": "HTTP Status Response -
  Unauthorized", "errorType": "security"}``; errors use ``{status, errorCode, message, errorType,
  pspReference}`` (https://docs.adyen.com/development-resources/error-codes).
* Idempotency (https://docs.adyen.com/development-resources/api-idempotency/): a POST with
  ``Idempotency-Key`` that was seen before answers the first result again and makes nothing; the
  answer echoes the header.
* Notifications (https://docs.adyen.com/development-resources/webhooks/verify-hmac-signatures):
  ``{"live": "false", "notificationItems": [{"NotificationRequestItem": {…}}]}``, each item signed
  in ``additionalData.hmacSignature``: base64 HMAC-SHA256, keyed with the hex-decoded HMAC key,
  of ``pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:
  eventCode:success`` (empty for a missing value; ``\\`` and ``:`` inside a value escaped). The
  receiver must answer ``[accepted]``; a delivery it did not accept is kept for ``_admin/redeliver``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import requests
from fastapi.responses import JSONResponse, Response

from sandbox.kit import Call, StandIn
from sandbox.kit.auth import HeaderToken
from sandbox.kit.fixtures import Fixtures
from sandbox.kit.payments import PaymentState
from sandbox.kit.webhooks import post

DEFAULT_API_KEY = "AQE_sandbox_api_key"
DEFAULT_MERCHANT = "FutonLoftECOM"
DEFAULT_HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
SIGNED = ("pspReference", "originalReference", "merchantAccountCode", "merchantReference", "value", "currency",
          "eventCode", "success")
fixture = Fixtures(__file__)


def error_body(status: int, code: str, message: str, kind: str = "validation", psp: str | None = None) -> dict[str, Any]:
    return {"status": status, "errorCode": code, "message": message, "errorType": kind,
            **({"pspReference": psp} if psp else {})}


def _unauthorized() -> JSONResponse:
    return JSONResponse(error_body(401, "000", "HTTP Status Response - Unauthorized", "security"), status_code=401)


@dataclass
class AdyenState(PaymentState):
    api_key: str = DEFAULT_API_KEY
    merchant: str = DEFAULT_MERCHANT
    hmac_key: str = DEFAULT_HMAC_KEY
    #: Send each refund's REFUND notification as soon as it is received (the demo); tests send them.
    auto_notify: bool = False
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def psp(self) -> str:
        """16 characters, as Adyen's pspReferences are."""
        return self.new_id("", 16).upper()[:16]

    def refunded(self, payment_psp: str) -> int:
        return sum(r["amount"]["value"] for r in self.refunds.values()
                   if r["paymentPspReference"] == payment_psp and r.get("outcome") == "success")


kit: StandIn[AdyenState] = StandIn(
    "adyen", "", AdyenState, auth=HeaderToken("X-API-Key", _unauthorized, attr="api_key"),
    error_body=lambda status: error_body(status, "905", "Payment details are not supported", "configuration"),
    webhook_admin=True, redeliver=post)


def idempotent(call: Call[AdyenState], status: int, create: Any) -> Response:
    """``create()`` once per ``Idempotency-Key`` (under the account lock); the answer echoes the key."""
    key = call.request.headers.get("Idempotency-Key")
    echo = {"Idempotency-Key": key} if key else None
    with call.state.lock:
        saved, _same = call.state.replays.lookup(key, "")
        if saved is not None:
            body, status = saved.body, saved.status
        else:
            body = create()
            if isinstance(body, Response):
                return call.answer(body)
            call.state.replays.save(key, "", status, body)
    return call.reply(body, status, echo)


def signature(item: dict[str, Any], hmac_key: str) -> str:
    values = {**item, "value": item["amount"]["value"], "currency": item["amount"]["currency"]}
    payload = ":".join(str(values.get(name) or "").replace("\\", "\\\\").replace(":", "\\:") for name in SIGNED)
    digest = hmac.new(binascii.a2b_hex(hmac_key), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def notify(state: AdyenState, item: dict[str, Any]) -> list[dict[str, Any]]:
    """One signed notification item to every endpoint; each record says whether it was ``[accepted]``."""
    records = []
    for endpoint in list(state.endpoints):
        key = endpoint.get("secret") or state.hmac_key
        signed = {**item, "additionalData": {**item.get("additionalData", {}), "hmacSignature": signature(item, key)}}
        body = json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": signed}]}).encode()
        headers = {"Content-Type": "application/json"}
        try:
            answer = requests.post(endpoint["url"], data=body, headers=headers, timeout=5)
            status, accepted = answer.status_code, answer.text.strip() == "[accepted]"
        except requests.RequestException as exc:
            status, accepted = f"error: {exc.__class__.__name__}", False  # type: ignore[assignment]
        record = {"topic": item["eventCode"], "event_id": item["pspReference"], "address": endpoint["url"],
                  "status": status, "accepted": accepted, "body": body.decode(), "headers": headers}
        state.deliveries.append(record)
        records.append(record)
    return records


def item(state: AdyenState, event: str, psp: str, original: str, reference: str, amount: dict[str, Any],
         success: bool = True, reason: str = "", **extra: str) -> dict[str, Any]:
    """A NotificationRequestItem (unsigned)."""
    return {"additionalData": dict(extra), "amount": dict(amount), "eventCode": event,
            "eventDate": state.now().isoformat(), "merchantAccountCode": state.merchant,
            "merchantReference": reference, "originalReference": original, "paymentMethod": "visa",
            "pspReference": psp, "reason": reason, "success": "true" if success else "false"}


def process_refunds(state: AdyenState) -> list[dict[str, Any]]:
    """Decide every received refund (a refund over what the payment has left fails) and give the
    REFUND items to send; called under the lock, sent outside it."""
    items = []
    for refund in state.refunds.values():
        if refund.get("outcome"):
            continue
        payment = state.payments[refund["paymentPspReference"]]
        left = payment["amount"]["value"] - state.refunded(payment["pspReference"])
        ok = refund["amount"]["value"] <= left
        refund["outcome"] = "success" if ok else "failed"
        items.append(item(state, "REFUND", refund["pspReference"], payment["pspReference"], refund["reference"],
                          refund["amount"], ok, "" if ok else "Insufficient balance on payment"))
    return items
