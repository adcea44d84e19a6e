"""Lightspeed Retail X-Series stand-in, served at ``/lightspeed/{instance}/api/…``.

Follows the public docs the connector follows (connectors/lightspeed.py lists them): Bearer token
auth; API 2.0 collections ``/api/2.0/products`` and ``/api/2.0/inventory`` paged by the global,
monotonic ``version`` (``?after=&page_size=``, answer ``{"data": [...], "version": {"min", "max"}}``,
an empty ``data`` past the end); ``PUT /api/2.1/products/{id}`` with ``details.inventory`` to set
``current_amount`` at an outlet; a fixed-window rate limit (300 × registers + 50 per 5 minutes by
default) answering 429 ``{"error": "Too Many Requests", "message": "Rate limiting enforced"}`` with
``Retry-After`` as an HTTP-date and ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining``; webhooks as
form-encoded POSTs with a ``payload`` JSON field (API 1.0 shape), signed
``X-Signature: signature=<hex HMAC-SHA256 of the body>,algorithm=HMAC-SHA256`` with the client
secret (the hex encoding is this stand-in's choice; the docs do not state it).

Every change bumps the instance's version counter, so incremental reads see exactly what changed.
Admin endpoints (``/lightspeed/{instance}/_admin/…``) are documented in ``docs/sandbox.md``.
"""
from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import requests
from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.common import (
    Fault,
    Instances,
    PlatformState,
    add_fault_routes,
    add_request_log_routes,
    answering_fault,
    fault_answer,
)

DEFAULT_TOKEN = "lsxs_sandbox_token"
DEFAULT_CLIENT_SECRET = "lsxs_sandbox_client_secret"
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
UNAUTHORIZED = {"error": "Unauthorized", "message": "The access token is missing, invalid or expired"}
THROTTLED = {"error": "Too Many Requests", "message": "Rate limiting enforced"}


