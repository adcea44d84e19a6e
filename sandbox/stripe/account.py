"""The Stripe stand-in's declarations: the account's state, its error body, idempotent POSTs and
signed events.

* Auth: ``Authorization: Bearer sk_…`` (the secret key; Stripe also takes it as the Basic user
  name): a wrong or missing key → 401 ``{"error": {"type": "invalid_request_error", "message":
  "Invalid API Key provided: …"}}`` (https://docs.stripe.com/api/authentication,
  https://docs.stripe.com/api/errors).
* Errors: ``{"error": {"type", "code", "message", "param"}}`` with a ``Request-Id`` header.
* Idempotency (https://docs.stripe.com/idempotency): every POST may carry ``Idempotency-Key``; the
  first status and body are saved once the endpoint starts executing (a request whose parameters
  fail validation saves nothing); the same key with the same parameters answers the saved result
  with ``Idempotent-Replayed: true``; with other parameters → 400 ``idempotency_error``.
* Events: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">`` keyed with the
  endpoint's ``whsec_`` secret (https://docs.stripe.com/webhooks#verify-manually).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse, Response

from sandbox.kit import Call, StandIn
from sandbox.kit.auth import BearerToken
from sandbox.kit.fixtures import Fixtures
from sandbox.kit.payments import PaymentState, fingerprint, parse_form
from sandbox.kit.webhooks import post

DEFAULT_KEY = "sk_test_sandbox"
fixture = Fixtures(__file__)


def error_body(kind: str, message: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **({"code": code} if code else {}),
                      **({"param": param} if param else {})}}


def _unauthorized() -> JSONResponse:
    return JSONResponse(error_body("invalid_request_error", "Invalid API Key provided: sk_test_****"),
                        status_code=401, headers={"WWW-Authenticate": 'Bearer realm="Stripe"'})


class Refused(Exception):
    """An answer in Stripe's error format; ``saved`` when the endpoint had begun executing."""

    def __init__(self, status: int, body: dict[str, Any], saved: bool = True) -> None:
        super().__init__(status)
        self.status, self.body, self.saved = status, body, saved


def invalid(message: str, param: str | None = None, code: str | None = None, saved: bool = False) -> Refused:
    return Refused(400, error_body("invalid_request_error", message, code, param), saved)


def missing(name: str) -> Refused:
    return Refused(404, error_body("invalid_request_error", f"No such {name}", "resource_missing"), False)


@dataclass
class StripeState(PaymentState):
    key: str = DEFAULT_KEY
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, str] = field(default_factory=dict)  # payment_intent → its charge
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def unix(self) -> int:
        return int(self.now().timestamp())

    def charge_for(self, params: dict[str, Any]) -> dict[str, Any]:
        charge_id = params.get("charge") or self.intents.get(str(params.get("payment_intent")))
        if not charge_id or charge_id not in self.charges:
            raise (invalid("One of `charge` or `payment_intent` is required.") if not params.get("charge")
                   and not params.get("payment_intent") else
                   missing(f"charge: '{params.get('charge') or params.get('payment_intent')}'"))
        return self.charges[charge_id]


kit: StandIn[StripeState] = StandIn(
    "stripe", "/v1", StripeState, auth=BearerToken(_unauthorized, attr="key"),
    error_body=lambda status: error_body("api_error", "An unknown error occurred on Stripe's side."),
    clock_view=lambda now: {"now": int(now.timestamp())}, webhook_admin=True, redeliver=post)


def answer(call: Call[StripeState], handler: Callable[[dict[str, Any]], tuple[int, Any]]) -> Response:
    """Run a POST under the account lock, idempotently: the saved answer for a key already used, a
    400 ``idempotency_error`` for other parameters under it, else the handler's answer (saved)."""
    params = parse_form(call.raw)
    key = call.request.headers.get("Idempotency-Key")
    call.headers["Request-Id"] = f"req_{call.state.sequence + 1:014d}"
    print_ = fingerprint(call.request.method, call.request.url.path, params)
    with call.state.lock:
        saved, same = call.state.replays.lookup(key, print_)
        if saved is not None and not same:
            return call.reply(error_body("idempotency_error", f"Keys for idempotent requests can only be used with the "
                                         f"same parameters they were first used with. Try using a key other than "
                                         f"'{key}' if you meant to execute a different request."), 400)
        if saved is not None:
            return call.reply(saved.body, saved.status, {"Idempotent-Replayed": "true", "Idempotency-Key": str(key)})
        try:
            status, body = handler(params)
        except Refused as refused:
            if refused.saved:
                call.state.replays.save(key, print_, refused.status, refused.body)
            return call.reply(refused.body, refused.status)
        call.state.replays.save(key, print_, status, body)
    return call.reply(body, status, {"Idempotency-Key": key} if key else None)


def read(call: Call[StripeState], find: Callable[[StripeState], dict[str, Any] | None], name: str) -> Response:
    call.headers["Request-Id"] = f"req_{call.state.sequence + 1:014d}"
    with call.state.lock:
        found = find(call.state)
        body = json.loads(json.dumps(found)) if found is not None else None
    return call.reply(body) if body is not None else call.reply(missing(name).body, 404)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def send_event(state: StripeState, kind: str, obj: dict[str, Any]) -> list[dict[str, Any]]:
    """An event of ``kind`` about ``obj`` to every endpoint, signed with its secret at the account's time."""
    event = fixture.fill("event", id=state.new_id("evt_"), created=state.unix(), object=obj, type=kind)
    body = json.dumps(event).encode()
    records = []
    for endpoint in list(state.endpoints):
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(endpoint["secret"], state.unix(), body)}
        record = {"topic": kind, "event_id": event["id"], "address": endpoint["url"],
                  "status": post(endpoint["url"], body, headers), "body": body.decode(), "headers": headers}
        state.deliveries.append(record)
        records.append(record)
    return records
