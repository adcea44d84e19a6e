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

How it is built: products, variations, orders and refunds are declared streams read by
``connectors.streams`` with the WordPress page-number paginator (``page`` / ``per_page`` until
``X-WP-TotalPages``; ``per_page`` is the ``page_size`` option, at most 100), a
:class:`~connectors.streams.HighWater` on ``date_modified_gmt`` (only the last page moves it) sent
through :func:`~connectors.streams.time_after`; the base adds our locations up into the one figure
a product holds (``stock_per_location`` False); webhooks are declared by header names
(``connectors.hooks``) with the mappings each topic's payload gets; the 500-wrapped refusals are
declared to the base as ``final_refusals``; the refund (found by the key in ``reason`` before it
is created), the coupon (read back by code once taken, a :class:`~connectors.writes.Refusal`) and
the substitute order (found by the key in ``meta_data``) are declared request shapes run by
``connectors.writes``. What is left here is WooCommerce's record shapes, its unsigned ping, its
dedupe key and the bodies of its refund, coupon and order writes.

Options (``ConnectorConfig.options``): ``page_size`` (≤ 100), ``overlap_s`` (default 1),
``api_refund`` (default true), ``credit_code_secret``. Credentials: ``consumer_key``,
``consumer_secret``; ``webhook_secret`` is the webhook's secret.

Known limit: a variation whose stock changes without its parent's ``date_modified`` moving is
not seen by the incremental product listing; the ``product.updated`` webhook (WooCommerce fires
it for variations) and the periodic full fetch cover it.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any, Callable, ClassVar, Iterator, Mapping

from connectors.base import (
    ORDER_RISK, Collections, CreditShape, HighWater, JsonWebhooks, KeyedCodes, LineFields, ListingRef, Marker,
    OrderPage, OrderRecord, OrderShape, PageNumberPaginator, PushResult, RefundRequest, RefundShape, Refusal, StockPage,
    StockRecord, Storefront, SubstituteOrderRequest, SubstituteOrderResult, WebhookEvent, basic_auth, cents_to_money,
    full_name, header_value, id_str, money_cents, outcome, paid_by, parse_timestamp, time_after, verify_base64_hmac,
)
from connectors.errors import PermanentError

PING_BODY = re.compile(rb"^webhook_id=(\d+)$")
SUBSTITUTE_META_KEY = "_backorder_substitute"
#: ``wc_create_refund`` refusals WooCommerce wraps as HTTP 500 ``woocommerce_rest_cannot_create_order_refund``
#: although retrying cannot change them (the refund is rolled back first). Anything else behind that
#: code (e.g. "Cannot create order refund, please try again.", a gateway's own outage) stays transient.
DETERMINISTIC_REFUND_REFUSALS = frozenset({
    "Invalid refund amount.", "Invalid order ID.", "The payment gateway for this order does not exist.",
    "The payment gateway for this order does not support automatic refunds."})
LINES = LineFields(title="name", variant=("variation_id", "product_id"))


def stock_record(item: Mapping[str, Any], parent_id: str | None = None) -> StockRecord:
    """Map a product or variation; ``stock_quantity`` only means something with ``manage_stock``."""
    managed = item.get("manage_stock") not in (False, None) and item.get("stock_quantity") is not None
    quantity = int(item["stock_quantity"]) if managed else None
    return StockRecord(external_id=str(item["id"]), sku=item.get("sku") or None, on_hand=quantity, available=quantity,
                       updated_at=parse_timestamp(item.get("date_modified_gmt")),
                       backorders_allowed=(item.get("backorders") or "no") != "no",
                       parent_external_id=parent_id or id_str(item.get("parent_id") or None))


def order_record(order: Mapping[str, Any]) -> OrderRecord:
    billing = order.get("billing") or {}
    return OrderRecord(
        external_id=str(order["id"]), number=str(order.get("number") or order["id"]),
        placed_at=parse_timestamp(order.get("date_created_gmt")), email=billing.get("email") or None,
        phone=billing.get("phone") or None, customer_name=full_name(billing),
        lines=LINES.records(order.get("line_items")), currency=str(order.get("currency") or "USD"),
        total_cents=money_cents(order.get("total")), status=str(order.get("status") or "open"),
        updated_at=parse_timestamp(order.get("date_modified_gmt")), risk=ORDER_RISK.record(order),
        **paid_by(order, "payment_method", "transaction_id"))


