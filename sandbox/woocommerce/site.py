"""The WooCommerce stand-in's declarations: the site's state, JSON renderings, errors, webhooks, the kit.

Errors are WordPress REST bodies ``{"code", "message", "data": {"status"}}``; dates come twice,
site-local and ``_gmt`` (https://woocommerce.github.io/woocommerce-rest-api-docs/). Webhooks are
signed with ``X-WC-Webhook-Signature``, the base64 HMAC-SHA256 of the body, and carry
``X-WC-Webhook-Delivery-ID`` as ``WC_Webhook::get_new_delivery_id`` derives it
(https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/,
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-webhook.php).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from sandbox.kit import (Batch, CatalogRecords, Endpoints, Fixtures, KeyAndSecret, KitState, LazyCatalog,
                         NumberedPages, Refusal, Refusals, Signed, SiteDates, StandIn, StockStatus, changed_since,
                         send, shown as public, subscribe, wp_body, wp_error, wp_invalid as invalid_params,
                         wp_schema as schema)

DEFAULT_KEY = "ck_sandbox"
DEFAULT_SECRET = "cs_sandbox"
SITE_TZ = timezone(timedelta(hours=2))
DATES = SiteDates(SITE_TZ)
local, gmt = DATES.local, DATES.gmt
#: What new records hold that a request does not set, and the resources' JSON (``fixtures/<name>.json``).
fixture = Fixtures(__file__, {"local": local, "gmt": gmt, "text": str})
#: WooCommerce's errors by name, ``[code, message, status]`` as the controllers answer them.
ERRORS = fixture("errors")
#: ``WC_Product_Data_Store_CPT``: a managed stock's status follows its quantity and ``backorders``.
STOCK = StockStatus("instock", "onbackorder", "outofstock")
with_stock = STOCK.changed
USER_AGENT = "WooCommerce/9.4.0 Hookshot (WordPress/6.7)"
INVALID_JSON = ("rest_invalid_json", "Invalid JSON body passed.")


def product(pid: int, spec: dict[str, Any], now: datetime, parent_id: int = 0) -> dict[str, Any]:
    """A stored product from a seed spec (``sku``, ``name``, ``type``, ``manage_stock``,
    ``stock_quantity``, ``backorders``, ``stock_status``)."""
    manage = bool(spec.get("manage_stock", True))
    return STOCK.changed({"id": pid, "name": spec.get("name", spec["sku"]), "type": spec.get("type", "simple"),
                          "sku": spec["sku"], "manage_stock": manage, "backorders": spec.get("backorders", "no"),
                          "stock_quantity": spec.get("stock_quantity", 0) if manage else None,
                          "stock_status": spec.get("stock_status", "instock"), "parent_id": parent_id,
                          "variations": [], "date_created": now}, now)


def generated_product(batch: Batch, pid: int) -> dict[str, Any]:
    return product(pid, {"sku": f"{batch.prefix}{pid:06d}", "name": f"Generated item {pid}",
                         "stock_quantity": batch.defaults["quantity"], "backorders": batch.defaults["backorders"]},
                   batch.created_at)


@dataclass
class SiteState(CatalogRecords, KitState):
    """Products, variations, orders, refunds and coupons share one id sequence (all are posts)."""

    consumer_key: str = DEFAULT_KEY
    consumer_secret: str = DEFAULT_SECRET
    next_id: int = 10
    product_ids: list[int] = field(default_factory=list)
    catalog: LazyCatalog[dict[str, Any]] = field(default_factory=lambda: LazyCatalog(
        generated_product, lambda p: p.get("sku"), key_of=lambda p: p["id"], stamp=lambda p: p["date_modified"]))
    refunds: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    coupons: list[dict[str, Any]] = field(default_factory=list)


def error(name: str) -> tuple[dict[str, Any], int]:
    """``raise call.refuse(*error(name))``: the named error's body and status."""
    return wp_body(*ERRORS[name]), ERRORS[name][2]


def wp(refusal: Refusal, error: tuple[Any, ...]) -> tuple[int, Any]:
    """A WordPress error body from (code, message naming ``{field}``, status[, data])."""
    code, message, status, *data = error
    return status, wp_body(code, message.format(field=refusal.top), status, **(data[0] if data else {}))


#: Every refusal the endpoints raise as WooCommerce answers it, ``[code, message naming {field},
#: status, data?]`` (the most specific key answers).
REFUSALS = Refusals(fixture("refusals"), wp)


def critical_error(status: int) -> dict[str, Any]:
    """WordPress's answer to a fatal error: the body of an injected fault that brings none."""
    return wp_body(*ERRORS["critical"][:2], status)


