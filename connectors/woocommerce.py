"""WooCommerce REST API v3 connector: stock, orders, write-back and webhooks for one site.

Public docs this follows:

* REST API v3 reference (products, variations, orders, pagination headers ``X-WP-Total`` /
  ``X-WP-TotalPages``, ``per_page`` ≤ 100, ``modified_after`` / ``dates_are_gmt`` since WC 5.8):
  https://woocommerce.github.io/woocommerce-rest-api-docs/
* Authentication (HTTP Basic ``consumer_key:consumer_secret`` over HTTPS):
  https://developer.woocommerce.com/docs/apis/rest-api/authentication/
* Webhooks (``X-WC-Webhook-*`` headers, base64 HMAC-SHA256 signature, unsigned ping body
  ``webhook_id=N``): https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/ and
  https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-webhook.php
  (``deliver_ping`` sends no signature header).

Webhook dedupe key: resource, id, ``date_modified_gmt`` and a SHA-256 of the raw body. Not the
``X-WC-Webhook-Delivery-ID`` header: ``WC_Webhook::get_new_delivery_id`` (same file) is
``wp_hash(webhook id . strtotime('now'))``, so every delivery of one webhook within one second
carries the same id (two different stock figures in that second would look like one), and each
new attempt gets a new id. Not ``date_modified`` alone either: it has one-second resolution. The
body hash is the same for a repeated delivery of one change and differs as soon as any figure
differs, so both figures of one second are stored and applied in arrival order (the later wins).

Refunds and store credit (``refund_line`` / ``credit_line``):

* Order refunds: https://developer.woocommerce.com/docs/apis/rest-api/v3/order-refunds/ (and
  https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-refund) — ``POST
  orders/{id}/refunds`` with ``amount`` (string; wins over the line totals), ``reason``,
  ``line_items: [{id, quantity, refund_total}]``, ``api_refund`` (default true: the gateway
  pays the money back) and ``api_restock``; ``GET orders/{id}/refunds`` lists them.
  The v3 controller (``class-wc-rest-order-refunds-controller.php``) answers a negative amount
  with 400 ``woocommerce_rest_invalid_order_refund``, but wraps every ``wc_create_refund``
  refusal as **HTTP 500** ``woocommerce_rest_cannot_create_order_refund`` with its message
  ("Invalid refund amount.", "The payment gateway for this order does not support automatic
  refunds.", …). Those deterministic messages are re-raised as :class:`PermanentError` so they
  alert instead of retrying forever; other 500s stay transient (WC rolls the refund back when
  the gateway fails, so a retry is safe).
* Coupons: https://woocommerce.github.io/woocommerce-rest-api-docs/#coupons — core has no store
  credit, so credit is a ``fixed_cart`` coupon with ``usage_limit: 1`` and
  ``email_restrictions: [customer email]``; a second create of a code answers 400
  ``woocommerce_rest_coupon_code_already_exists`` "The coupon code already exists"
  (``class-wc-rest-coupons-controller.php``), then ``GET coupons?code=`` reads it back.

At most once per idempotency key: the key travels as ``[idempotency:<key>]`` in the refund
``reason`` (listed before creating, so a retry after a 5xx or a timeout finds the first refund)
and the coupon code is ``credit-`` + ``HMAC-SHA256(secret, key)[:12]`` (secret:
``options["credit_code_secret"]``, else the consumer secret). Options: ``api_refund`` (default true).

Substitute orders (``place_substitute``):
https://woocommerce.github.io/woocommerce-rest-api-docs/#create-an-order — ``POST orders`` with
``customer_id``, ``billing``, ``shipping``, ``payment_method``, ``set_paid``, ``status`` and
``line_items: [{product_id, variation_id, quantity, subtotal, total}]`` (``total`` is the line
after discounts: what the customer already paid for the backordered line comes off it),
``customer_note`` and ``meta_data``. Fully covered orders are created paid (``set_paid: true``,
processing); an order with a difference due is ``pending`` (payment pending). No idempotency
header: the key travels in ``meta_data`` (``_backorder_substitute``) and a retry lists the
orders modified since the first attempt first.

Incremental fetches use ``modified_after`` with ``dates_are_gmt=true``; WordPress compares it
strictly (``after``, not inclusive) at one-second resolution, so the query goes back
``overlap_s`` (default 1) before the cursor: a boundary record is re-read rather than lost.

Known limit: a variation whose stock changes without its parent's ``date_modified`` moving is
not seen by the incremental product listing; the ``product.updated`` webhook (WooCommerce fires
it for variations) and the periodic full fetch cover it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar, Iterator, Mapping
from urllib.parse import parse_qs

from requests.auth import AuthBase

from connectors.base import (
    BasicAuth,
    PageNumberPaginator,
    RestConnector,
    cents_to_money,
    header_value,
    idempotency_marker,
    money_cents,
    newest,
    parse_timestamp,
    utc_iso,
    verify_base64_hmac,
    with_last_flag,
)
from connectors.capabilities import Capability
from connectors.errors import (
    ConnectorError,
    MalformedPayloadError,
    PermanentError,
    SignatureError,
    TransientError,
)
from connectors.types import (
    ListingRef,
    OrderLineRecord,
    OrderPage,
    OrderRecord,
    PushResult,
    RefundRequest,
    RefundResult,
    StockPage,
    StockRecord,
    SubstituteOrderRequest,
    SubstituteOrderResult,
    WebhookEvent,
    WebhookKind,
)

MAX_PER_PAGE = 100
PING_BODY = re.compile(rb"^webhook_id=\d+$")

TOPIC_KINDS: dict[str, WebhookKind] = {
    "product.updated": "sku_modified",
    "product.created": "sku_modified",
    "order.created": "order_created",
}


def stock_status_for(available: int, backorder: bool) -> str:
    """What the storefront should show: sellable stock wins, then backorder, else sold out."""
    if available > 0:
        return "instock"
    return "onbackorder" if backorder else "outofstock"


#: ``wc_create_refund`` refusals that WooCommerce wraps as HTTP 500 ``woocommerce_rest_cannot_create_order_refund``
#: although retrying cannot change them (the refund is rolled back first). Anything else behind that
#: code (e.g. "Cannot create order refund, please try again.", a gateway's own outage) stays transient.
DETERMINISTIC_REFUND_REFUSALS = (
    "Invalid refund amount.",
    "Invalid order ID.",
    "The payment gateway for this order does not support automatic refunds.",
    "The payment gateway for this order does not exist.",
)


def wp_error_body(exc: ConnectorError) -> dict[str, Any]:
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def wp_error_code(exc: ConnectorError) -> str | None:
    return wp_error_body(exc).get("code")


def refusal_behind_500(exc: TransientError) -> PermanentError | None:
    """A 500 that is really a business refusal (over-refund, gateway cannot refund) → PermanentError."""
    body = wp_error_body(exc)
    if exc.status_code != 500 or body.get("code") != "woocommerce_rest_cannot_create_order_refund":
        return None
    if body.get("message") not in DETERMINISTIC_REFUND_REFUSALS:
        return None
    return PermanentError(str(exc), status_code=exc.status_code, platform=exc.platform, body=exc.body)


class WooCommerceConnector(RestConnector):
    """One WooCommerce site over ``/wp-json/wc/v3``."""

    platform: ClassVar[str] = "woocommerce"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.STOCK_WRITE, Capability.ORDERS, Capability.REFUNDS,
        Capability.STORE_CREDIT, Capability.SUBSTITUTE_ORDERS, Capability.WEBHOOKS})
    stock_per_location: ClassVar[bool] = False
    api_prefix: ClassVar[str] = "/wp-json/wc/v3"

    def __init__(self, config: Any, **kwargs: Any) -> None:
        self.per_page = min(int(config.options.get("page_size", MAX_PER_PAGE)), MAX_PER_PAGE)
        self.overlap = timedelta(seconds=float(config.options.get("overlap_s", 1)))
        super().__init__(config, **kwargs)

    def build_auth(self) -> AuthBase:
        creds = self.config.credentials
        return BasicAuth(creds.get("consumer_key", ""), creds.get("consumer_secret", ""))

    def _paginator(self) -> PageNumberPaginator:
        return PageNumberPaginator(page_size=self.per_page)

    def _since_params(self, since: str | None) -> dict[str, Any]:
        when = parse_timestamp(since)
        if when is None:
            return {}
        # With dates_are_gmt the value is a UTC wall-clock time without offset, as WC documents it.
        return {"modified_after": utc_iso(when - self.overlap).replace("+00:00", ""), "dates_are_gmt": "true"}

    # --- stock ------------------------------------------------------------------------------

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Pages of products (ordered by id, so inserts during the walk do not shift pages).

        Variable products are expanded into their variations, which carry the stock. Only the
        last page moves the cursor (to the newest ``date_modified_gmt`` seen).
        """
        params = {**self._since_params(since), "orderby": "id", "order": "asc"}
        params = self._paginator().first_params(params)
        pages = self.paginate("products", params, self._paginator(), lambda body: body or [])
        high = parse_timestamp(since)
        for products, is_last in with_last_flag(pages):
            records: list[StockRecord] = []
            for product in products:
                if product.get("type") == "variable":
                    records.extend(self._variations(str(product["id"])))
                else:
                    records.append(self.stock_record(product))
            high = newest(high, *(r.updated_at for r in records))
            yield StockPage(records=records, cursor=utc_iso(high) if is_last and high else since)

    def _variations(self, product_id: str) -> Iterator[StockRecord]:
        params = self._paginator().first_params({"orderby": "id", "order": "asc"})
        for variations in self.paginate(f"products/{product_id}/variations", params, self._paginator(),
                                        lambda body: body or []):
            for variation in variations:
                yield self.stock_record(variation, parent_id=product_id)

    @staticmethod
    def stock_record(item: Mapping[str, Any], parent_id: str | None = None) -> StockRecord:
        """Map a product or variation; ``stock_quantity`` only means something with ``manage_stock``."""
        managed = item.get("manage_stock") not in (False, None)
        quantity = item.get("stock_quantity") if managed else None
        parent = parent_id or (str(item["parent_id"]) if item.get("parent_id") else None)
        return StockRecord(
            external_id=str(item["id"]),
            sku=item.get("sku") or None,
            on_hand=None if quantity is None else int(quantity),
            available=None if quantity is None else int(quantity),
            updated_at=parse_timestamp(item.get("date_modified_gmt")),
            backorders_allowed=(item.get("backorders") or "no") != "no",
            parent_external_id=parent,
        )

    # --- orders -----------------------------------------------------------------------------

    def fetch_orders(self, since: str | None) -> Iterator[OrderPage]:
        params = {**self._since_params(since), "orderby": "id", "order": "asc"}
        params = self._paginator().first_params(params)
        pages = self.paginate("orders", params, self._paginator(), lambda body: body or [])
        high = parse_timestamp(since)
        for orders, is_last in with_last_flag(pages):
            records = [self.order_record(o) for o in orders]
            high = newest(high, *(r.updated_at for r in records))
            yield OrderPage(records=records, cursor=utc_iso(high) if is_last and high else since)

    @staticmethod
    def order_record(order: Mapping[str, Any]) -> OrderRecord:
        billing = order.get("billing") or {}
        name = " ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p)
        return OrderRecord(
            external_id=str(order["id"]),
            number=str(order.get("number") or order["id"]),
            placed_at=parse_timestamp(order.get("date_created_gmt")),
            email=billing.get("email") or None,
            phone=billing.get("phone") or None,
            customer_name=name,
            lines=[OrderLineRecord(
                external_id=str(line["id"]), sku=line.get("sku") or None, quantity=int(line.get("quantity", 0)),
                title=str(line.get("name") or ""), price_cents=money_cents(line.get("price")),
                variant_external_id=str(line.get("variation_id") or line.get("product_id") or "") or None,
            ) for line in order.get("line_items") or []],
            currency=str(order.get("currency") or "USD"),
            total_cents=money_cents(order.get("total")),
            status=str(order.get("status") or "open"),
            updated_at=parse_timestamp(order.get("date_modified_gmt")),
        )

    # --- write-back -------------------------------------------------------------------------

    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        """One partial ``PUT`` with the absolute quantity, backorder mode and matching status.

        Variations must go through ``/products/{parent}/variations/{id}``; WooCommerce refuses a
        variation id on ``/products/{id}``.
        """
        quantity = max(0, int(available))
        body = {"stock_quantity": quantity, "manage_stock": True,
                "backorders": "notify" if backorder else "no",
                "stock_status": stock_status_for(quantity, backorder)}
        path = (f"products/{listing.parent_external_id}/variations/{listing.external_id}"
                if listing.parent_external_id else f"products/{listing.external_id}")
        response = self.request("PUT", path, json_body=body)
        return self.push_result(response, {"path": path, "body": body}, {None: quantity})

    def push_levels(self, listing: ListingRef, levels: Mapping[str | None, int], backorder: bool) -> list[PushResult]:
        """WooCommerce holds one ``stock_quantity`` per product or variation: the store's locations
        add up to one figure, written by one product update per SKU."""
        total = sum(max(0, int(figure)) for figure in levels.values())
        return [self.push_availability(listing, total, backorder)]

    def write_calls(self, levels: Mapping[str | None, int]) -> int:
        return 1

    # --- refunds and store credit -----------------------------------------------------------

    def refund_line(self, request: RefundRequest) -> RefundResult:
        """Refund one line through ``orders/{id}/refunds``; a retry returns the first refund.

        WooCommerce has no idempotency header, so the key travels in ``reason`` and the order's
        refunds are read first: a retried task, or a create whose answer was lost, finds it there.
        ``api_refund`` (option, default true) asks the gateway to pay the money back; false only
        records a manual refund.
        """
        existing = self._find_refund(request)
        if existing is not None:
            return self._refund_result(existing, 200, {}, "found the refund an earlier attempt created")
        amount = cents_to_money(request.amount_cents)
        body = {"amount": amount,
                "reason": f"{request.reason} {idempotency_marker(request.idempotency_key)}".strip(),
                "line_items": [{"id": int(request.line_external_id), "quantity": int(request.quantity),
                                "refund_total": float(Decimal(amount))}],
                "api_refund": bool(self.config.options.get("api_refund", True)),
                "api_restock": bool(request.restock)}
        try:
            response = self.request("POST", f"orders/{request.order_external_id}/refunds", json_body=body)
        except TransientError as exc:
            permanent = refusal_behind_500(exc)
            if permanent is not None:
                raise permanent from exc
            raise
        return self._refund_result(self.decode(response) or {}, response.status_code, body, "refund created")

    def _find_refund(self, request: RefundRequest) -> dict[str, Any] | None:
        marker = idempotency_marker(request.idempotency_key)
        params = self._paginator().first_params({})
        for refunds in self.paginate(f"orders/{request.order_external_id}/refunds", params, self._paginator(),
                                     lambda body: body or []):
            for refund in refunds:
                if marker in str(refund.get("reason") or ""):
                    return refund
        return None

    @staticmethod
    def _refund_result(refund: Mapping[str, Any], status: int, request: dict[str, Any], detail: str) -> RefundResult:
        paid_back = " (paid back through the gateway)" if refund.get("refunded_payment") else " (recorded only)"
        return RefundResult(ok=True, external_id=str(refund.get("id", "")), amount_cents=money_cents(refund.get("amount")),
                            kind="refund", status_code=status, detail=detail + paid_back, request=request)

    def credit_line(self, request: RefundRequest) -> RefundResult:
        """Store credit as a single-use ``fixed_cart`` coupon restricted to the customer's email.

        WooCommerce core has no store credit. The code is derived from the idempotency key and
        codes are unique per site, so a retried create answers 400
        ``woocommerce_rest_coupon_code_already_exists`` and the coupon is read back by code.
        """
        code = self.credit_code(request.idempotency_key)
        email = request.customer_email or self._order_email(request.order_external_id)
        if not email:
            raise PermanentError(f"woocommerce order {request.order_external_id} has no billing email to restrict "
                                 f"the credit coupon to", platform=self.platform)
        body = {"code": code, "discount_type": "fixed_cart", "amount": cents_to_money(request.amount_cents),
                "description": f"{request.reason} {idempotency_marker(request.idempotency_key)}".strip(),
                "email_restrictions": [email], "usage_limit": 1, "individual_use": False}
        try:
            response = self.request("POST", "coupons", json_body=body)
        except PermanentError as exc:
            if wp_error_code(exc) != "woocommerce_rest_coupon_code_already_exists":
                raise
            coupon = self._find_coupon(code, request.idempotency_key)
            return self._credit_result(coupon, 200, body, "found the coupon an earlier attempt created")
        return self._credit_result(self.decode(response) or {}, response.status_code, body, "coupon created")

    def credit_code(self, idempotency_key: str) -> str:
        """``credit-`` + 12 hex characters of HMAC(secret, key): stable across retries, not guessable.

        The secret is ``options["credit_code_secret"]`` or else the consumer secret; rotating it
        between two attempts of one credit would mint a second coupon, so set the option in production.
        """
        secret = str(self.config.options.get("credit_code_secret")
                     or self.config.credentials.get("consumer_secret", ""))
        return "credit-" + hmac.new(secret.encode(), idempotency_key.encode(), hashlib.sha256).hexdigest()[:12]

    def _order_email(self, order_id: str) -> str | None:
        order = self.get_json(f"orders/{order_id}") or {}
        return (order.get("billing") or {}).get("email") or None

    def _find_coupon(self, code: str, idempotency_key: str) -> dict[str, Any]:
        for coupon in self.get_json("coupons", {"code": code}) or []:
            if idempotency_marker(idempotency_key) in str(coupon.get("description") or ""):
                return coupon
        raise PermanentError(f"woocommerce coupon {code} exists but does not carry idempotency key "
                             f"{idempotency_key}", platform=self.platform)

    @staticmethod
    def _credit_result(coupon: Mapping[str, Any], status: int, request: dict[str, Any], detail: str) -> RefundResult:
        return RefundResult(ok=True, external_id=str(coupon.get("id", "")),
                            amount_cents=money_cents(coupon.get("amount")), kind="store_credit",
                            status_code=status, detail=detail, request=request,
                            credit_code=str(coupon.get("code") or request.get("code") or ""))

    # --- webhooks ---------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check ``X-WC-Webhook-Signature``; the creation ping is unsigned by WooCommerce itself.

        The ping is accepted unsigned only when its body is exactly ``webhook_id=<digits>``: it
        carries no data, so accepting it cannot inject stock or orders.
        """
        signature = header_value(headers, "X-WC-Webhook-Signature")
        if signature is None and PING_BODY.match(body.strip()):
            return
        if signature is None:
            raise SignatureError("X-WC-Webhook-Signature header missing")
        verify_base64_hmac(self.config.webhook_secret, body, signature)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        stripped = body.strip()
        if PING_BODY.match(stripped):
            webhook_id = parse_qs(stripped.decode())["webhook_id"][0]
            return WebhookEvent("ping", "webhook.ping", f"woocommerce:ping:{webhook_id}", None)
        topic = header_value(headers, "X-WC-Webhook-Topic")
        if not topic:
            raise MalformedPayloadError("X-WC-Webhook-Topic header missing")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise MalformedPayloadError(f"body is not JSON: {exc}") from exc
        if not isinstance(payload, dict) or "id" not in payload:
            raise MalformedPayloadError("body is not a resource object with an id")
        resource = header_value(headers, "X-WC-Webhook-Resource") or topic.split(".")[0]
        modified = payload.get("date_modified_gmt") or payload.get("date_modified") or ""
        dedupe = f"woocommerce:{resource}:{payload['id']}:{modified}:{hashlib.sha256(body).hexdigest()[:32]}"
        occurred = parse_timestamp(payload.get("date_modified_gmt"))
        kind = TOPIC_KINDS.get(topic, "other")
        try:
            if kind == "sku_modified":
                return WebhookEvent(kind, topic, dedupe, occurred, stock=[self.stock_record(payload)],
                                    resource_ids=[str(payload["id"])])
            if kind == "order_created":
                return WebhookEvent(kind, topic, dedupe, occurred, orders=[self.order_record(payload)],
                                    resource_ids=[str(payload["id"])])
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedPayloadError(f"{topic} payload lacks {exc}") from exc
        return WebhookEvent(kind, topic, dedupe, occurred, resource_ids=[str(payload["id"])])

    # --- substitute orders ------------------------------------------------------------------

    SUBSTITUTE_META_KEY: ClassVar[str] = "_backorder_substitute"

    def place_substitute(self, request: SubstituteOrderRequest) -> SubstituteOrderResult:
        """``POST orders`` for the substitute, paid by what the backordered line already cost.

        A retry (``search_since`` set) first looks for the order an earlier attempt created."""
        if request.search_since is not None:
            found = self._find_substitute(request)
            if found is not None:
                return self._substitute_result(found, 200, {}, "found the order an earlier attempt created")
        original = self.get_json(f"orders/{request.original_order_external_id}") or {}
        total = request.unit_price_cents * request.quantity
        due = max(0, min(request.due_cents, total))
        listing = request.listing
        line: dict[str, Any] = {"quantity": int(request.quantity), "subtotal": cents_to_money(total),
                                "total": cents_to_money(due)}
        if listing.parent_external_id:
            line.update(product_id=int(listing.parent_external_id), variation_id=int(listing.external_id))
        else:
            line["product_id"] = int(listing.external_id)
        first, _, last = request.customer_name.partition(" ")
        billing = original.get("billing") or {"first_name": first, "last_name": last,
                                              "email": request.customer_email or "",
                                              "phone": request.customer_phone or ""}
        body: dict[str, Any] = {
            "status": "pending" if due > 0 else "processing", "set_paid": due == 0,
            "currency": request.currency,
            "billing": billing, "line_items": [line],
            "customer_note": request.note,
            "meta_data": [{"key": self.SUBSTITUTE_META_KEY, "value": request.idempotency_key},
                          {"key": "_substitute_for_order", "value": request.original_order_number}],
        }
        for key in ("customer_id", "shipping", "payment_method", "payment_method_title"):
            if original.get(key):
                body[key] = original[key]
        response = self.request("POST", "orders", json_body=body)
        return self._substitute_result(self.decode(response) or {}, response.status_code, body,
                                       "order created")

    def _find_substitute(self, request: SubstituteOrderRequest) -> dict[str, Any] | None:
        assert request.search_since is not None
        params = self._paginator().first_params({
            "modified_after": utc_iso(request.search_since - self.overlap).replace("+00:00", ""),
            "dates_are_gmt": "true", "orderby": "id", "order": "asc"})
        for orders in self.paginate("orders", params, self._paginator(), lambda body: body or []):
            for order in orders:
                metas = order.get("meta_data") or []
                if any(meta.get("key") == self.SUBSTITUTE_META_KEY and meta.get("value") == request.idempotency_key
                       for meta in metas):
                    return order
        return None

    @staticmethod
    def _substitute_result(order: Mapping[str, Any], status: int, request: dict[str, Any],
                           detail: str) -> SubstituteOrderResult:
        subtotal = sum(money_cents(line.get("subtotal")) for line in order.get("line_items") or [])
        pending = order.get("status") == "pending"
        return SubstituteOrderResult(
            external_id=str(order.get("id", "")), number=str(order.get("number") or order.get("id", "")),
            total_cents=subtotal, due_cents=money_cents(order.get("total")) if pending else 0,
            payment_pending=pending, status_code=status, detail=detail, request=request)
