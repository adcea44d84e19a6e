"""The QuickBooks Online stand-in's declarations: one company (realm) per instance, its app's OAuth
tokens, its throttle, its webhooks, and the kit.

* OAuth 2.0 (https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0):
  ``POST /oauth2/v1/tokens/bearer`` with HTTP Basic ``client_id:client_secret`` and the form
  ``grant_type=refresh_token&refresh_token=…`` answers ``{"access_token", "expires_in": 3600,
  "refresh_token", "x_refresh_token_expires_in", "token_type": "bearer"}``. Each refresh here answers a
  **new** refresh token and the one sent stops working (``400 {"error": "invalid_grant"}``): the
  strictest reading of "always store the latest refresh token", so a client that loses a rotated
  token is caught. A wrong client is ``401 {"error": "invalid_client"}``.
* The API wants ``Authorization: Bearer`` with a live access token, else 401 with a ``Fault`` of type
  ``AUTHENTICATION`` (code 3200, wording **assumed**).
* Throttle (https://developer.intuit.com/app/developer/qbo/docs/learn/limits-and-throttles): 500 requests
  a minute per realm, then 429 with ``{"Fault": {"Error": [{"Message": "message=ThrottleExceeded;
  errorCode=003001; statusCode=429", "Detail": "The request limit was reached.", "code": "3001"}],
  "type": "ThrottleExceeded"}}`` and no ``Retry-After`` (the docs say: wait 60 s).
* Webhooks (https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks/managing-webhooks-notifications):
  the body signed in ``intuit-signature`` (base64 HMAC-SHA256 with the app's verifier token), either the
  classic ``eventNotifications`` body or the CloudEvents array (``webhook_format``).
"""
from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.standin import Answer
from sandbox.kit.webhooks import hmac_sha256_b64, send

DEFAULTS = {"client_id": "qbo-sandbox-client", "client_secret": "qbo-sandbox-secret",
            "refresh_token": "AB11-first-refresh-token", "verifier_token": "qbo-verifier-token"}