def verify_signature(secret: str | None, body: bytes, signature: str | None) -> None:
    """Base64 HMAC-SHA256 of the body; the creation ping is unsigned by WooCommerce itself and is let
    through only when its body is exactly ``webhook_id=<digits>`` (no data: nothing to inject)."""
    if signature is not None or not PING_BODY.match(body.strip()):
        verify_base64_hmac(secret, body, signature)


def dedupe_key(topic: str, headers: Mapping[str, str], payload: Mapping[str, Any], body: bytes) -> str:
    """Resource, id, ``date_modified_gmt`` and a body hash (why not the delivery id: module docstring)."""
    resource = header_value(headers, "X-WC-Webhook-Resource") or topic.split(".")[0]
    modified = payload.get("date_modified_gmt") or payload.get("date_modified") or ""
    return f"{resource}:{payload['id']}:{modified}:{hashlib.sha256(body).hexdigest()[:32]}"


def modified_after(overlap_s: float) -> Callable[[str], dict[str, str]]:
    """``modified_after`` is strict at one-second resolution, so it is sent ``overlap_s`` before the
    cursor; with ``dates_are_gmt`` it is UTC wall-clock time without offset, as WC documents it."""
    return time_after("modified_after", lookback_s=overlap_s, utc_offset=False, dates_are_gmt="true")


#: A ``wc/v3`` list: WordPress answers a top-level array, ``page`` / ``per_page`` until ``X-WP-TotalPages``.
collection = Collections(PageNumberPaginator(), page_size_param="per_page", records="$")
BY_ID = {"orderby": "id", "order": "asc"}  # ordered by id, so inserts during the walk do not shift pages
PRODUCTS = collection("products", params=BY_ID, cursor=HighWater(), page=StockPage, since_param=modified_after(1))
VARIATIONS = collection("products/{product}/variations", params=BY_ID)
ORDERS = collection("orders", params=BY_ID, map=order_record, cursor=HighWater(), page=OrderPage,
                    since_param=modified_after(1))


