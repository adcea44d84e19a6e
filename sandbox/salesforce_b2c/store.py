"""The B2C Commerce stand-in's declarations: the instance's state, Account Manager, auth, limit, faults.

* Account Manager (https://documentation.b2c.commercecloud.salesforce.com/DOC2/topic/com.demandware.dochelp/OCAPI/current/usage/OAuth.html):
  ``POST /dwsso/oauth2/access_token``, HTTP Basic ``client_id:secret``, form
  ``grant_type=client_credentials`` → ``{access_token, scope, token_type: "Bearer", expires_in: 1799}``;
  a wrong client or secret → 401 ``{"error": "invalid_client", "error_description": "Client
  authentication failed"}``, another grant → 400 ``unsupported_grant_type`` (the error bodies are
  OAuth 2.0's, RFC 6749 §5.2; their wording here is **assumed**). Tokens lapse on the instance's clock.
* OCAPI faults (https://sfcclearning.com/infocenter/OCAPI/current/data/Documents/Fault.php):
  ``{"_v", "fault": {"type", "message", "arguments"?}}`` for every status ≥ 400. The types of the
  401 (``InvalidAccessTokenException``), 403 (``ClientAccessForbiddenException``: a resource the
  client's OCAPI settings do not list) and 429 (``TooManyRequestsException``) and their messages are
  **assumed**; 404 ``InventoryListNotFoundException`` with ``inventoryListId`` is the reference's.
* Rate limit: B2C Commerce APIs answer 429 once a client is over its limit
  (https://developer.salesforce.com/docs/commerce/commerce-api/guide/throttle-rates.html); OCAPI
  publishes no figure, so this is a window per instance (roomy by default) answered 429 with
  ``Retry-After`` in seconds.
"""
from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.limits import PerWindow, Window

V = "23.2"
CLIENT_ID, CLIENT_SECRET = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "sfcc_sandbox_secret"
Record = dict[str, Any]


def stamp(when: datetime | None) -> str | None:
    """OCAPI's date format: ``2026-12-03T17:52:59.000Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z") if when is not None else None


def fault(kind: str, message: str, **arguments: Any) -> Record:
    return {"_v": V, "fault": {"type": kind, "message": message, **({"arguments": arguments} if arguments else {})}}


@dataclass
class InstanceState(KitState):
    """One B2C Commerce instance: its API client, inventory lists (records per product) and orders."""

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    token_lifetime_s: int = 1799
    tokens: dict[str, datetime] = field(default_factory=dict)
    token_requests: list[Record] = field(default_factory=list)
    window: Window = field(default_factory=lambda: Window(limit=10_000, seconds=60.0))
    #: ``"PATCH product_inventory_records"``: method and a part of the path the client may not use.
    denied: list[str] = field(default_factory=list)
    lists: dict[str, Record] = field(default_factory=dict)
    orders: list[Record] = field(default_factory=list)
    next_order: int = 1000

    def records(self, list_id: str) -> dict[str, Record]:
        return self.lists[list_id]["records"]

    def by_sku(self, sku: str) -> tuple[str, str] | None:
        return next(((lid, sku) for lid, inv in self.lists.items() if sku in inv["records"]), None)



def record_json(state: InstanceState, list_id: str, rec: Record) -> Record:
    """The ProductInventoryRecord document; ``stock_level`` and ``ats`` are computed as the reference says."""
    level = rec["allocation"] - rec["turnover"]
    return {"_type": "product_inventory_record", "allocation": {"amount": rec["allocation"],
                                                                "reset_date": stamp(rec["reset_date"])},
            "ats": max(0, level + rec["pboa"]), "stock_level": level, "creation_date": stamp(rec["created"]),
            "in_stock_date": stamp(rec["in_stock_date"]), "inventory_list_id": list_id,
            "inventory_turnover": rec["turnover"], "last_modified": stamp(rec["modified"]),
            "perpetual_flag": rec["perpetual"], "pre_order_back_order_allocation": rec["pboa"],
            "pre_order_back_order_handling": rec["handling"], "product_id": rec["product_id"],
            "product_name": rec["name"], "quantity_on_order": 0}


def bearer(call: Call[InstanceState]) -> JSONResponse | None:
    """A token Account Manager issued to this instance's client, not yet lapsed; and a resource the
    client's OCAPI settings allow."""
    state = call.state
    token = call.request.headers.get("Authorization", "").removeprefix("Bearer ")
    if state.tokens.get(token, datetime.min.replace(tzinfo=state.now().tzinfo)) <= state.now():
        return JSONResponse(fault("InvalidAccessTokenException", "The request is unauthorized: the access token "
                                  "is invalid or has expired."), 401)
    asked = f"{call.request.method} {call.request.url.path}"
    if any(all(part in asked for part in rule.split()) for rule in state.denied):
        return JSONResponse(fault("ClientAccessForbiddenException", f"Access to resource '{asked}' is not allowed "
                                  f"for client id '{state.client_id}'."), 403)
    return None


kit: StandIn[InstanceState] = StandIn(
    "salesforce_b2c", "/s", InstanceState, auth=bearer,
    error_body=lambda status: fault("InternalServerErrorException", "An internal error occurred."),
    limit=PerWindow(lambda: fault("TooManyRequestsException", "Too many requests: the rate limit is exceeded.")),
    clock_view=lambda now: {"now": stamp(now)})
account_manager = APIRouter(prefix="/salesforce_b2c/{instance}/dwsso/oauth2")


@account_manager.post("/access_token")
async def access_token(instance: str, request: Request) -> JSONResponse:
    """Account Manager's client credentials grant (Basic auth, form body)."""
    state = kit.instances(request.app).get(instance)
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    header = request.headers.get("Authorization", "")
    try:
        client, _, secret = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    except ValueError:
        client, secret = "", ""
    with state.lock:
        state.token_requests.append({"client_id": client, **form, "at": stamp(state.now())})
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if not header.startswith("Basic ") or (client, secret) != (state.client_id, state.client_secret):
            return JSONResponse({"error_description": "Client authentication failed", "error": "invalid_client"}, 401)
        token = secrets.token_urlsafe(24)
        state.tokens[token] = state.now() + timedelta(seconds=state.token_lifetime_s)
        return JSONResponse({"access_token": token, "scope": "mail tenantFilter openId roles", "token_type": "Bearer",
                             "expires_in": state.token_lifetime_s})
