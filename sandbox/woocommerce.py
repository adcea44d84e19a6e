"""WooCommerce REST API v3 stand-in, served at ``/woocommerce/{instance}/wp-json/wc/v3/…``.

Follows the public docs the connector follows: HTTP Basic (or ``consumer_key``/``consumer_secret``
query parameters) answering 401 with WordPress error bodies ``{"code","message","data":{"status"}}``;
``page``/``per_page`` (≤ 100) paging with ``X-WP-Total``, ``X-WP-TotalPages`` and a ``Link``
header; ``modified_after`` (strictly after) with ``dates_are_gmt``; variations under
``/products/{id}/variations``; webhooks signed with ``X-WC-Webhook-Signature`` (base64
HMAC-SHA256 of the body), ``X-WC-Webhook-Delivery-ID`` derived from the webhook id and the current
second as ``WC_Webhook::get_new_delivery_id`` does, and the unsigned ``webhook_id=N`` ping on
registration.

Generated products are a lazy id range (nothing stored until touched), so 100,000 SKUs page out
without building them all. Admin endpoints (``/woocommerce/{instance}/_admin/…``) are documented
in ``docs/sandbox.md``.
"""
from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import requests
from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.common import (
    Instances,
    PlatformState,
    add_fault_routes,
    add_request_log_routes,
    any_fault,
    fault_answer,
    late_answer,
    to_cents,
    to_money,
)

DEFAULT_KEY = "ck_sandbox"
DEFAULT_SECRET = "cs_sandbox"
SITE_TZ = timezone(timedelta(hours=2))
MAX_PER_PAGE = 100


def wp_error(code: str, message: str, status: int, **data: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": {"status": status, **data}},
                        status_code=status)


def _local(value: datetime) -> str:
    return value.astimezone(SITE_TZ).replace(tzinfo=None, microsecond=0).isoformat()


def _gmt(value: datetime) -> str:
    return value.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()


def stock_status(manage: bool, quantity: int | None, backorders: str, current: str) -> str:
    """WooCommerce derives the status from the quantity when it manages stock."""
    if not manage:
        return current
    if quantity is not None and quantity > 0:
        return "instock"
    return "onbackorder" if backorders != "no" else "outofstock"


@dataclass(frozen=True)
class Batch:
    start: int
    stop: int
    prefix: str
    quantity: int
    backorders: str
    created_at: datetime


@dataclass
class SiteState(PlatformState):
    consumer_key: str = DEFAULT_KEY
    consumer_secret: str = DEFAULT_SECRET
    next_id: int = 10
    product_ids: list[int] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    sku_index: dict[str, int] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    refunds: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    coupons: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    clock_offset: timedelta = timedelta()
    #: While set (``_admin/clock`` ``{"freeze": true}``), every change happens in this one second.
    frozen_at: datetime | None = None

    def now(self) -> datetime:
        if self.frozen_at is not None:
            return self.frozen_at + self.clock_offset
        return (datetime.now(timezone.utc) + self.clock_offset).replace(microsecond=0)

    def allocate(self, n: int = 1) -> int:
        first = self.next_id
        self.next_id += n
        return first

    def get(self, pid: int) -> dict[str, Any] | None:
        """A product or variation by id; generated ones are built on demand."""
        if pid in self.products:
            return self.products[pid]
        starts = [b.start for b in self.batches]
        pos = bisect.bisect_right(starts, pid) - 1
        if pos < 0 or not (self.batches[pos].start <= pid < self.batches[pos].stop):
            return None
        b = self.batches[pos]
        return {"id": pid, "name": f"Generated item {pid}", "type": "simple", "sku": f"{b.prefix}{pid:06d}",
                "manage_stock": True, "stock_quantity": b.quantity, "backorders": b.backorders,
                "stock_status": stock_status(True, b.quantity, b.backorders, "instock"), "parent_id": 0,
                "variations": [], "date_created": b.created_at, "date_modified": b.created_at}

    def store(self, product: dict[str, Any]) -> None:
        self.products[product["id"]] = product
        if product.get("sku"):
            self.sku_index[product["sku"]] = product["id"]

    def id_for_sku(self, sku: str) -> int | None:
        if sku in self.sku_index:
            return self.sku_index[sku]
        for b in self.batches:
            digits = sku[len(b.prefix):]
            if sku.startswith(b.prefix) and digits.isdigit() and b.start <= int(digits) < b.stop:
                pid = int(digits)
                if pid not in self.products or self.products[pid].get("sku") == sku:
                    return pid
        return None

    def modified(self, pid: int) -> datetime:
        product = self.get(pid)
        return product["date_modified"] if product else datetime.min.replace(tzinfo=timezone.utc)


