"""The Cin7 Core stand-in's declarations: one account's state, Cin7's error body, the two API key
headers, the 60-calls-a-minute limit answered 503, and the kit.

As https://help.core.cin7.com/hc/en-us/articles/9982480315407 (auth) and
https://help.core.cin7.com/hc/en-us/articles/9034464091023-API-Status-Codes (403 "Method
authentication failed", 503 "You reached 60 calls per minute API limit") describe. Errors are a list
of ``{"ErrorCode", "Exception"}`` as the API reference shows them (https://dearinventory.docs.apiary.io/);
**assumed**: the wording of each ``Exception`` here.
"""
from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import Answer, Call, KitState, StandIn
from sandbox.kit.limits import Window

DEFAULTS = {"account_id": "2a4c9b1e-0000-4c0e-9d2a-5a0c1b2c3d4e", "application_key": "cin7-sandbox-key"}
#: Webhook types the stand-in knows (a subset of the API reference's list).
WEBHOOK_TYPES = ("Stock/AvailableStockLevelChanged", "Purchase/OrderAuthorised", "Purchase/StockReceivedAuthorised",
                 "Product/Updated", "Sale/OrderAuthorised")
ATTRIBUTES = tuple(f"AdditionalAttribute{n}" for n in range(1, 11))


def cin7_error(status: int, message: str) -> list[dict[str, Any]]:
    return [{"ErrorCode": status, "Exception": message}]


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class AccountState(KitState):
    """One account: its keys, locations, products, stock rows, suppliers, purchases and webhooks."""

    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    window: Window = field(default_factory=lambda: Window(60))
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → location
    products: dict[str, dict[str, Any]] = field(default_factory=dict)  # ID → product
    #: (product ID, location, bin) → [on hand, allocated, on order]
    stock: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    suppliers: dict[str, str] = field(default_factory=dict)  # ID → name
    purchases: dict[str, dict[str, Any]] = field(default_factory=dict)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    def rows(self, product_id: str | None = None) -> list[dict[str, Any]]:
        """Availability rows, one per product, location and bin, only where something is non-zero."""
        out = []
        for (pid, place, bin_), (on_hand, allocated, on_order) in sorted(self.stock.items()):
            product = self.products[pid]
            if (product_id and pid != product_id) or not (on_hand or allocated or on_order):
                continue
            out.append({"ID": pid, "SKU": product["SKU"], "Name": product["Name"], "Barcode": "", "Location": place,
                        "Bin": bin_ or None, "Batch": None, "OnHand": float(on_hand), "Allocated": float(allocated),
                        "Available": float(on_hand - allocated), "OnOrder": float(on_order), "InTransit": 0.0})
        return out


def check_keys(call: Call[AccountState]) -> JSONResponse | None:
    headers, keys = call.request.headers, call.state.credentials
    if headers.get("api-auth-accountid") != keys["account_id"] or \
            headers.get("api-auth-applicationkey") != keys["application_key"]:
        call.entry["auth_failure"] = "keys"
        return JSONResponse(cin7_error(403, "Incorrect credentials!"), status_code=403)
    return None


@dataclass(frozen=True)
class PerMinute:
    """60 calls a minute per application (``state.window``); past it, 503 and no ``Retry-After``."""

    def check(self, call: Call[AccountState]) -> dict[str, str]:
        with call.state.lock:
            fits, _left, _reset = call.state.window.count()
        if not fits:
            call.entry["status"] = 503
            raise Answer(JSONResponse(cin7_error(503, "You reached 60 calls per minute API limit"), status_code=503))
        return {}


kit: StandIn[AccountState] = StandIn(
    "cin7_core", "/ExternalApi/v2", AccountState, auth=check_keys, limit=PerMinute(),
    error_body=lambda status: cin7_error(status, "Internal error" if status >= 500 else f"HTTP {status}"),
    clock_view=lambda now: {"now": now.isoformat()}, webhook_admin=True)
