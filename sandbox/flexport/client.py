"""The Flexport stand-in's declarations: one client's shipments, legs and events, its credentials and
tokens, the API's envelope and errors, and signed webhook delivery.

Every milestone is an Event kept in the client's list (``GET /events`` pages through it) and POSTed
to each webhook endpoint set up in the admin (Flexport's Settings), signed ``X-Hub-Signature-256:
sha256=<hex HMAC-SHA256 of the body>`` (and the SHA-1 ``X-Hub-Signature`` beside it) with the
endpoint's secret token (https://apidocs.flexport.com/v2/tag/Webhook-Endpoints/). The error envelope
and the 100-a-minute limit with ``Retry-After`` are this stand-in's assumptions: the public pages
show neither.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.limits import Window, WindowLimit
from sandbox.kit.webhooks import post, send

DEFAULT_API_KEY, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET = "fx_sandbox_key", "fx_client", "fx_client_secret"
TOKENS_PER_DAY = 10
#: Admin milestone names → event types (https://apidocs.flexport.com/v2/tag/Milestones/; the last three
#: are this stand-in's names for events the product acts on).
MILESTONES = {"schedule_confirmed": "/shipment#schedule_confirmed", "departed": "/shipment_leg#departed",
              "arrived": "/shipment_leg#arrived", "out_for_delivery": "/shipment_leg#out_for_delivery",
              "delivered": "/shipment#delivered_in_full", "exception": "/shipment#exception",
              "returned": "/shipment#returned"}


@dataclass
class ClientState(KitState):
    api_key: str = DEFAULT_API_KEY
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    tokens: dict[str, float] = field(default_factory=dict)
    token_requests: int = 0
    window: Window = field(default_factory=lambda: Window(100))
    shipments: dict[int, dict[str, Any]] = field(default_factory=dict)
    legs: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 2983


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_iso(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"_object": "/api/response", "version": 2,
            "error": {"_object": "/api/error", "status": status, "code": code, "message": message}}


def envelope(call: Call[Any], data: Any) -> dict[str, Any]:
    return {"_object": "/api/response", "self": str(call.request.url), "version": 2, "data": data}


def check_auth(call: Call[ClientState]) -> JSONResponse | None:
    """Bearer API key or an unexpired issued token; the ``Flexport-Version`` header on every call."""
    if call.request.url.path.endswith("/oauth/token"):
        return None
    token = call.request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token != call.state.api_key and call.state.tokens.get(token, 0) <= time.time():
        return JSONResponse(error(401, "unauthorized", "Invalid or expired API key or token"), status_code=401)
    if not call.request.headers.get("Flexport-Version"):
        return JSONResponse(error(400, "missing_version", "The Flexport-Version header is required"), status_code=400)
    return None


def issue_token(state: ClientState, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``POST /oauth/token``: a 24-hour token for the right client id and secret, 10 a day."""
    if body.get("grant_type") != "client_credentials" or (body.get("client_id"), body.get("client_secret")) != (
            state.client_id, state.client_secret):
        return 401, {"error": "access_denied", "error_description": "Unauthorized"}
    if state.token_requests >= TOKENS_PER_DAY:
        return 429, {"error": "too_many_requests", "error_description": "Token request limit reached for today"}
    state.token_requests += 1
    token = f"eyJ.{secrets.token_urlsafe(24)}"
    state.tokens[token] = time.time() + 86_400
    return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 86_400, "scope": ""}


def shipment_ref(shipment: dict[str, Any]) -> dict[str, Any]:
    return {"_object": "/api/refs/object", "ref_type": "/shipment", "id": shipment["id"]}


def add_event(state: ClientState, kind: str, shipment: dict[str, Any], when: datetime, place: str) -> dict[str, Any]:
    """Keep one milestone and POST it, signed, to every endpoint; the delivery records."""
    state.next_id += 1
    leg = next((leg for leg in state.legs.values() if leg["shipment"]["id"] == shipment["id"]), None)
    resource = leg if kind.startswith("/shipment_leg") and leg else shipment
    shipment["updated_at"] = iso(when)
    event = {"_object": "/event", "id": state.next_id, "version": 2, "created_at": iso(when), "occurred_at": iso(when),
             "type": kind, "data": {"_object": "/shipment_event_data", "resource": resource, "shipment": shipment,
                                    "location": {"_object": "/network/place", "name": place}}}
    state.events.append(event)
    body = json.dumps(event).encode()
    for hook in list(state.webhooks):
        digest = hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
        sha1 = hmac.new(hook["secret"].encode(), body, hashlib.sha1).hexdigest()
        send(state, hook, kind, body, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}",
                                       "X-Hub-Signature": f"sha1={sha1}"}, event_id=event["id"])
    return event


def age(state: ClientState, shipment: dict[str, Any], days: float) -> None:
    """The shipment and each of its events happened ``days`` earlier."""
    shift = timedelta(days=days)
    shipment["created_date"] = iso(read_iso(shipment["created_date"]) - shift)
    for event in state.events:
        if event["data"]["shipment"]["id"] == shipment["id"]:
            event["occurred_at"] = iso(read_iso(event["occurred_at"]) - shift)


def subscribe(state: ClientState, payload: dict[str, Any]) -> dict[str, Any]:
    """An endpoint as set up in Settings: ``{url, secret}`` (Flexport has no API call for it)."""
    hook = {"id": len(state.webhooks) + 1, "address": payload["url"], "secret": payload["secret"], "topics": ["*"]}
    state.webhooks.append(hook)
    return {"webhook": hook}


kit: StandIn[ClientState] = StandIn(
    "flexport", "", ClientState, auth=check_auth, error_body=lambda status: error(status, "server_error", "Internal"),
    limit=WindowLimit(lambda: error(429, "too_many_requests", "Rate limit exceeded")), webhook_admin=True, redeliver=post, subscribe=subscribe)
