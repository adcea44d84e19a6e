"""The PayPal stand-in's declarations: the merchant's state, OAuth tokens, the error body and signed
webhook transmissions.

* Auth (https://developer.paypal.com/api/rest/authentication/): ``POST /v1/oauth2/token`` with
  Basic ``client_id:secret`` and ``grant_type=client_credentials`` → ``{scope, access_token,
  token_type: "Bearer", app_id, expires_in, nonce}``; bad credentials → 401 ``{"error":
  "invalid_client", "error_description": "Client Authentication failed"}``. Every other call takes
  ``Authorization: Bearer``; an unknown or expired token → 401 ``AUTHENTICATION_FAILURE``.
  ``token_ttl_s`` (admin) shortens ``expires_in`` so a test sees a token expire.
* Errors (https://developer.paypal.com/api/rest/responses/): ``{name, message, debug_id,
  details: [{issue, description}], links}``.
* Webhooks (https://developer.paypal.com/api/rest/webhooks/rest/): headers
  ``PAYPAL-TRANSMISSION-ID``, ``-TIME``, ``-SIG``, ``PAYPAL-CERT-URL``, ``PAYPAL-AUTH-ALGO``
  (SHA256withRSA); the signature is RSA over ``<transmission id>|<time>|<webhook id>|<CRC32 of
  the body>`` with the key behind the cert URL, checked by ``verify-webhook-signature``.
"""
from __future__ import annotations

import base64
import json
import uuid
import zlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi.responses import JSONResponse

from sandbox.kit import Call, StandIn
from sandbox.kit.auth import basic_credentials
from sandbox.kit.fixtures import Fixtures
from sandbox.kit.payments import PaymentState
from sandbox.kit.webhooks import post

DEFAULT_CLIENT_ID = "paypal-sandbox-client"
DEFAULT_SECRET = "paypal-sandbox-secret"
DEFAULT_WEBHOOK_ID = "WH-SANDBOX-1"
fixture = Fixtures(__file__)
INFORMATION = [{"href": "https://developer.paypal.com/api/rest/reference/orders/v2/errors/", "rel": "information_link"}]


def error_body(name: str, message: str, issue: str | None = None, description: str = "") -> dict[str, Any]:
    details = [{"issue": issue, "description": description}] if issue else []
    return {"name": name, "message": message, "debug_id": uuid.uuid4().hex[:13], "details": details,
            "links": INFORMATION}


UNPROCESSABLE = "The requested action could not be performed, semantically incorrect, or failed business validation."
NOT_FOUND = ("RESOURCE_NOT_FOUND", "The specified resource does not exist.", "INVALID_RESOURCE_ID",
             "Specified resource ID does not exist. Please check the resource ID and try again.")


@cache
def signing_key() -> rsa.RSAPrivateKey:
    """The stand-in's webhook signing key (one per process; its public half is the cert)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem() -> str:
    return signing_key().public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def signed_string(transmission_id: str, time: str, webhook_id: str, body: bytes) -> bytes:
    return f"{transmission_id}|{time}|{webhook_id}|{zlib.crc32(body)}".encode()


def signature_valid(signature: str, message: bytes) -> bool:
    try:
        signing_key().public_key().verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    return True


@dataclass
class PayPalState(PaymentState):
    client_id: str = DEFAULT_CLIENT_ID
    secret: str = DEFAULT_SECRET
    token_ttl_s: int = 32400
    tokens: dict[str, float] = field(default_factory=dict)  # token → expiry (the instance's clock, unix)
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_request_id: dict[str, str] = field(default_factory=dict)  # PayPal-Request-Id → refund id

    def unix(self) -> float:
        return self.now().timestamp()

    def stamp(self) -> str:
        return self.now().isoformat().replace("+00:00", "Z")


def authenticate(call: Call[PayPalState]) -> JSONResponse | None:
    state = call.state
    if call.request.url.path.endswith("/v1/oauth2/token"):
        user, password = basic_credentials(call.request)
        if (user, password) == (state.client_id, state.secret):
            return None
        return JSONResponse({"error": "invalid_client", "error_description": "Client Authentication failed"}, 401)
    header = call.request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    if state.tokens.get(token, 0) > state.unix():
        return None
    return JSONResponse({"name": "AUTHENTICATION_FAILURE", "message": "Authentication failed due to invalid "
                         "authentication credentials or a missing Authorization header.", "links": INFORMATION}, 401)


kit: StandIn[PayPalState] = StandIn(
    "paypal", "", PayPalState, auth=authenticate,
    error_body=lambda status: error_body("INTERNAL_SERVER_ERROR", "An internal server error occurred."),
    clock_view=lambda now: {"now": now.isoformat()}, webhook_admin=True, redeliver=post)


def send_event(state: PayPalState, base: str, kind: str, resource: dict[str, Any], summary: str) -> list[dict[str, Any]]:
    """``kind`` about ``resource`` to every endpoint, with PayPal's transmission headers."""
    event = fixture.fill("event", id=f"WH-{uuid.uuid4().hex[:17].upper()}", now=state.stamp(), type=kind,
                         summary=summary, resource=resource, base=base)
    body = json.dumps(event).encode()
    records = []
    for endpoint in list(state.endpoints):
        tid, when = str(uuid.uuid1()), state.stamp()
        message = signed_string(tid, when, endpoint.get("webhook_id", DEFAULT_WEBHOOK_ID), body)
        sig = base64.b64encode(signing_key().sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
        headers = {"Content-Type": "application/json", "PAYPAL-TRANSMISSION-ID": tid, "PAYPAL-TRANSMISSION-TIME": when,
                   "PAYPAL-TRANSMISSION-SIG": sig, "PAYPAL-AUTH-ALGO": "SHA256withRSA",
                   "PAYPAL-CERT-URL": f"{base}/v1/notifications/certs/CERT-sandbox"}
        record = {"topic": kind, "event_id": event["id"], "address": endpoint["url"],
                  "status": post(endpoint["url"], body, headers), "body": body.decode(), "headers": headers}
        state.deliveries.append(record)
        records.append(record)
    return records