def _uuid(namespace: str, name: str) -> str:
    """Stable UUIDs, so a re-seeded instance hands out the same ids for the same SKUs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lightspeed:{namespace}:{name}"))


def _ts(value: datetime) -> str:
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class RetailerState(PlatformState):
    """Everything one ``{instance}`` (a retailer's domain prefix) knows."""

    token: str = DEFAULT_TOKEN
    client_secret: str = DEFAULT_CLIENT_SECRET
    outlets: list[str] = field(default_factory=list)
    version: int = 1_000
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    sku_index: dict[str, str] = field(default_factory=dict)
    inventory: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    rate_limit: int = 350
    rate_window_s: float = 300.0
    window_start: float = field(default_factory=time.time)
    window_used: int = 0
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.outlets:
            self.outlets = [_uuid(self.name, "outlet-0")]

    def bump(self) -> int:
        self.version += 1 + (self.version % 3)  # monotonic, never assumed to step by one
        return self.version

    def add_product(self, sku: str, name: str, amount: int, **levels: Any) -> dict[str, Any]:
        product_id = _uuid(self.name, f"product:{sku}")
        product = {"id": product_id, "sku": sku, "name": name, "handle": sku.lower(), "variant_parent_id": None,
                   "deleted_at": None, "updated_at": _ts(datetime.now(timezone.utc)), "version": self.bump()}
        self.products[product_id] = product
        self.sku_index[sku] = product_id
        for outlet in self.outlets:
            self.set_amount(product_id, outlet, amount, **levels)
        return product

    def set_amount(self, product_id: str, outlet: str, amount: int, **extra: Any) -> dict[str, Any]:
        key = (product_id, outlet)
        row = self.inventory.get(key) or {
            "id": _uuid(self.name, f"inventory:{product_id}:{outlet}"), "product_id": product_id,
            "outlet_id": outlet, "reorder_point": 0, "reorder_amount": 0, "average_cost": 10.0,
            "deleted_at": None}
        row.update({"current_amount": amount, "inventory_level": amount, "version": self.bump(), **extra})
        self.inventory[key] = row
        return row

    def take_call(self) -> tuple[bool, dict[str, str]]:
        """The documented fixed window: N requests per window per retailer and application."""
        now = time.time()
        if now - self.window_start >= self.rate_window_s:
            self.window_start, self.window_used = now, 0
        reset = self.window_start + self.rate_window_s
        if self.window_used >= self.rate_limit:
            return False, {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": "0",
                           "Retry-After": email.utils.formatdate(reset, usegmt=True)}
        self.window_used += 1
        return True, {"X-RateLimit-Limit": str(self.rate_limit),
                      "X-RateLimit-Remaining": str(self.rate_limit - self.window_used)}


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def inventory_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The API 1.0 inventory shape webhooks carry (``count`` rather than ``current_amount``)."""
    return {"id": row["id"], "product_id": row["product_id"], "outlet_id": row["outlet_id"],
            "count": row["current_amount"], "reorder_point": row["reorder_point"],
            "restock_level": row["reorder_amount"], "attributed_cost": row["average_cost"],
            "version": row["version"]}


def product_payload(state: RetailerState, product: dict[str, Any]) -> dict[str, Any]:
    levels = [{"outlet_id": outlet, "outlet_name": f"Outlet {n}",
               "count": state.inventory[(product["id"], outlet)]["current_amount"]}
              for n, outlet in enumerate(state.outlets) if (product["id"], outlet) in state.inventory]
    return {"id": product["id"], "handle": product["handle"], "sku": product["sku"], "name": product["name"],
            "updated_at": product["updated_at"], "version": product["version"], "inventory": levels}


def deliver(state: RetailerState, kind: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """POST ``payload`` form-encoded to every active hook of this type, signed like the platform."""
    results = []
    for hook in list(state.webhooks):
        if kind not in hook["types"] or not hook.get("active", True):
            continue
        body = urlencode({"payload": json.dumps(payload), "type": kind, "domain_prefix": state.name,
                          "environment": "sandbox"}).encode()
        secret = hook.get("secret") or state.client_secret
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
                   "X-Signature": f"signature={sign(secret, body)},algorithm=HMAC-SHA256"}
        try:
            status: int | str = requests.post(hook["url"], data=body, headers=headers, timeout=5).status_code
        except requests.RequestException as exc:
            status = f"error: {exc.__class__.__name__}"
        record = {"type": kind, "url": hook["url"], "status": status, "payload_id": payload.get("id"),
                  "version": payload.get("version")}
        state.deliveries.append(record)
        results.append(record)
    return results


def server_error(status: int) -> dict[str, Any]:
    """The body of an injected fault that brings none."""
    return {"error": "Internal Server Error", "message": "Something went wrong"}


def parse_fault(payload: dict[str, Any]) -> Fault:
    """``retry_after`` is sent verbatim; ``retry_after_in_s`` becomes an HTTP-date that far ahead."""
    retry_after = None
    if payload.get("retry_after_in_s") is not None:
        retry_after = email.utils.formatdate(time.time() + float(payload["retry_after_in_s"]), usegmt=True)
    return answering_fault(payload, retry_after)


def install(app: FastAPI) -> None:
    sandbox = Instances(RetailerState)
    app.state.lightspeed = sandbox
    api = APIRouter(prefix="/lightspeed/{instance}/api")
    admin = APIRouter(prefix="/lightspeed/{instance}/_admin")

    def guard(request: Request, instance: str, body: Any = None) -> tuple[RetailerState, dict, Response | None]:
        """Faults, then auth, then the rate-limit window, in the order a real request meets them."""
        state = sandbox.get(instance)
        entry = state.requests.record(request, body, _ts(datetime.now(timezone.utc)))
        with state.lock:
            faulted = fault_answer(state, request, entry, server_error)
            if faulted:
                return state, entry, faulted
            if request.headers.get("Authorization") != f"Bearer {state.token}":
                entry["status"] = 401
                return state, entry, JSONResponse(UNAUTHORIZED, status_code=401)
            ok, limit_headers = state.take_call()
        entry["limit_headers"] = limit_headers
        if not ok:
            entry["status"] = 429
            return state, entry, JSONResponse(THROTTLED, status_code=429, headers=limit_headers)
        return state, entry, None

    def reply(entry: dict, content: Any, status: int = 200) -> Response:
        entry["status"] = status
        return JSONResponse(content, status_code=status, headers=entry.get("limit_headers"))

    def collection(request: Request, entry: dict, rows: list[dict[str, Any]]) -> Response:
        """Rows with ``version > after``, ascending, at most ``page_size``; ``version`` min/max of the page."""
        try:
            after = int(request.query_params.get("after", 0))
            size = int(request.query_params.get("page_size", DEFAULT_PAGE_SIZE))
        except ValueError:
            return reply(entry, {"error": "Bad Request", "message": "after and page_size must be integers"}, 400)
        if not 1 <= size <= MAX_PAGE_SIZE:
            return reply(entry, {"error": "Bad Request", "message": f"page_size must be 1..{MAX_PAGE_SIZE}"}, 400)
        page = sorted((r for r in rows if r["version"] > after), key=lambda r: r["version"])[:size]
        if not page:
            return reply(entry, {"data": [], "version": None})
        return reply(entry, {"data": page, "version": {"min": page[0]["version"], "max": page[-1]["version"]}})

    @api.get("/2.0/products")
    def list_products(request: Request, instance: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            return collection(request, entry, [dict(p) for p in state.products.values()])

    @api.get("/2.0/inventory")
    def list_inventory(request: Request, instance: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            return collection(request, entry, [dict(r) for r in state.inventory.values()])

    @api.get("/2.0/outlets")
    def list_outlets(request: Request, instance: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        return reply(entry, {"data": [{"id": o, "name": f"Outlet {n}", "version": n + 1, "deleted_at": None}
                                      for n, o in enumerate(state.outlets)]})

    @api.put("/2.1/products/{product_id}")
    def update_product(request: Request, instance: str, product_id: str, payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        details = payload.get("details") if isinstance(payload, dict) else None
        levels = details.get("inventory") if isinstance(details, dict) else None
        if not isinstance(levels, list) or not levels:
            return reply(entry, {"error": "Bad Request", "message": "details.inventory must be a non-empty list"}, 400)
        changed = []
        with state.lock:
            product = state.products.get(product_id)
            if product is None:
                return reply(entry, {"error": "Not Found", "message": f"product {product_id} not found"}, 404)
            for level in levels:
                outlet = str(level.get("outlet_id")) if isinstance(level, dict) else ""
                if outlet not in state.outlets:
                    return reply(entry, {"error": "Unprocessable Entity",
                                         "message": f"outlet {outlet or '(missing)'} does not exist"}, 422)
                if not isinstance(level.get("current_amount", 0), (int, float)):
                    return reply(entry, {"error": "Unprocessable Entity",
                                         "message": "current_amount must be a number"}, 422)
            for level in levels:
                current = state.inventory.get((product_id, str(level["outlet_id"])), {})
                extra = {k: level[k] for k in ("reorder_point", "reorder_amount") if k in level}
                amount = int(level.get("current_amount", current.get("current_amount", 0)))
                changed.append(state.set_amount(product_id, str(level["outlet_id"]), amount, **extra))
            product["version"] = state.bump()
            state.writes.append({"product_id": product_id, "sku": product["sku"], "body": payload,
                                 "at": _ts(datetime.now(timezone.utc))})
            answer = {"data": {**product, "inventory": [dict(r) for r in changed]}}
        for row in changed:
            deliver(state, "inventory.update", inventory_payload(row))
        return reply(entry, answer)

    # --- admin ------------------------------------------------------------------------------

    @admin.post("/seed")
    def seed(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """``{"count": N, "sku_prefix", "current_amount", "outlets": K | "outlet_ids": [...], "items": [...]}``."""
        state = sandbox.get(instance)
        with state.lock:
            if payload.get("reset", True):
                state.products, state.sku_index, state.inventory = {}, {}, {}
                state.outlets = [str(o) for o in payload["outlet_ids"]] if payload.get("outlet_ids") else \
                    [_uuid(state.name, f"outlet-{n}") for n in range(int(payload.get("outlets", 1)))]
            created = []
            prefix = payload.get("sku_prefix", "SKU-")
            for n in range(int(payload.get("count", 0))):
                state.add_product(f"{prefix}{n:06d}", f"Generated item {n}", int(payload.get("current_amount", 10)))
            for spec in payload.get("items", []):
                product = state.add_product(spec["sku"], spec.get("name", spec["sku"]),
                                            int(spec.get("current_amount", 0)), **reorder_levels(spec))
                created.append(admin_item(state, product))
            return {"total": len(state.products), "outlets": state.outlets, "items": created,
                    "version": state.version}

    @admin.post("/config")
    def config(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        state = sandbox.get(instance)
        with state.lock:
            state.token = payload.get("access_token", state.token)
            state.client_secret = payload.get("client_secret", state.client_secret)
            state.rate_limit = int(payload.get("rate_limit", state.rate_limit))
            state.rate_window_s = float(payload.get("rate_window_s", state.rate_window_s))
            if payload.get("reset_window"):
                state.window_start, state.window_used = time.time(), 0
            return {"access_token": state.token, "client_secret": state.client_secret,
                    "rate_limit": state.rate_limit, "rate_window_s": state.rate_window_s, "outlets": state.outlets}

    @admin.post("/set_stock")
    def set_stock(instance: str, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        """A sale or stocktake in the store: sets ``current_amount`` (and ``reorder_point`` /
        ``reorder_amount`` when given, as the back office does per outlet), emits ``inventory.update``."""
        state = sandbox.get(instance)
        with state.lock:
            product_id = state.sku_index.get(str(payload.get("sku")))
            if product_id is None:
                return JSONResponse({"error": f"unknown sku {payload.get('sku')}"}, status_code=404)
            outlet = str(payload.get("outlet_id") or state.outlets[0])
            if outlet not in state.outlets:
                return JSONResponse({"error": f"unknown outlet {outlet}"}, status_code=404)
            current = state.inventory.get((product_id, outlet), {}).get("current_amount", 0)
            row = dict(state.set_amount(product_id, outlet, int(payload.get("current_amount", current)),
                                        **reorder_levels(payload)))
        hooks = deliver(state, "inventory.update", inventory_payload(row))
        return JSONResponse({"inventory": row, "webhooks": hooks})

    @admin.post("/update_product")
    def update_product_admin(instance: str, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        """Renames a product (``name``/``new_sku``) in the back office: emits ``product.update``."""
        state = sandbox.get(instance)
        with state.lock:
            product_id = state.sku_index.get(str(payload.get("sku")))
            if product_id is None:
                return JSONResponse({"error": f"unknown sku {payload.get('sku')}"}, status_code=404)
            product = state.products[product_id]
            if payload.get("new_sku"):
                del state.sku_index[product["sku"]]
                product["sku"] = str(payload["new_sku"])
                state.sku_index[product["sku"]] = product_id
            product["name"] = payload.get("name", product["name"])
            product["updated_at"] = _ts(datetime.now(timezone.utc))
            product["version"] = state.bump()
            body = product_payload(state, product)
        return JSONResponse({"product": body, "webhooks": deliver(state, "product.update", body)})

    @admin.post("/webhooks")
    def add_webhook(instance: str, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """``{"url", "types": [...] | "type", "secret"?}``; the secret defaults to the client secret."""
        state = sandbox.get(instance)
        hook = {"id": str(uuid.uuid4()), "url": payload["url"], "active": bool(payload.get("active", True)),
                "types": list(payload.get("types") or [payload.get("type")]), "secret": payload.get("secret")}
        state.webhooks.append(hook)
        return {"webhook": hook}

    @admin.get("/webhooks")
    def list_webhooks(instance: str) -> dict[str, Any]:
        state = sandbox.get(instance)
        return {"webhooks": state.webhooks, "deliveries": state.deliveries}

    @admin.get("/state/items")
    def state_items(instance: str, skus: str | None = None) -> JSONResponse:
        state = sandbox.get(instance)
        with state.lock:
            ids = [state.sku_index[s] for s in skus.split(",") if s in state.sku_index] if skus \
                else list(state.products)
            return JSONResponse({"total": len(state.products),
                                 "items": [admin_item(state, state.products[i]) for i in ids]})

    @admin.get("/writes")
    def list_writes(instance: str) -> dict[str, Any]:
        return {"writes": sandbox.get(instance).writes}

    add_fault_routes(admin, sandbox, parse_fault, lambda fault: {"retry_after": fault.retry_after})
    add_request_log_routes(admin, sandbox)
    app.include_router(api)
    app.include_router(admin)


def reorder_levels(spec: dict[str, Any]) -> dict[str, int]:
    """The per-outlet reorder fields an admin call sets (``reorder_point``, ``reorder_amount``)."""
    return {key: int(spec[key]) for key in ("reorder_point", "reorder_amount") if spec.get(key) is not None}


def admin_item(state: RetailerState, product: dict[str, Any]) -> dict[str, Any]:
    """Admin view of a product: its ids and its ``current_amount`` per outlet."""
    return {"sku": product["sku"], "product_id": product["id"], "name": product["name"],
            "version": product["version"],
            "inventory": {outlet: state.inventory[(product["id"], outlet)]["current_amount"]
                          for outlet in state.outlets if (product["id"], outlet) in state.inventory}}
