"""The Lightspeed stand-in's declarations: the retailer's state, webhook payloads and delivery, the kit.

Webhooks are form-encoded POSTs with a ``payload`` JSON field in the API 1.0 shape, signed
``X-Signature: signature=<hex HMAC-SHA256 of the body>,algorithm=HMAC-SHA256`` with the client
secret (https://x-series-api.lightspeedhq.com/docs/webhooks; the hex encoding is this stand-in's
choice, the docs do not state it): the kit's ``FormSigned``. Each webhook is one ``type`` (or, made
through ``_admin``, as in the back office's ``/setup/api`` page, several) to one URL, the kit's
subscription shape. Every change bumps the retailer's monotonic version counter.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import (BearerToken, Fixtures, KitState, StandIn, VersionPages, Window, WindowLimit, post,
                         ratelimit_headers, retry_at_date, subscribe)
from sandbox.kit.dates import zulu as _ts
from sandbox.kit.faults import http_date_fault
from sandbox.kit.pages import Versioned
from sandbox.kit.webhooks import FormSigned

DEFAULT_TOKEN = "lsxs_sandbox_token"
DEFAULT_CLIENT_SECRET = "lsxs_sandbox_client_secret"
UNAUTHORIZED = {"error": "Unauthorized", "message": "The access token is missing, invalid or expired"}
THROTTLED = {"error": "Too Many Requests", "message": "Rate limiting enforced"}
FIXTURES = Fixtures(__file__)


def _uuid(namespace: str, name: str) -> str:
    """Stable UUIDs, so a re-seeded instance hands out the same ids for the same SKUs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lightspeed:{namespace}:{name}"))


@dataclass
class RetailerState(Versioned, KitState):
    """Everything one ``{instance}`` (a retailer's domain prefix) knows; every change bumps its version."""

    token: str = DEFAULT_TOKEN
    client_secret: str = DEFAULT_CLIENT_SECRET
    outlets: list[str] = field(default_factory=list)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    sku_index: dict[str, str] = field(default_factory=dict)
    inventory: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    window: Window = field(default_factory=lambda: Window(limit=350, seconds=300.0))
    writes: list[dict[str, Any]] = field(default_factory=list)
    sales: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.outlets:
            self.outlets = [_uuid(self.name, "outlet-0")]

    def log_time(self) -> str:
        return _ts(datetime.now(timezone.utc))

    def add_product(self, sku: str, name: str, amount: int, **levels: Any) -> dict[str, Any]:
        product_id = _uuid(self.name, f"product:{sku}")
        product = FIXTURES.fill("product", id=product_id, sku=sku, name=name, handle=sku.lower(),
                                updated_at=_ts(datetime.now(timezone.utc)), version=self.bump())
        self.products[product_id] = product
        self.sku_index[sku] = product_id
        for outlet in self.outlets:
            self.set_amount(product_id, outlet, amount, **levels)
        return product

    def set_amount(self, product_id: str, outlet: str, amount: int, **extra: Any) -> dict[str, Any]:
        key = (product_id, outlet)
        row = self.inventory.get(key) or FIXTURES.fill(
            "inventory", id=_uuid(self.name, f"inventory:{product_id}:{outlet}"), product_id=product_id, outlet_id=outlet)
        row.update({"current_amount": amount, "inventory_level": amount, "version": self.bump(), **extra})
        self.inventory[key] = row
        return row

    def move(self, product_id: str, outlet: str, units: int) -> dict[str, Any]:
        """``units`` added at the outlet (negative for a sale); X-Series lets a count go below 0."""
        return self.set_amount(product_id, outlet, self.inventory[(product_id, outlet)]["current_amount"] + units)


def inventory_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The API 1.0 inventory shape webhooks carry (``count``, ``restock_level``: the reorder amount)."""
    return FIXTURES.fill("inventory_update", row)


def product_payload(state: RetailerState, product: dict[str, Any]) -> dict[str, Any]:
    levels = [{"outlet_id": outlet, "outlet_name": f"Outlet {n}",
               "count": state.inventory[(product["id"], outlet)]["current_amount"]}
              for n, outlet in enumerate(state.outlets) if (product["id"], outlet) in state.inventory]
    return {"id": product["id"], "handle": product["handle"], "sku": product["sku"], "name": product["name"],
            "updated_at": product["updated_at"], "version": product["version"], "inventory": levels}


#: Signed with the client secret, unless a webhook made through ``_admin`` names its own.
WEBHOOKS = FormSigned(lambda state, kind: {"type": kind, "domain_prefix": state.name, "environment": "sandbox"},
                      secret=lambda state, hook: hook["secret"] or state.client_secret,
                      record=lambda payload: {"payload_id": payload.get("id"), "version": payload.get("version")})
deliver, deliver_all = WEBHOOKS.deliver, WEBHOOKS.deliver_all


def add_hook(state: RetailerState, payload: dict[str, Any]) -> dict[str, Any]:
    """``_admin/webhooks`` ``{"url", "types": [...] | "type", "secret"?, "active"?}``: a webhook made
    in the back office; the secret defaults to the client secret."""
    return {"webhook": subscribe(state, {"address": payload["url"], "secret": payload.get("secret"), "topics":
                                         payload.get("types") or [payload.get("type")]},
                                 active=bool(payload.get("active", True)))}


def reorder_levels(spec: dict[str, Any]) -> dict[str, int]:
    """The per-outlet reorder fields an admin call sets (``reorder_point``, ``reorder_amount``)."""
    return {key: int(spec[key]) for key in ("reorder_point", "reorder_amount") if spec.get(key) is not None}


def admin_item(state: RetailerState, product: dict[str, Any]) -> dict[str, Any]:
    """Admin view of a product: its ids and its ``current_amount`` per outlet."""
    return {"sku": product["sku"], "product_id": product["id"], "name": product["name"],
            "version": product["version"],
            "inventory": {outlet: state.inventory[(product["id"], outlet)]["current_amount"]
                          for outlet in state.outlets if (product["id"], outlet) in state.inventory}}


kit: StandIn[RetailerState] = StandIn(
    "lightspeed", "/api", RetailerState, auth=BearerToken(lambda: JSONResponse(UNAUTHORIZED, status_code=401)),
    error_body=lambda status: {"error": "Internal Server Error", "message": "Something went wrong"},
    limit=WindowLimit(lambda: THROTTLED, ratelimit_headers, retry_at_date), parse_fault=http_date_fault,
    describe_fault=lambda fault: {"retry_after": fault.retry_after}, webhook_admin=True, subscribe=add_hook,
    redeliver=post)
pages = VersionPages(lambda message: {"error": "Bad Request", "message": message})