def no_credentials(request: Request) -> JSONResponse:
    return wp_error(*ERRORS["cannot_view" if request.method == "GET" else "cannot_edit"])


def delivery_id(state: SiteState, hook: dict[str, Any]) -> str:
    """``WC_Webhook::get_new_delivery_id``: ``wp_hash(webhook id . strtotime('now'))``, an HMAC-MD5
    keyed with the site's salt. Every delivery of one webhook within one second shares it."""
    second = int(state.now().timestamp())
    return hmac.new(f"{state.name}-auth-salt".encode(), f"{hook['id']}{second}".encode(), hashlib.md5).hexdigest()


def add_webhook(state: SiteState, payload: dict[str, Any]) -> dict[str, Any]:
    """Subscribe, then ping the address as ``WC_Webhook::deliver_ping`` does on saving a webhook
    (form body ``webhook_id=N``, a user agent, no signature); ``ping: false`` skips it."""
    hook = subscribe(state, payload, status="active")
    return {"webhook": hook, "ping": deliver_ping(state, hook) if payload.get("ping", True) else None}


def deliver_ping(state: SiteState, hook: dict[str, Any]) -> dict[str, Any]:
    """``WC_Webhook::deliver_ping``: form body ``webhook_id=N``, a user agent, no signature."""
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"}
    return send(state, hook, "webhook.ping", f"webhook_id={hook['id']}".encode(), headers)


kit: StandIn[SiteState] = StandIn(
    "woocommerce", "/wp-json/wc/v3", SiteState, error_body=critical_error,
    auth=KeyAndSecret(
        missing=no_credentials,
        bad_key=lambda: wp_error(*ERRORS["bad_key"]), bad_secret=lambda: wp_error(*ERRORS["bad_secret"])),
    clock_view=lambda now: {"now_gmt": gmt(now)}, webhook_admin=True, subscribe=add_webhook,
    deliver=lambda call, events: webhooks.deliver_all(call.state, events))
pages = NumberedPages(invalid_params, max_per_page=100, default_per_page=10)
#: Endpoints declared one a line (``api.one``, ``api.many``, ``api.write``), refused as WooCommerce
#: does: as they are, never spoiled by an ``after_apply`` fault.
api = Endpoints(kit, REFUSALS, lambda call: call.refuse_as_is)
#: ``WC_Webhook::deliver``'s headers, signed with the base64 HMAC-SHA256 of the body.
webhooks = Signed({
    "Content-Type": "application/json", "User-Agent": USER_AGENT, "X-WC-Webhook-Source": "https://{instance}.example/",
    "X-WC-Webhook-Topic": "{topic}", "X-WC-Webhook-Resource": "{resource}", "X-WC-Webhook-Event": "{event}",
    "X-WC-Webhook-Signature": "{signature}", "X-WC-Webhook-ID": "{hook_id}", "X-WC-Webhook-Delivery-ID": "{delivery}",
}, values=lambda state, hook: {"delivery": delivery_id(state, hook)})


def modified_after(value: str, query: dict[str, str]) -> datetime:
    """``modified_after``, read in the site's zone unless ``dates_are_gmt``."""
    return DATES.read(value, query.get("dates_are_gmt") in ("true", "1"))


changed_after = changed_since("modified_after", modified_after, strictly=True)


# --- JSON renderings (``fixtures/<name>.json``) -----------------------------------------------------


def derived(p: dict[str, Any]) -> dict[str, Any]:
    """What a product's JSON derives from the record: no quantity unless managed, whether backorders
    are allowed or in use, a copy of its variations."""
    qty = p["stock_quantity"] if p["manage_stock"] else None
    return {"quantity": qty, "allowed": p["backorders"] != "no", "variations": list(p["variations"]),
            "backordered": bool(p["manage_stock"] and p["backorders"] != "no" and (qty or 0) <= 0)}


def product_json(p: dict[str, Any]) -> dict[str, Any]:
    """The REST v3 product (or variation, with ``type: variation`` and ``parent_id``) body."""
    return fixture.fill("product", p, **derived(p))


def variation_json(p: dict[str, Any]) -> dict[str, Any]:
    return fixture.fill("variation", p, **derived(p))


def order_line(product: dict[str, Any], quantity: int, **money: Any) -> dict[str, Any]:
    return {"name": product["name"], "product_id": product["parent_id"] or product["id"],
            "variation_id": product["id"] if product["parent_id"] else 0, "quantity": quantity,
            "sku": product["sku"], **money}


def admin_item(state: SiteState, p: dict[str, Any]) -> dict[str, Any]:
    return fixture.fill("admin_item", p, parent=str(p["parent_id"]) if p["parent_id"] else None,
                        variations=[str(v) for v in p["variations"]])
