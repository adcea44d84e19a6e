"""The OCI stand-in's declarations: a tenant group's state, Account Manager with scopes, auth, limit, errors.

* Account Manager (``POST /dwsso/oauth2/access_token``, HTTP Basic, form ``grant_type=client_credentials``
  and ``scope``): the scope must name the tenant, ``SALESFORCE_COMMERCE_API:{tenantId}``, else 400
  ``{"error": "invalid_scope", "error_description": "Unknown/invalid tenant scope: …"}`` (the answer
  B2C Commerce gives, quoted in public client code); the API scopes asked are kept on the token
  (https://developer.salesforce.com/docs/commerce/commerce-api/guide/authorization-for-admin-apis.html ).
  Tokens lapse after ``expires_in`` (1799 s) on the instance's clock.
* A call without a live token → 401 RFC 7807 ``unauthorized``; a token without the endpoint's scope
  (``sfcc.inventory.availability`` to read, ``.rw`` to write) → 403 ``forbidden``; another tenant
  group in the path → 403 ``TenantNotProvisioned`` (the bodies of the public RAML, version 1.1.14:
  https://github.com/SalesforceCommerceCloud/commerce-sdk/tree/7c3c43dc/testIntegration/stagingApis/inventory/inventory-availability ).
* Rate limit: OCI answers 429 with ``Retry-After`` in seconds and the RFC 7807 ``too-many-requests``
  body (the RAML's ``RateLimited`` traits); OCI publishes no figure, so a roomy window per instance.
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
from sandbox.kit.limits import Window, WindowLimit

CLIENT_ID, CLIENT_SECRET = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "oci_sandbox_secret"
TENANT_ID, TENANT_GROUP = "zzxy_prd", "zzxy-tenant-group"
READ, WRITE = "sfcc.inventory.availability", "sfcc.inventory.availability.rw"
PROBLEMS = "https://api.commercecloud.salesforce.com/documentation/error/v1/errors/"
Record = dict[str, Any]


def problem(kind: str, title: str, detail: str) -> Record:
    return {"type": PROBLEMS + kind, "title": title, "detail": detail}


def oci_error(code: str, message: str, **extra: Any) -> Record:
    return {"type": "about:blank", "errorCode": code, "message": message, **extra}


@dataclass
class TenantState(KitState):
    """One OCI tenant group: its API client, locations (SKU → figures), groups and the change log."""

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    tenant_id: str = TENANT_ID
    tenant_group: str = TENANT_GROUP
    token_lifetime_s: int = 1799
    #: How long a delta token is taken (23.5 hours, the Impex API reference).
    delta_lifetime_s: int = 84_600
    #: Changes one get-deltas answer carries at most (then ``shouldQueryAgain``).
    delta_page: int = 500
    tokens: dict[str, tuple[datetime, frozenset[str]]] = field(default_factory=dict)
    token_requests: list[Record] = field(default_factory=list)
    window: Window = field(default_factory=lambda: Window(limit=10_000, seconds=60.0))
    locations: dict[str, dict[str, Record]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    #: Every change as (location, sku, deleted); a delta token is a position in it.
    changes: list[tuple[str, str, bool]] = field(default_factory=list)
    delta_tokens: dict[str, Record] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)

    def figures(self, place: str, kind: str, sku: str) -> Record | None:
        """A SKU's record at a location, or summed over a group's locations (None: stocked nowhere there)."""
        rows = [self.locations[loc][sku] for loc in (self.groups[place] if kind == "group" else [place])
                if sku in self.locations.get(loc, {})]
        if not rows:
            return None
        total = {k: sum(r[k] for r in rows) for k in ("onHand", "reserved", "safetyStockCount")}
        futures = sorted((f for r in rows for f in r["futures"]), key=lambda f: f["expectedDate"])
        on_order = sum(f["quantity"] for f in futures)
        atf = sum(max(0, r["onHand"] - r["reserved"] - r["safetyStockCount"]) for r in rows)  # per location
        return {"sku": sku, **total, "atf": atf, "ato": atf + on_order, "futures": futures,
                "effectiveDate": max(r["effectiveDate"] for r in rows)}

    def change(self, location: str, sku: str, deleted: bool = False) -> None:
        self.changes.append((location, sku, deleted))


def bearer(call: Call[TenantState]) -> JSONResponse | None:
    """A live token whose scopes cover the endpoint, for this tenant group."""
    state, request = call.state, call.request
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    expires, scopes = state.tokens.get(token, (datetime.min.replace(tzinfo=state.now().tzinfo), frozenset()))
    if expires <= state.now():
        return JSONResponse(problem("unauthorized", "Unauthorized", "Your access token is invalid or expired and "
                                    "can't be used to identify an API client or user."), 401)
    needed = WRITE if request.url.path.endswith("/batch-update") else READ
    if not {needed, WRITE} & scopes:
        return JSONResponse(problem("forbidden", "Forbidden", "Your access token is valid, but you don't have "
                                    f"the required permissions to access the resource ({needed})."), 403)
    if request.path_params.get("org") != state.tenant_group:
        return JSONResponse(oci_error("TenantNotProvisioned", "The client is not correctly configured to access "
                                      "the system."), 403)
    return None


kit: StandIn[TenantState] = StandIn(
    "salesforce_oci", "/inventory/availability/v1", TenantState, auth=bearer,
    error_body=lambda status: problem("too-many-requests", "Too Many Requests", "You have performed too many "
                                      "requests in a short period of time.") if status == 429 else
    oci_error("Unknown", "An unknown internal error occurred."),
    limit=WindowLimit(lambda: problem("too-many-requests", "Too Many Requests", "You have performed too many "
                                      "requests in a short period of time.")),
    clock_view=lambda now: {"now": now.isoformat()})
account_manager = APIRouter(prefix="/salesforce_oci/{instance}/dwsso/oauth2")


@account_manager.post("/access_token")
async def access_token(instance: str, request: Request) -> JSONResponse:
    """Client credentials over Basic auth; the tenant scope required, the API scopes kept on the token."""
    state = kit.instances(request.app).get(instance)
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    try:
        client, _, secret = base64.b64decode(request.headers.get("Authorization", "").removeprefix("Basic ")) \
            .decode().partition(":")
    except ValueError:
        client, secret = "", ""
    scopes = frozenset(form.get("scope", "").split())
    with state.lock:
        state.token_requests.append({"client_id": client, **form, "at": state.now().isoformat()})
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if (client, secret) != (state.client_id, state.client_secret):
            return JSONResponse({"error_description": "Client authentication failed", "error": "invalid_client"}, 401)
        tenant = [s for s in scopes if s.startswith("SALESFORCE_COMMERCE_API:")]
        if tenant != [f"SALESFORCE_COMMERCE_API:{state.tenant_id}"]:
            return JSONResponse({"error_description": f"Unknown/invalid tenant scope: {' '.join(tenant)}",
                                 "error": "invalid_scope"}, 400)
        token = secrets.token_urlsafe(24)
        state.tokens[token] = (state.now() + timedelta(seconds=state.token_lifetime_s), scopes)
        return JSONResponse({"access_token": token, "scope": " ".join(sorted(scopes)), "token_type": "Bearer",
                             "expires_in": state.token_lifetime_s})
