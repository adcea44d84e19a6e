"""The Zoho Inventory stand-in's declarations: one organization's state, Zoho's error envelope, the
OAuth token check, the per-organization limit and the kit.

As the API introduction describes (https://www.zoho.com/inventory/api/v1/introduction/): every
call sends ``Authorization: Zoho-oauthtoken <access token>`` and ``organization_id``; answers are
``{"code": 0, "message": "success", …}``, refusals a non-zero ``code`` with a ``message``; 100
requests a minute per organization, then 429. Tokens come from the accounts host's refresh-token
grant (``accounts/oauth/v2/token`` here) and last ``token_lifetime_s`` (3,600 s in Zoho).
**Assumed** (not in Zoho's docs): the codes and wording of the 401 (``57`` "You are not authorized
to perform this operation"), of a wrong organization (``6041``), of the 429 (``44``) and of the
refusals in ``api``.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import Answer, Call, KitState, StandIn
from sandbox.kit.limits import Window

DEFAULTS = {"client_id": "1000.ZOHOSANDBOX", "client_secret": "zoho_sandbox_secret",
            "refresh_token": "1000.refresh.sandbox", "organization_id": "20050000001"}


def zoho_error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def zoho_time(when: datetime) -> str:
    """``2025-01-02T10:00:00+0000``, as Zoho writes ``last_modified_time``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class OrgState(KitState):
    """One organization: its OAuth client, tokens, locations, items, vendors and purchase orders."""

    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    token_lifetime_s: float = 3600.0
    tokens: dict[str, float] = field(default_factory=dict)
    token_requests: int = 0
    window: Window = field(default_factory=lambda: Window(100))
    #: Organizations still on warehouses answer ``warehouses[]`` instead of ``locations[]``.
    warehouses: bool = False
    locations: dict[str, str] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    custom_fields: dict[str, str] = field(default_factory=dict)  # customfield_id → label
    vendors: set[str] = field(default_factory=set)
    purchaseorders: dict[str, dict[str, Any]] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(4815000000044000))

    def new_id(self) -> str:
        return str(next(self.ids))

    def touch(self, item: dict[str, Any]) -> None:
        item["last_modified_time"] = zoho_time(self.now())


def check(call: Call[OrgState]) -> JSONResponse | None:
    """A live token, then the organization."""
    state, header = call.state, call.request.headers.get("Authorization", "")
    token = header.removeprefix("Zoho-oauthtoken ")
    with state.lock:
        expires = state.tokens.get(token) if header.startswith("Zoho-oauthtoken ") else None
        if expires is None or expires <= time.time():
            call.entry["auth_failure"] = "token"
            return JSONResponse(zoho_error(57, "You are not authorized to perform this operation"), status_code=401)
        if call.query.get("organization_id") != state.credentials["organization_id"]:
            return JSONResponse(zoho_error(6041, "This user is not associated with the CompanyID/CompanyName:"
                                                 f"{call.query.get('organization_id')}."), status_code=401)
    return None


@dataclass(frozen=True)
class PerOrganization:
    """100 requests a minute (``state.window``); past it, 429 in Zoho's envelope."""

    def check(self, call: Call[OrgState]) -> dict[str, str]:
        with call.state.lock:
            fits, _left, _reset = call.state.window.count()
        if not fits:
            call.entry["status"] = 429
            raise Answer(JSONResponse(zoho_error(44, "You have made too many requests continuously. Please try "
                                                     "again after some time."), status_code=429))
        return {}


kit: StandIn[OrgState] = StandIn(
    "zoho_inventory", "/inventory/v1", OrgState, auth=check, limit=PerOrganization(),
    error_body=lambda status: zoho_error(1, "Internal error" if status >= 500 else f"HTTP {status}"),
    clock_view=lambda now: {"now": zoho_time(now)}, webhook_admin=True)