def stamp(when: datetime) -> str:
    """QuickBooks writes times with the company's offset; the stand-in's company is on UTC."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def fault(kind: str, code: str, message: str, detail: str = "", element: str = "") -> dict[str, Any]:
    return {"Fault": {"Error": [{"Message": message, "Detail": detail, "code": code, "element": element}],
                      "type": kind}, "time": stamp(datetime.now(timezone.utc))}


@dataclass
class RealmState(KitState):
    """One ``{instance}``: a company whose realm id is the instance name unless seeded otherwise."""

    realm_id: str = ""
    client_id: str = DEFAULTS["client_id"]
    client_secret: str = DEFAULTS["client_secret"]
    verifier_token: str = DEFAULTS["verifier_token"]
    token_lifetime_s: int = 3600
    rate_limit: int = 500
    window_start: float = field(default_factory=time.time)
    window_used: int = 0
    refresh_tokens: set[str] = field(default_factory=lambda: {DEFAULTS["refresh_token"]})
    access_tokens: dict[str, float] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    purchase_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    answered: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    webhook_format: str = "classic"
    next_id: int = 1

    def __post_init__(self) -> None:
        self.realm_id = self.realm_id or self.name

    def new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def touch(self, record: dict[str, Any], created: bool = False) -> dict[str, Any]:
        meta = record.setdefault("MetaData", {})
        if created:
            meta["CreateTime"] = stamp(self.now())
        meta["LastUpdatedTime"] = stamp(self.now())
        record["SyncToken"] = str(int(record.get("SyncToken", "-1")) + 1)
        return record

    def entity_events(self, name: str, ids: list[str], operation: str = "Update") -> list[dict[str, Any]]:
        """Deliver a change of ``name`` records to every webhook endpoint, in the configured format."""
        if self.webhook_format == "cloudevents":
            payload: Any = [{"specversion": "1.0", "id": str(uuid.uuid4()), "source": f"intuit.{secrets.token_hex(8)}",
                             "type": f"qbo.{name.lower()}.{operation.lower()}d.v1",
                             "datacontenttype": "application/json", "time": stamp(self.now()),
                             "intuitentityid": ident, "intuitaccountid": self.realm_id, "data": {}} for ident in ids]
        else:
            payload = {"eventNotifications": [{"realmId": self.realm_id, "dataChangeEvent": {"entities": [
                {"name": name, "id": ident, "operation": operation, "lastUpdated": stamp(self.now())} for ident in ids]}}]}
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "intuit-signature": hmac_sha256_b64(self.verifier_token, body)}
        return [send(self, hook, name, body, headers) for hook in list(self.webhooks)]


def authorized(call: Call[RealmState]) -> JSONResponse | None:
    """A live access token, on this company's realm."""
    state, header = call.state, call.request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    with state.lock:
        expires = state.access_tokens.get(token)
    if expires is None or expires < time.time():
        return JSONResponse(fault("AUTHENTICATION", "3200", "message=AuthenticationFailed; errorCode=003200; "
                                  "statusCode=401", "Token expired or invalid"), status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="Intuit"'})
    if call.request.path_params.get("realm_id") != state.realm_id:
        return JSONResponse(fault("AUTHORIZATION", "3100", "message=ApplicationAuthorizationFailed; errorCode=003100;"
                                  " statusCode=403"), status_code=403)
    return None


class PerRealmMinute:
    """500 requests a minute per realm; over it, 429 ``ThrottleExceeded`` without ``Retry-After``."""

    def check(self, call: Call[RealmState]) -> dict[str, str]:
        state = call.state
        with state.lock:
            if time.time() - state.window_start >= 60:
                state.window_start, state.window_used = time.time(), 0
            state.window_used += 1
            over = state.window_used > state.rate_limit
        if over:
            call.entry["status"] = 429
            raise Answer(JSONResponse(fault("ThrottleExceeded", "3001", "message=ThrottleExceeded; errorCode=003001; "
                                            "statusCode=429", "The request limit was reached."), status_code=429))
        return {"intuit_tid": uuid.uuid4().hex}


kit: StandIn[RealmState] = StandIn(
    "quickbooks", "/v3/company/{realm_id}", RealmState, auth=authorized,
    error_body=lambda status: fault("SystemFault", "10000", "An application error has occurred while processing "
                                    "your request"), limit=PerRealmMinute(), webhook_admin=True,
    clock_view=lambda now: {"now": stamp(now)})
tokens = APIRouter(prefix="/quickbooks/{instance}/oauth2/v1/tokens")


def oauth_error(error: str, status: int) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


@tokens.post("/bearer")
async def bearer(instance: str, request: Request) -> JSONResponse:
    """The refresh-token grant: a new access token and a new refresh token; the old one is spent."""
    state = kit.instances(request.app).get(instance)
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    try:
        client_id, _, secret = base64.b64decode(request.headers.get("authorization", "")[6:]).decode().partition(":")
    except ValueError:
        client_id, secret = "", ""
    with state.lock:
        sent = form.get("refresh_token", "")
        state.token_requests.append({"grant_type": form.get("grant_type"), "refresh_token": sent,
                                     "client_id": client_id, "accepted": False})
        if (client_id, secret) != (state.client_id, state.client_secret):
            return oauth_error("invalid_client", 401)
        if form.get("grant_type") != "refresh_token":
            return oauth_error("unsupported_grant_type", 400)
        if sent not in state.refresh_tokens:
            return oauth_error("invalid_grant", 400)
        state.refresh_tokens.discard(sent)
        fresh, access = f"AB11-{secrets.token_urlsafe(24)}", f"eyJ.{secrets.token_urlsafe(32)}"
        state.refresh_tokens.add(fresh)
        state.access_tokens[access] = time.time() + state.token_lifetime_s
        state.token_requests[-1]["accepted"] = True
    return JSONResponse({"token_type": "bearer", "access_token": access, "expires_in": state.token_lifetime_s,
                         "refresh_token": fresh, "x_refresh_token_expires_in": 8_726_400})