def product_json(p: dict[str, Any]) -> dict[str, Any]:
    """The REST v3 product (or variation, with ``type: variation`` and ``parent_id``) body."""
    manage = p["manage_stock"]
    qty = p["stock_quantity"] if manage else None
    backorders = p["backorders"]
    return {
        "id": p["id"], "name": p["name"], "slug": f"item-{p['id']}", "type": p["type"], "status": "publish",
        "sku": p["sku"], "price": "10.00", "regular_price": "10.00",
        "date_created": _local(p["date_created"]), "date_created_gmt": _gmt(p["date_created"]),
        "date_modified": _local(p["date_modified"]), "date_modified_gmt": _gmt(p["date_modified"]),
        "manage_stock": manage, "stock_quantity": qty, "stock_status": p["stock_status"],
        "backorders": backorders, "backorders_allowed": backorders != "no",
        "backordered": bool(manage and backorders != "no" and (qty or 0) <= 0),
        "parent_id": p.get("parent_id", 0), "variations": list(p.get("variations", [])),
    }


def variation_json(p: dict[str, Any]) -> dict[str, Any]:
    body = product_json(p)
    for key in ("name", "slug", "type", "variations", "parent_id"):
        body.pop(key, None)
    body["attributes"] = [{"id": 0, "name": "Option", "option": p["sku"]}]
    return body


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(state: SiteState, topic: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """POST to every subscription of ``topic`` the way ``WC_Webhook::deliver`` does."""
    results = []
    body = json.dumps(payload).encode()
    resource, _, event = topic.partition(".")
    for hook in list(state.webhooks):
        if topic not in hook["topics"]:
            continue
        headers = {
            "Content-Type": "application/json", "User-Agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7)",
            "X-WC-Webhook-Source": f"https://{state.name}.example/", "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": sign(hook["secret"], body), "X-WC-Webhook-ID": str(hook["id"]),
            "X-WC-Webhook-Delivery-ID": delivery_id(state, hook),
        }
        results.append(_post(state, hook, topic, body, headers))
    return results


def delivery_id(state: SiteState, hook: dict[str, Any]) -> str:
    """``WC_Webhook::get_new_delivery_id``: ``wp_hash(webhook id . strtotime('now'))``, an HMAC-MD5
    keyed with the site's salt. Every delivery of one webhook within one second shares it."""
    second = int(state.now().timestamp())
    return hmac.new(f"{state.name}-auth-salt".encode(), f"{hook['id']}{second}".encode(), hashlib.md5).hexdigest()


def deliver_ping(state: SiteState, hook: dict[str, Any]) -> dict[str, Any]:
    """``WC_Webhook::deliver_ping``: form body ``webhook_id=N``, a user agent, no signature."""
    headers = {"User-Agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7)",
               "Content-Type": "application/x-www-form-urlencoded"}
    return _post(state, hook, "webhook.ping", f"webhook_id={hook['id']}".encode(), headers)


def _post(state: SiteState, hook: dict[str, Any], topic: str, body: bytes, headers: dict[str, str]) -> dict:
    try:
        status: int | str = requests.post(hook["address"], data=body, headers=headers, timeout=5).status_code
    except requests.RequestException as exc:
        status = f"error: {exc.__class__.__name__}"
    record = {"topic": topic, "address": hook["address"], "status": status, "headers": headers,
              "body": body.decode()}
    state.deliveries.append(record)
    return record


# --- money: refunds and coupons ----------------------------------------------------------------

#: Gateways that implement ``process_refund`` (``supports('refunds')``) vs. core offline ones that do not.
REFUNDING_GATEWAYS = frozenset({"stripe", "woocommerce_payments", "ppcp-gateway", "square_credit_card"})
OFFLINE_GATEWAYS = frozenset({"bacs", "cheque", "cod"})
CANNOT_REFUND = "woocommerce_rest_cannot_create_order_refund"


def find_order(state: SiteState, order_id: int) -> dict[str, Any] | None:
    return next((o for o in state.orders if o["id"] == order_id), None)


def public_order(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if not k.startswith("_")}


def refunded_cents(state: SiteState, order_id: int) -> int:
    return sum(to_cents(r["amount"]) for r in state.refunds.get(order_id, []))


def refund_line_items(order: dict[str, Any], specs: Any) -> tuple[list[dict[str, Any]], str | None]:
    """``line_items: [{id, quantity, refund_total, refund_tax}]`` checked against the order's lines."""
    if specs in (None, []):
        return [], None
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        return [], "line_items"
    by_id = {line["id"]: line for line in order["line_items"]}
    lines = []
    for spec in specs:
        try:
            line = by_id.get(int(spec.get("id")))
            quantity = int(spec.get("quantity") or 0)
            total = to_cents(spec.get("refund_total") or 0)
        except (TypeError, ValueError):
            return [], "line_items"
        if line is None:
            return [], "line_items"
        lines.append({"line": line, "quantity": quantity, "total": total})
    return lines, None


def gateway_refund_error(order: dict[str, Any]) -> str | None:
    """``wc_refund_payment``'s refusals when ``api_refund`` asks the gateway to pay the money back."""
    method = order.get("payment_method") or ""
    if method in REFUNDING_GATEWAYS:
        return None
    if method in OFFLINE_GATEWAYS:
        return "The payment gateway for this order does not support automatic refunds."
    return "The payment gateway for this order does not exist."


def refund_json(refund: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in refund.items() if not k.startswith("_")}


def build_refund(state: SiteState, order: dict[str, Any], payload: dict[str, Any], cents: int,
                 lines: list[dict[str, Any]], refunded_payment: bool) -> dict[str, Any]:
    """The ``shop_order_refund``: negative line items pointing at the order lines they refund."""
    now = state.now()
    refund_id = state.allocate()
    items = [{"id": state.allocate(), "name": item["line"]["name"], "product_id": item["line"]["product_id"],
              "variation_id": item["line"]["variation_id"], "quantity": -item["quantity"], "tax_class": "",
              "subtotal": to_money(-item["total"]), "subtotal_tax": "0.00", "total": to_money(-item["total"]),
              "total_tax": "0.00", "taxes": [], "sku": item["line"]["sku"],
              "price": -(item["total"] / 100 / item["quantity"]) if item["quantity"] else 0,
              "meta_data": [{"id": state.allocate(), "key": "_refunded_item_id",
                             "value": str(item["line"]["id"])}]} for item in lines]
    return {"id": refund_id, "date_created": _local(now), "date_created_gmt": _gmt(now), "amount": to_money(cents),
            "reason": str(payload.get("reason") or ""), "refunded_by": 1, "refunded_payment": refunded_payment,
            "meta_data": [], "line_items": items, "tax_lines": [], "shipping_lines": [], "fee_lines": [],
            "_order_id": order["id"]}


def apply_refund(state: SiteState, order: dict[str, Any], refund: dict[str, Any],
                 lines: list[dict[str, Any]], restock: bool) -> list[dict[str, Any]]:
    """Attach the refund to its order (``refunds`` summary, status) and restock its items."""
    now = state.now()
    state.refunds.setdefault(order["id"], []).insert(0, refund)
    order["refunds"].insert(0, {"id": refund["id"], "reason": refund["reason"], "total": f"-{refund['amount']}"})
    if refunded_cents(state, order["id"]) >= to_cents(order["total"]):
        order["status"] = "refunded"
    order["date_modified"], order["date_modified_gmt"], order["_modified"] = _local(now), _gmt(now), now
    restocked = []
    for item in lines if restock else []:
        pid = item["line"]["variation_id"] or item["line"]["product_id"]
        product = state.get(pid)
        if product is None or not product["manage_stock"] or item["quantity"] <= 0:
            continue
        product = dict(product, stock_quantity=(product["stock_quantity"] or 0) + item["quantity"], date_modified=now)
        product["stock_status"] = stock_status(True, product["stock_quantity"], product["backorders"],
                                               product["stock_status"])
        state.store(product)
        restocked.append(product)
    return restocked


COUPON_TYPES = ("percent", "fixed_cart", "fixed_product")


def coupon_json(coupon: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in coupon.items() if not k.startswith("_")}


def build_coupon(state: SiteState, payload: dict[str, Any]) -> dict[str, Any]:
    now = state.now()
    return {"id": state.allocate(), "code": str(payload["code"]).strip().lower(),
            "amount": to_money(to_cents(payload.get("amount") or 0)), "status": "publish",
            "date_created": _local(now), "date_created_gmt": _gmt(now),
            "date_modified": _local(now), "date_modified_gmt": _gmt(now),
            "discount_type": payload.get("discount_type", "fixed_cart"), "description": payload.get("description", ""),
            "date_expires": payload.get("date_expires"), "date_expires_gmt": payload.get("date_expires"),
            "usage_count": 0, "individual_use": bool(payload.get("individual_use", False)),
            "product_ids": [], "excluded_product_ids": [], "usage_limit": payload.get("usage_limit"),
            "usage_limit_per_user": payload.get("usage_limit_per_user"), "limit_usage_to_x_items": None,
            "free_shipping": bool(payload.get("free_shipping", False)), "product_categories": [],
            "excluded_product_categories": [], "exclude_sale_items": bool(payload.get("exclude_sale_items", False)),
            "minimum_amount": "0.00", "maximum_amount": "0.00",
            "email_restrictions": [str(e).lower() for e in payload.get("email_restrictions") or []],
            "used_by": [], "meta_data": []}


def coupon_errors(state: SiteState, payload: Any) -> JSONResponse | None:
    """The coupons controller's refusals: missing code, bad type or amount, a code already in use."""
    if not isinstance(payload, dict):
        return wp_error("rest_invalid_json", "Invalid JSON body passed.", 400)
    if not str(payload.get("code") or "").strip():
        return wp_error("rest_missing_callback_param", "Missing parameter(s): code", 400, params=["code"])
    if payload.get("discount_type", "fixed_cart") not in COUPON_TYPES:
        return wp_error("rest_invalid_param", "Invalid parameter(s): discount_type", 400)
    try:
        to_cents(payload.get("amount") or 0)
    except ValueError:
        return wp_error("rest_invalid_param", "Invalid parameter(s): amount", 400)
    code = str(payload["code"]).strip().lower()
    if any(c["code"] == code for c in state.coupons):
        return wp_error("woocommerce_rest_coupon_code_already_exists", "The coupon code already exists", 400)
    return None


def critical_error(status: int) -> dict[str, Any]:
    """WordPress's answer to a fatal error: the body of an injected fault that brings none."""
    return {"code": "internal_server_error", "message": "There has been a critical error on this website.",
            "data": {"status": status}}


def install(app: FastAPI) -> None:
    sandbox = Instances(SiteState)
    app.state.woocommerce = sandbox
    api = APIRouter(prefix="/woocommerce/{instance}/wp-json/wc/v3")
    admin = APIRouter(prefix="/woocommerce/{instance}/_admin")

    def guard(request: Request, instance: str, body: Any = None) -> tuple[SiteState, dict, Response | None]:
        state = sandbox.get(instance)
        entry = state.requests.record(request, body, state.now().isoformat())
        faulted = fault_answer(state, request, entry, critical_error)
        if faulted:
            return state, entry, faulted
        key, secret = _credentials(request)
        denied = None
        if key is None:
            denied = (wp_error("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401)
                      if request.method == "GET" else
                      wp_error("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.",
                               401))
        elif key != state.consumer_key:
            denied = wp_error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401)
        elif secret != state.consumer_secret:
            denied = wp_error("woocommerce_rest_authentication_error", "Consumer secret is invalid.", 401)
        if denied is not None:
            entry["status"] = 401
        return state, entry, denied

    def reply(entry: dict, content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        content, status, headers = late_answer(entry, content, status, headers, critical_error)
        entry["status"] = status
        return JSONResponse(content, status_code=status, headers=headers)

    def page_of(request: Request, entry: dict, ids: list[int], render: Any) -> Response:
        query = dict(request.query_params)
        try:
            page = int(query.get("page", 1))
            per_page = int(query.get("per_page", 10))
        except ValueError:
            return reply(entry, {"code": "rest_invalid_param", "message": "Invalid parameter(s): page, per_page",
                                 "data": {"status": 400}}, 400)
        if not 1 <= per_page <= MAX_PER_PAGE:
            return reply(entry, {"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page",
                                 "data": {"status": 400, "params": {
                                     "per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"}}},
                         400)
        total = len(ids)
        pages = (total + per_page - 1) // per_page
        chosen = ids[(page - 1) * per_page: page * per_page] if page >= 1 else []
        base = str(request.url).split("?")[0]
        links = []
        if page > 1:
            links.append(f'<{base}?{urlencode({**query, "page": page - 1})}>; rel="prev"')
        if page < pages:
            links.append(f'<{base}?{urlencode({**query, "page": page + 1})}>; rel="next"')
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        if links:
            headers["Link"] = ", ".join(links)
        return reply(entry, [render(i) for i in chosen], headers=headers)

    def filtered(state: SiteState, request: Request, ids: list[int]) -> list[int] | Response:
        query = dict(request.query_params)
        after = query.get("modified_after")
        if after:
            try:
                when = datetime.fromisoformat(after.replace("Z", "+00:00"))
            except ValueError:
                return wp_error("rest_invalid_param", "Invalid parameter(s): modified_after", 400)
            if when.tzinfo is None:
                gmt = query.get("dates_are_gmt") in ("true", "1")
                when = when.replace(tzinfo=timezone.utc if gmt else SITE_TZ)
            newer = {p for p, prod in state.products.items() if prod["date_modified"] > when}
            keep = set()
            for b in state.batches:
                if b.created_at > when:
                    keep.update(range(b.start, b.stop))
            wanted = newer | {p for p in keep if p not in state.products}
            ids = [p for p in ids if p in wanted]
        orderby, order = query.get("orderby", "date"), query.get("order", "desc")
        if orderby in ("date", "modified"):
            field_name = "date_created" if orderby == "date" else "date_modified"
            ids = sorted(ids, key=lambda p: (state.get(p)[field_name], p))
        elif orderby not in ("id", "include", "title", "slug"):
            return wp_error("rest_invalid_param", "Invalid parameter(s): orderby", 400)
        if order == "desc":
            ids = list(reversed(ids))
        return ids

    @api.get("/products")
    def list_products(request: Request, instance: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            ids = filtered(state, request, list(state.product_ids))
            if isinstance(ids, Response):
                entry["status"] = ids.status_code
                return ids
            return page_of(request, entry, ids, lambda p: product_json(state.get(p)))

    @api.get("/products/{product_id}/variations")
    def list_variations(request: Request, instance: str, product_id: int) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            parent = state.get(product_id)
            if parent is None or parent.get("parent_id"):
                return reply(entry, {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.",
                                     "data": {"status": 404}}, 404)
            ids = filtered(state, request, list(parent.get("variations", [])))
            if isinstance(ids, Response):
                entry["status"] = ids.status_code
                return ids
            return page_of(request, entry, ids, lambda v: variation_json(state.get(v)))

    @api.get("/orders")
    def list_orders(request: Request, instance: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        query = dict(request.query_params)
        with state.lock:
            orders = state.orders
            after = query.get("modified_after")
            if after:
                when = datetime.fromisoformat(after.replace("Z", "+00:00"))
                if when.tzinfo is None:
                    when = when.replace(tzinfo=timezone.utc if query.get("dates_are_gmt") in ("true", "1")
                                        else SITE_TZ)
                orders = [o for o in orders if o["_modified"] > when]
            by_id = {o["id"]: o for o in orders}
            ids = sorted(by_id, reverse=query.get("order", "desc") == "desc")
            return page_of(request, entry, ids,
                           lambda i: {k: v for k, v in by_id[i].items() if not k.startswith("_")})

    def apply_update(state: SiteState, entry: dict, product: dict[str, Any], payload: Any,
                     render: Any) -> Response:
        if not isinstance(payload, dict):
            return reply(entry, {"code": "rest_invalid_json", "message": "Invalid JSON body passed.",
                                 "data": {"status": 400}}, 400)
        if "backorders" in payload and payload["backorders"] not in ("no", "notify", "yes"):
            return reply(entry, {"code": "rest_invalid_param", "message": "Invalid parameter(s): backorders",
                                 "data": {"status": 400}}, 400)
        if "stock_status" in payload and payload["stock_status"] not in ("instock", "outofstock", "onbackorder"):
            return reply(entry, {"code": "rest_invalid_param", "message": "Invalid parameter(s): stock_status",
                                 "data": {"status": 400}}, 400)
        with state.lock:
            updated = dict(product)
            for key in ("stock_quantity", "manage_stock", "backorders", "stock_status", "sku", "name"):
                if key in payload:
                    updated[key] = payload[key]
            updated["stock_status"] = stock_status(bool(updated["manage_stock"]), updated["stock_quantity"],
                                                   updated["backorders"], updated["stock_status"])
            updated["date_modified"] = state.now()
            state.store(updated)
        deliver(state, "product.updated", product_json(updated))
        return reply(entry, render(updated))

    @api.put("/products/{product_id}")
    def update_product(request: Request, instance: str, product_id: int, payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        product = state.get(product_id)
        if product is None:
            return reply(entry, {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.",
                                 "data": {"status": 400}}, 400)
        if product["type"] == "variation":
            return reply(entry, {"code": "woocommerce_rest_invalid_product_id", "message":
                                 "To manipulate product variations you should use the "
                                 "/products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.",
                                 "data": {"status": 404}}, 404)
        return apply_update(state, entry, product, payload, product_json)

    @api.put("/products/{product_id}/variations/{variation_id}")
    def update_variation(request: Request, instance: str, product_id: int, variation_id: int,
                         payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        variation = state.get(variation_id)
        if variation is None or variation.get("parent_id") != product_id:
            return reply(entry, {"code": "woocommerce_rest_product_variation_invalid_id",
                                 "message": "Invalid ID.", "data": {"status": 400}}, 400)
        return apply_update(state, entry, variation, payload, variation_json)

    # --- orders' money: refunds and coupons --------------------------------------------------

    def invalid_order() -> JSONResponse:
        return wp_error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)

    @api.get("/orders/{order_id}")
    def get_order(request: Request, instance: str, order_id: int) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            order = find_order(state, order_id)
            body = public_order(order) if order else None
        if body is None:
            entry["status"] = 404
            return invalid_order()
        return reply(entry, body)

    @api.get("/orders/{order_id}/refunds")
    def list_refunds(request: Request, instance: str, order_id: int) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            if find_order(state, order_id) is None:
                entry["status"] = 404
                return wp_error("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
            by_id = {r["id"]: r for r in state.refunds.get(order_id, [])}
            return page_of(request, entry, list(by_id), lambda rid: refund_json(by_id[rid]))

    def refund_refusal(state: SiteState, order: dict[str, Any] | None, payload: Any,
                       ) -> tuple[JSONResponse | None, int, list[dict[str, Any]]]:
        """The v3 controller's and ``wc_create_refund``'s checks, in their order; (refusal, cents, lines)."""
        if order is None:
            return wp_error("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404), 0, []
        if not isinstance(payload, dict):
            return wp_error("rest_invalid_json", "Invalid JSON body passed.", 400), 0, []
        lines, bad = refund_line_items(order, payload.get("line_items"))
        if bad:
            return wp_error("rest_invalid_param", f"Invalid parameter(s): {bad}", 400), 0, []
        try:
            cents = (to_cents(payload["amount"]) if payload.get("amount") not in (None, "")
                     else sum(item["total"] for item in lines))
        except ValueError:
            return wp_error("rest_invalid_param", "Invalid parameter(s): amount", 400), 0, []
        if cents < 0:
            return wp_error("woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.",
                            400), 0, []
        if cents > to_cents(order["total"]) - refunded_cents(state, order["id"]):
            return wp_error(CANNOT_REFUND, "Invalid refund amount.", 500), 0, []
        gateway_error = gateway_refund_error(order) if payload.get("api_refund", True) is not False else None
        if gateway_error:
            return wp_error(CANNOT_REFUND, gateway_error, 500), 0, []
        return None, cents, lines

    @api.post("/orders/{order_id}/refunds")
    def create_refund(request: Request, instance: str, order_id: int, payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        with state.lock:
            order = find_order(state, order_id)
            refusal, cents, lines = refund_refusal(state, order, payload)
            if refusal is None:
                refund = build_refund(state, order, payload, cents, lines,
                                      refunded_payment=payload.get("api_refund", True) is not False)
                restocked = apply_refund(state, order, refund, lines, payload.get("api_restock", True) is not False)
        if refusal is not None:
            entry["status"] = refusal.status_code
            return refusal
        for product in restocked:
            deliver(state, "product.updated", product_json(product))
        return reply(entry, refund_json(refund), 201)

    @api.post("/coupons")
    def create_coupon(request: Request, instance: str, payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        with state.lock:
            refusal = coupon_errors(state, payload)
            if refusal is None:
                coupon = build_coupon(state, payload)
                state.coupons.append(coupon)
        if refusal is not None:
            entry["status"] = refusal.status_code
            return refusal
        return reply(entry, coupon_json(coupon), 201)

    @api.get("/coupons")
    def list_coupons(request: Request, instance: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        code = request.query_params.get("code")
        with state.lock:
            by_id = {c["id"]: c for c in state.coupons if code is None or c["code"] == code.strip().lower()}
            return page_of(request, entry, sorted(by_id, reverse=True), lambda cid: coupon_json(by_id[cid]))

    @api.get("/coupons/{coupon_id}")
    def get_coupon(request: Request, instance: str, coupon_id: int) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            coupon = next((coupon_json(c) for c in state.coupons if c["id"] == coupon_id), None)
        if coupon is None:
            entry["status"] = 404
            return wp_error("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.", 404)
        return reply(entry, coupon)

    # --- admin ------------------------------------------------------------------------------

    @admin.post("/seed")
    def seed(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        state = sandbox.get(instance)
        with state.lock:
            if payload.get("reset", True):
                state.product_ids, state.batches, state.products, state.sku_index = [], [], {}, {}
                state.orders, state.refunds, state.coupons = [], {}, []
            now = state.now()
            count = int(payload.get("count", 0))
            if count:
                start = state.allocate(count)
                state.batches.append(Batch(start, start + count, payload.get("sku_prefix", "SKU-"),
                                           int(payload.get("stock_quantity", 10)),
                                           payload.get("backorders", "no"), now))
                state.product_ids.extend(range(start, start + count))
            created = []
            for spec in payload.get("items", []):
                product = _new_product(state, spec, now, parent_id=0)
                state.product_ids.append(product["id"])
                for vspec in spec.get("variations", []):
                    variation = _new_product(state, {**vspec, "type": "variation"}, now, parent_id=product["id"])
                    product["variations"].append(variation["id"])
                    state.store(variation)
                state.store(product)
                created.append(admin_item(state, product))
            return {"total": len(state.product_ids), "items": created}

    @admin.post("/config")
    def config(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        state = sandbox.get(instance)
        state.consumer_key = payload.get("consumer_key", state.consumer_key)
        state.consumer_secret = payload.get("consumer_secret", state.consumer_secret)
        return {"consumer_key": state.consumer_key}

    @admin.post("/clock")
    def clock(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        state = sandbox.get(instance)
        state.clock_offset += timedelta(seconds=float(payload.get("advance_s", 0)))
        if "freeze" in payload:
            state.frozen_at = state.now() - state.clock_offset if payload["freeze"] else None
        return {"now_gmt": _gmt(state.now())}

    @admin.post("/set_stock")
    def set_stock(instance: str, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        state = sandbox.get(instance)
        with state.lock:
            pid = state.id_for_sku(str(payload.get("sku")))
            if pid is None:
                return JSONResponse({"error": f"unknown sku {payload.get('sku')}"}, status_code=404)
            product = dict(state.get(pid))
            for key in ("stock_quantity", "backorders", "manage_stock"):
                if key in payload:
                    product[key] = payload[key]
            product["stock_status"] = stock_status(bool(product["manage_stock"]), product["stock_quantity"],
                                                   product["backorders"], product["stock_status"])
            product["date_modified"] = state.now()
            state.store(product)
        hooks = deliver(state, "product.updated", product_json(product))
        return JSONResponse({"item": admin_item(state, product), "webhooks": hooks})

    @admin.post("/create_order")
    def create_order(instance: str, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        state = sandbox.get(instance)
        with state.lock:
            now = state.now()
            order_id = state.allocate()
            lines = []
            for n, spec in enumerate(payload.get("lines", [])):
                pid = state.id_for_sku(str(spec["sku"]))
                if pid is None:
                    return JSONResponse({"error": f"unknown sku {spec['sku']}"}, status_code=404)
                product = dict(state.get(pid))
                quantity = int(spec.get("quantity", 1))
                if product["manage_stock"]:
                    product["stock_quantity"] = (product["stock_quantity"] or 0) - quantity
                    product["stock_status"] = stock_status(True, product["stock_quantity"], product["backorders"],
                                                           product["stock_status"])
                    state.store(product)
                price = str(spec.get("price", "10.00"))
                lines.append({"id": order_id * 100 + n, "name": product["name"],
                              "product_id": product["parent_id"] or pid,
                              "variation_id": pid if product["parent_id"] else 0, "quantity": quantity,
                              "sku": product["sku"], "price": float(price),
                              "total": f"{float(price) * quantity:.2f}"})
            billing = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "",
                       **payload.get("billing", {})}
            order = {"id": order_id, "number": str(order_id), "status": payload.get("status", "processing"),
                     "currency": payload.get("currency", "USD"),
                     "date_created": _local(now), "date_created_gmt": _gmt(now),
                     "date_modified": _local(now), "date_modified_gmt": _gmt(now),
                     "total": f"{sum(float(line['total']) for line in lines):.2f}", "billing": billing,
                     "payment_method": payload.get("payment_method", "stripe"),
                     "payment_method_title": payload.get("payment_method_title", "Credit Card (Stripe)"),
                     "line_items": lines, "refunds": [], "_modified": now}
            state.orders.append(order)
            public = {k: v for k, v in order.items() if not k.startswith("_")}
        hooks = deliver(state, "order.created", public)
        return JSONResponse({"order": public, "webhooks": hooks})

    @admin.post("/webhooks")
    def add_webhook(instance: str, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
        state = sandbox.get(instance)
        hook = {"id": len(state.webhooks) + 1, "address": payload["address"], "secret": payload["secret"],
                "topics": list(payload.get("topics") or [payload.get("topic")]), "status": "active"}
        state.webhooks.append(hook)
        ping = deliver_ping(state, hook) if payload.get("ping", True) else None
        return {"webhook": hook, "ping": ping}

    @admin.get("/webhooks")
    def list_webhooks(instance: str) -> dict[str, Any]:
        state = sandbox.get(instance)
        return {"webhooks": state.webhooks, "deliveries": state.deliveries}

    @admin.get("/state/items")
    def state_items(instance: str, skus: str | None = None, offset: int = 0, limit: int = 100) -> JSONResponse:
        state = sandbox.get(instance)
        with state.lock:
            if skus:
                ids = [state.id_for_sku(s) for s in skus.split(",")]
                items = [state.get(i) for i in ids if i is not None]
            else:
                items = [state.get(i) for i in state.product_ids[offset:offset + limit]]
            return JSONResponse({"total": len(state.product_ids), "items": [admin_item(state, p) for p in items]})

    @admin.get("/state/orders/{order_id}")
    def state_order(instance: str, order_id: int) -> JSONResponse:
        """An order with its full refunds (not just the summaries), for tests to assert on."""
        state = sandbox.get(instance)
        with state.lock:
            order = find_order(state, order_id)
            if order is None:
                return JSONResponse({"error": f"unknown order {order_id}"}, status_code=404)
            return JSONResponse({**public_order(order),
                                 "refunds_full": [refund_json(r) for r in state.refunds.get(order_id, [])]})

    @admin.get("/state/coupons")
    def state_coupons(instance: str) -> JSONResponse:
        state = sandbox.get(instance)
        with state.lock:
            return JSONResponse({"coupons": [coupon_json(c) for c in state.coupons]})

    install_order_creation(api, guard, reply)
    add_fault_routes(admin, sandbox, any_fault)
    add_request_log_routes(admin, sandbox)
    app.include_router(api)
    app.include_router(admin)


def _credentials(request: Request) -> tuple[str | None, str | None]:
    """Basic auth header first; the ``consumer_key``/``consumer_secret`` query fallback second."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return key, secret
        except (ValueError, UnicodeDecodeError):
            return None, None
    query = request.query_params
    if query.get("consumer_key"):
        return query.get("consumer_key"), query.get("consumer_secret")
    return None, None


def _new_product(state: SiteState, spec: dict[str, Any], now: datetime, parent_id: int) -> dict[str, Any]:
    manage = bool(spec.get("manage_stock", True))
    quantity = spec.get("stock_quantity", 0) if manage else None
    backorders = spec.get("backorders", "no")
    return {"id": state.allocate(), "name": spec.get("name", spec["sku"]), "type": spec.get("type", "simple"),
            "sku": spec["sku"], "manage_stock": manage, "stock_quantity": quantity, "backorders": backorders,
            "stock_status": stock_status(manage, quantity, backorders, spec.get("stock_status", "instock")),
            "parent_id": parent_id, "variations": [], "date_created": now, "date_modified": now}


def admin_item(state: SiteState, p: dict[str, Any]) -> dict[str, Any]:
    return {"sku": p["sku"], "id": str(p["id"]), "parent_id": str(p["parent_id"]) if p.get("parent_id") else None,
            "type": p["type"], "manage_stock": p["manage_stock"], "stock_quantity": p["stock_quantity"],
            "stock_status": p["stock_status"], "backorders": p["backorders"],
            "variations": [str(v) for v in p.get("variations", [])], "date_modified_gmt": _gmt(p["date_modified"])}


# --- creating orders ----------------------------------------------------------------------------

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")
#: Statuses in which WooCommerce has reduced the stock of the order's items
#: (``wc_maybe_reduce_stock_levels``).
STOCK_REDUCING = ("processing", "on-hold", "completed")


def order_refusal(state: SiteState, payload: Any
                  ) -> tuple[JSONResponse | None, list[tuple[dict[str, Any], dict]]]:
    """The orders controller's checks on a create: (refusal, [(product, line spec)])."""
    if not isinstance(payload, dict):
        return wp_error("rest_invalid_json", "Invalid JSON body passed.", 400), []
    if payload.get("status", "pending") not in ORDER_STATUSES:
        return wp_error("rest_invalid_param", "Invalid parameter(s): status", 400,
                        params={"status": "status is not one of " + ", ".join(ORDER_STATUSES) + "."}), []
    specs = payload.get("line_items") or []
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        return wp_error("rest_invalid_param", "Invalid parameter(s): line_items", 400), []
    lines = []
    for spec in specs:
        pid = spec.get("variation_id") or spec.get("product_id")
        if not pid:
            return wp_error("woocommerce_rest_required_product_reference", "Product ID or SKU is required.",
                            400), []
        try:
            product = state.get(int(pid))
            quantity = int(spec.get("quantity", 1))
            for key in ("subtotal", "total"):
                if spec.get(key) is not None:
                    to_cents(spec[key])
        except (TypeError, ValueError):
            return wp_error("rest_invalid_param", "Invalid parameter(s): line_items", 400), []
        wrong_parent = spec.get("variation_id") and product is not None and \
            product.get("parent_id") != int(spec.get("product_id") or 0)
        if product is None or wrong_parent:
            return wp_error("woocommerce_rest_invalid_product_id", "Invalid product ID.", 400), []
        if quantity <= 0:
            return wp_error("woocommerce_rest_invalid_product_quantity",
                            "Product quantity must be a positive float.", 400), []
        lines.append((product, spec))
    return None, lines


def build_order(state: SiteState, payload: dict[str, Any], lines: list[tuple[dict[str, Any], dict]]
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order as the REST API answers it; stock reduced when it is created paid or processing."""
    now = state.now()
    order_id = state.allocate()
    status = "processing" if payload.get("set_paid") else payload.get("status", "pending")
    items, reduced = [], []
    for n, (product, spec) in enumerate(lines):
        quantity = int(spec.get("quantity", 1))
        subtotal = to_cents(spec["subtotal"]) if spec.get("subtotal") is not None else 1000 * quantity
        total = to_cents(spec["total"]) if spec.get("total") is not None else subtotal
        items.append({"id": order_id * 100 + n, "name": product["name"],
                      "product_id": product["parent_id"] or product["id"],
                      "variation_id": product["id"] if product["parent_id"] else 0, "quantity": quantity,
                      "sku": product["sku"], "price": subtotal / 100 / quantity,
                      "subtotal": to_money(subtotal),
                      "total": to_money(total), "meta_data": []})
        if status in STOCK_REDUCING and product["manage_stock"]:
            product = dict(product, stock_quantity=(product["stock_quantity"] or 0) - quantity,
                           date_modified=now)
            product["stock_status"] = stock_status(True, product["stock_quantity"], product["backorders"],
                                                   product["stock_status"])
            state.store(product)
            reduced.append(product)
    total = sum(to_cents(i["total"]) for i in items)
    order = {"id": order_id, "number": str(order_id), "status": status,
             "currency": payload.get("currency", "USD"),
             "customer_id": int(payload.get("customer_id") or 0), "created_via": "rest-api",
             "date_created": _local(now), "date_created_gmt": _gmt(now),
             "date_modified": _local(now), "date_modified_gmt": _gmt(now),
             "date_paid": _local(now) if payload.get("set_paid") else None,
             "discount_total": to_money(sum(to_cents(i["subtotal"]) - to_cents(i["total"]) for i in items)),
             "total": to_money(total), "billing": payload.get("billing") or {},
             "shipping": payload.get("shipping") or {},
             "payment_method": payload.get("payment_method", ""),
             "payment_method_title": payload.get("payment_method_title", ""),
             "customer_note": payload.get("customer_note", ""),
             "meta_data": [{"id": state.allocate(), "key": m.get("key"), "value": m.get("value")}
                           for m in payload.get("meta_data") or [] if isinstance(m, dict)],
             "line_items": items, "refunds": [], "_modified": now}
    state.orders.append(order)
    return order, reduced


def install_order_creation(api: APIRouter, guard: Any, reply: Any) -> None:
    """``POST orders``: validated as the v3 controller does, answered 201 with the order."""

    @api.post("/orders")
    def create_order_route(request: Request, instance: str, payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        with state.lock:
            refusal, lines = order_refusal(state, payload)
            if refusal is None:
                order, reduced = build_order(state, payload, lines)
                public = public_order(order)
        if refusal is not None:
            entry["status"] = refusal.status_code
            return refusal
        deliver(state, "order.created", public)
        for product in reduced:
            deliver(state, "product.updated", product_json(product))
        return reply(entry, public, 201)