class WooCommerceConnector(Storefront):
    """One WooCommerce site over ``/wp-json/wc/v3``."""

    platform: ClassVar[str] = "woocommerce"
    stock_per_location: ClassVar[bool] = False  # one figure per product: the base adds the locations up
    api_prefix: ClassVar[str] = "/wp-json/wc/v3"
    option_defaults: ClassVar[Mapping[str, Any]] = {"overlap_s": 1, "api_refund": True}
    auth = basic_auth("consumer_key", "consumer_secret")
    max_page_size: ClassVar[int | None] = 100
    webhooks = JsonWebhooks(
        signature_headers=("X-WC-Webhook-Signature",), topic_headers=("X-WC-Webhook-Topic",),
        kinds={"product.updated": "sku_modified", "product.created": "sku_modified", "order.created": "order_created"},
        occurred_field="date_modified_gmt", verify=verify_signature, dedupe=dedupe_key, order_record=order_record,
        stock_records={"sku_modified": stock_record})
    order_record = staticmethod(order_record)
    final_refusals = {"woocommerce_rest_cannot_create_order_refund": DETERMINISTIC_REFUND_REFUSALS}
    refunds = RefundShape(existing=collection("orders/{order}/refunds"), create="orders/{order}/refunds",
                          marker=Marker("reason"), amount=lambda refund: money_cents(refund.get("amount")),
                          detail=lambda r: " (paid back through the gateway)" if r.get("refunded_payment") else
                          " (recorded only)")
    credit_codes = KeyedCodes("consumer_secret", prefix="credit-", length=12)  # ``credit_code_secret`` in production
    credit = CreditShape(create="coupons", what="coupon", marker=Marker("description"),
                         taken=Refusal(code="woocommerce_rest_coupon_code_already_exists"),
                         lookup=collection("coupons", params={"code": "{code}"}))
    substitutes = OrderShape(create="orders", existing=(ORDERS,), marker=Marker("meta_data", SUBSTITUTE_META_KEY))

    def __init__(self, config: Any, **kwargs: Any) -> None:
        """The stock and order reads go back the store's ``overlap_s`` (default 1) before the cursor."""
        super().__init__(config, **kwargs)
        since = modified_after(float(self.options["overlap_s"]))
        self.products, self.orders = (replace(stream, since_param=since) for stream in (PRODUCTS, ORDERS))

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Pages of products; variable ones are expanded into their variations, which carry the stock."""
        yield from self.read(self.products, since, map=self._product_records)

    def _product_records(self, product: Mapping[str, Any]) -> list[StockRecord]:
        if product.get("type") != "variable":
            return [stock_record(product)]
        parent = str(product["id"])
        return list(self.records(VARIATIONS.at(product=parent), map=lambda v: stock_record(v, parent)))

    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        """One partial ``PUT`` with the absolute quantity, backorder mode and matching stock status.

        Variations must go through ``/products/{parent}/variations/{id}``; WooCommerce refuses a
        variation id on ``/products/{id}``.
        """
        quantity = max(0, int(available))
        body = {"stock_quantity": quantity, "manage_stock": True, "backorders": "notify" if backorder else "no",
                "stock_status": "instock" if quantity > 0 else "onbackorder" if backorder else "outofstock"}
        path = (f"products/{listing.parent_external_id}/variations/{listing.external_id}"
                if listing.parent_external_id else f"products/{listing.external_id}")
        response = self.request("PUT", path, json_body=body)
        return self.push_result(response, {"path": path, "body": body}, {None: quantity})

    def refund_body(self, request: RefundRequest, quote: Mapping[str, Any]) -> dict[str, Any]:
        """``amount`` wins over the line totals; ``api_refund`` (option, default true) asks the gateway
        to pay the money back, false only records a manual refund."""
        return {"amount": cents_to_money(request.amount_cents), "reason": request.reason,
                "line_items": [{"id": int(request.line_external_id), "quantity": int(request.quantity),
                                "refund_total": request.amount_cents / 100}],
                "api_refund": bool(self.options["api_refund"]), "api_restock": bool(request.restock)}

    def credit_body(self, request: RefundRequest, code: str) -> dict[str, Any]:
        """Store credit as a single-use ``fixed_cart`` coupon restricted to the customer's email
        (WooCommerce core has no store credit)."""
        if not (email := request.customer_email or self._billing(request.order_external_id).get("email")):
            raise PermanentError(f"woocommerce order {request.order_external_id} has no billing email to restrict "
                                 f"the credit coupon to", platform=self.platform)
        return {"code": code, "discount_type": "fixed_cart", "amount": cents_to_money(request.amount_cents),
                "description": request.reason, "email_restrictions": [email], "usage_limit": 1,
                "individual_use": False}

    def _billing(self, order_id: str) -> dict[str, Any]:
        return (self.get_json(f"orders/{order_id}") or {}).get("billing") or {}

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """The unsigned creation ping is an event of its own; the rest is the declared JSON webhook."""
        if ping := PING_BODY.match(body.strip()):
            return WebhookEvent("ping", "webhook.ping", f"woocommerce:ping:{ping.group(1).decode()}", None)
        return super().parse_webhook(headers, body)

    def substitute_body(self, request: SubstituteOrderRequest) -> dict[str, Any]:
        """``POST orders`` for the substitute, paid by what the backordered line already cost."""
        original = self.get_json(f"orders/{request.original_order_external_id}") or {}
        listing, total = request.listing, request.unit_price_cents * request.quantity
        due = max(0, min(request.due_cents, total))
        line = {"quantity": int(request.quantity), "subtotal": cents_to_money(total), "total": cents_to_money(due),
                "product_id": int(listing.parent_external_id or listing.external_id)}
        if listing.parent_external_id:
            line["variation_id"] = int(listing.external_id)
        first, _, last = request.customer_name.partition(" ")
        return {
            "status": "pending" if due > 0 else "processing", "set_paid": due == 0, "currency": request.currency,
            "billing": original.get("billing") or {"first_name": first, "last_name": last,
                                                   "email": request.customer_email or "",
                                                   "phone": request.customer_phone or ""},
            "line_items": [line], "customer_note": request.note,
            "meta_data": [{"key": "_substitute_for_order", "value": request.original_order_number}],
            **{key: original[key] for key in ("customer_id", "shipping", "payment_method", "payment_method_title")
               if original.get(key)}}

    def substitute_result(self, order: dict[str, Any], status: int, request: dict[str, Any]) -> SubstituteOrderResult:
        pending = order.get("status") == "pending"
        return SubstituteOrderResult(
            external_id=str(order.get("id", "")), number=str(order.get("number") or order.get("id", "")),
            total_cents=sum(money_cents(line.get("subtotal")) for line in order.get("line_items") or []),
            due_cents=money_cents(order.get("total")) if pending else 0, payment_pending=pending,
            status_code=status, detail=outcome(status, "order"), request=request)
