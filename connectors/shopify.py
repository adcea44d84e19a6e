"""Shopify Admin REST connector: stock, orders, write-back and webhooks for one shop.

Public docs this follows:

* Inventory levels (list, ``set.json``; ``inventory_item_ids`` and ``location_ids`` take at most 50
  ids each, so both are sent in chunks of 50):
  https://shopify.dev/docs/api/admin-rest/latest/resources/inventorylevel
* Products / variants (``inventory_policy``, ``inventory_item_id``):
  https://shopify.dev/docs/api/admin-rest/latest/resources/product-variant
* Orders: https://shopify.dev/docs/api/admin-rest/latest/resources/order
* Locations: https://shopify.dev/docs/api/admin-rest/latest/resources/location
* Cursor pagination (``Link`` + ``page_info``; only ``limit``/``fields`` alongside, and ``fields``
  is sent again on every page because the documented link syntax carries ``page_info`` and
  ``limit`` only): https://shopify.dev/docs/api/admin-rest/usage/pagination
* Rate limits (leaky bucket 40 / 2 per s, ``X-Shopify-Shop-Api-Call-Limit``, 429 + ``Retry-After``):
  https://shopify.dev/docs/api/admin-rest/usage/rate-limits
* Webhook delivery and HMAC verification (base64 HMAC-SHA256 of the raw body):
  https://shopify.dev/docs/apps/build/webhooks/delivery-structure ,
  https://shopify.dev/docs/apps/build/webhooks/verify-deliveries ,
  https://shopify.dev/apps/build/webhooks/ignore-duplicates

Refunds and store credit (``refund_line`` / ``credit_line``):

* Refund: https://shopify.dev/docs/api/admin-rest/2025-01/resources/refund — ``POST
  orders/{id}/refunds/calculate.json`` with ``refund_line_items`` (``restock_type``
  ``no_restock`` | ``cancel`` | ``return``) answers the parent transactions as
  ``kind: "suggested_refund"`` with ``gateway``, ``amount`` and ``maximum_refundable``; the
  refund is then created with those lines, ``transactions: [{parent_id, amount, kind: "refund",
  gateway}]``, ``note`` and ``notify``. ``GET orders/{id}/refunds.json`` lists an order's refunds.
* Gift card: https://shopify.dev/docs/api/admin-rest/2025-01/resources/gift-card — ``POST
  gift_cards.json`` with ``initial_value``, ``code`` (8–20 letters/digits, case-insensitive,
  unique per shop), ``note``, ``customer_id``; the full code is only shown at creation, reads
  show ``last_characters``; ``GET gift_cards/search.json?query=last_characters:abcd``. Needs the
  ``write_gift_cards`` scope (granted by Shopify Support).

Shopify REST has no idempotency header for either. What makes a retried task pay at most once:

* refunds carry ``[idempotency:<key>]`` in their ``note``; ``refund_line`` lists the order's
  refunds first and returns the one carrying the key. That also covers a create whose answer
  was lost (5xx after the write, or a read timeout → :class:`OutcomeUnknownError`): the next
  attempt finds the refund instead of creating a second one. Two workers racing on the same key
  are not covered here: the task layer must hold the backorder row lock around the call.
* gift card codes are ``HMAC-SHA256(secret, key)[:16]``: the same key always asks for the same
  code, and the shop's uniqueness rule turns a second create into 422 ``{"errors": {"code":
  ["has already been taken"]}}``, after which the card is read back by its last four
  characters and the key in its note. The code is unguessable without the secret
  (``options["credit_code_secret"]``, else the access token).

Not confirmed in the docs (see docs/sandbox.md): the exact 422 wording for an over-refunded
transaction amount and for a duplicate gift card code (Rails' "has already been taken" is assumed).

Substitute orders (``place_substitute``), a draft order completed per policy:

* Draft orders: https://shopify.dev/docs/api/admin-rest/latest/resources/draftorder — ``POST
  draft_orders.json`` with ``line_items: [{variant_id, quantity}]``, ``customer: {id}``,
  ``email``, ``shipping_address``, ``note``, ``tags`` and an order-level ``applied_discount``
  (``value_type`` ``fixed_amount`` | ``percentage``, ``value``, ``title``, ``description``); ``PUT
  draft_orders/{id}/complete.json?payment_pending=true|false`` turns it into an order
  (``order_id``), with the payment pending when the customer still owes the difference. ``GET
  draft_orders.json`` takes ``status``, ``updated_at_min`` and ``limit``. What the customer
  already paid for the backordered line is the discount, so the new order asks only for what the
  policy charges. No idempotency header: the key travels in ``note``, a retry whose create
  answer was lost finds the draft there, and a draft is completed only after it is read as not
  completed yet.

Ids are kept as strings: Shopify ids exceed 2**53. Python's ``json`` parses them as exact ints,
and we convert with ``str()`` at the edge, never via float.

Options (``ConnectorConfig.options``): ``api_version`` (default ``2025-01``), ``location_ids``
(list; otherwise read from ``locations.json``), ``bucket_size`` / ``leak_rate`` / ``bucket_reserve``
for the client-side pacer, ``page_size`` (≤ 250).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, ClassVar, Iterator, Mapping

from requests.auth import AuthBase

from connectors.base import (
    HeaderToken,
    LeakyBucketPacer,
    RestConnector,
    cents_to_money,
    header_value,
    id_str,
    idempotency_marker,
    money_cents,
    newest,
    parse_timestamp,
    shopify_link_paginator,
    utc_iso,
    verify_base64_hmac,
    with_last_flag,
)
from connectors.capabilities import Capability
from connectors.errors import MalformedPayloadError, PermanentError
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

#: Shopify caps each id list on ``inventory_levels.json`` (``inventory_item_ids``, ``location_ids``)
#: at 50 ids per request.
IDS_PER_REQUEST = 50
MAX_PAGE_SIZE = 250

TOPIC_KINDS: dict[str, WebhookKind] = {
    "inventory_levels/update": "inventory_update",
    "orders/create": "order_created",
    "products/update": "sku_modified",
}


def id_chunks(ids: list[str], size: int = IDS_PER_REQUEST) -> Iterator[list[str]]:
    """``ids`` in lists of at most ``size``, in order: what one Shopify id filter may carry."""
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def spread_cents(cents: int, suggestions: list[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], int]]:
    """Share ``cents`` over the suggested parents, each up to its ``maximum_refundable``.

    Whatever exceeds every maximum stays on the last parent, so Shopify itself refuses an
    over-refund with its own message instead of us silently refunding less.
    """
    shares: list[tuple[Mapping[str, Any], int]] = []
    left = int(cents)
    for suggestion in suggestions:
        share = min(left, money_cents(suggestion.get("maximum_refundable", suggestion.get("amount"))))
        shares.append((suggestion, share))
        left -= share
    if left > 0 and shares:
        last, share = shares[-1]
        shares[-1] = (last, share + left)
    return shares


def code_already_taken(exc: PermanentError) -> bool:
    """Shopify's uniqueness answer for gift card codes: 422 ``{"errors": {"code": ["has already been taken"]}}``."""
    if exc.status_code != 422:
        return False
    try:
        errors = json.loads(exc.body or "{}").get("errors")
    except (ValueError, AttributeError):
        return False
    return isinstance(errors, dict) and any("already been taken" in str(m) for m in errors.get("code") or [])


class ShopifyConnector(RestConnector):
    """One Shopify shop over the Admin REST API (``/admin/api/{version}``)."""

    platform: ClassVar[str] = "shopify"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.STOCK_READ, Capability.STOCK_WRITE, Capability.ORDERS, Capability.REFUNDS, Capability.STORE_CREDIT, Capability.SUBSTITUTE_ORDERS, Capability.WEBHOOKS})

    def __init__(self, config: Any, **kwargs: Any) -> None:
        self.api_version = str(config.options.get("api_version", "2025-01"))
        self.page_size = min(int(config.options.get("page_size", MAX_PAGE_SIZE)), MAX_PAGE_SIZE)
        self._location_ids: list[str] | None = (
            [str(x) for x in config.options["location_ids"]] if config.options.get("location_ids") else None)
        super().__init__(config, **kwargs)

    @property
    def api_prefix(self) -> str:  # type: ignore[override]
        return f"/admin/api/{self.api_version}"

    def build_auth(self) -> AuthBase:
        return HeaderToken("X-Shopify-Access-Token", self.config.credentials.get("access_token", ""))

    def build_pacer(self) -> LeakyBucketPacer:
        opts = self.config.options
        return LeakyBucketPacer(
            capacity=float(opts.get("bucket_size", 40)), leak_per_s=float(opts.get("leak_rate", 2.0)),
            reserve=float(opts.get("bucket_reserve", 2)), header="X-Shopify-Shop-Api-Call-Limit",
            clock=self.clock, sleep=self.sleep)

    # --- locations --------------------------------------------------------------------------

    def location_ids(self) -> list[str]:
        if self._location_ids is None:
            body = self.get_json("locations.json")
            self._location_ids = [str(loc["id"]) for loc in body.get("locations", [])
                                  if loc.get("active", True)]
        return self._location_ids

    # --- stock ------------------------------------------------------------------------------

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Full fetch walks products then their inventory levels; incremental reads levels only.

        Intermediate pages carry the previous cursor (the walk order is not by ``updated_at``, so
        only the finished walk may move it); the last page carries the newest ``updated_at`` seen.
        An incremental read of more than 50 locations is one walk per 50 locations, one after the
        other, so the cursor moves only once the last page of the last one is read.
        ``updated_at_min`` is inclusive, so the boundary second is re-read, never skipped.
        """
        pages = self._full_stock_pages() if since is None else self._incremental_stock_pages(since)
        high = parse_timestamp(since)
        for records, is_last in with_last_flag(pages):
            high = newest(high, *(r.updated_at for r in records))
            cursor = utc_iso(high) if (is_last and high is not None) else since
            yield StockPage(records=records, cursor=cursor)

    def _full_stock_pages(self) -> Iterator[list[StockRecord]]:
        params = {"limit": self.page_size, "fields": "id,variants"}
        for products in self.paginate("products.json", params, shopify_link_paginator(),
                                      lambda body: body.get("products", [])):
            variants: dict[str, tuple[dict[str, Any], str]] = {}
            for product in products:
                for variant in product.get("variants") or []:
                    if variant.get("inventory_item_id") is not None:
                        variants[str(variant["inventory_item_id"])] = (variant, str(product["id"]))
            records: list[StockRecord] = []
            for chunk in id_chunks(list(variants)):
                for levels in self.paginate(
                        "inventory_levels.json", {"inventory_item_ids": ",".join(chunk), "limit": self.page_size},
                        shopify_link_paginator(), lambda body: body.get("inventory_levels", [])):
                    for level in levels:
                        variant, product_id = variants[str(level["inventory_item_id"])]
                        records.append(self._level_record(level, variant, product_id))
            yield records

    def _incremental_stock_pages(self, since: str) -> Iterator[list[StockRecord]]:
        """Changed levels at every location, ``location_ids`` sent 50 at a time.

        The chunks hold disjoint locations, so their levels never overlap and are simply read in
        turn; ``fetch_stock`` sees one stream of pages and moves the cursor after the last one.
        """
        for chunk in id_chunks(self.location_ids()):
            params = {"location_ids": ",".join(chunk), "updated_at_min": since, "limit": self.page_size}
            for levels in self.paginate("inventory_levels.json", params, shopify_link_paginator(),
                                        lambda body: body.get("inventory_levels", [])):
                yield [self._level_record(level) for level in levels]

    @staticmethod
    def _level_record(level: Mapping[str, Any], variant: Mapping[str, Any] | None = None,
                      product_id: str | None = None) -> StockRecord:
        """A level without its variant (incremental, webhook) keys on ``inventory_item_id``.

        ``external_id`` is then the inventory item id and ``sku`` None: the domain maps it to the
        SKU through the listing it stored on the last full fetch.
        """
        iid = str(level["inventory_item_id"])
        available = level.get("available")
        return StockRecord(
            external_id=str(variant["id"]) if variant else iid,
            sku=(variant.get("sku") or None) if variant else None,
            location_external_id=id_str(level.get("location_id")),
            available=None if available is None else int(available),
            updated_at=parse_timestamp(level.get("updated_at")),
            inventory_item_id=iid,
            backorders_allowed=(variant.get("inventory_policy") == "continue") if variant else None,
            parent_external_id=product_id,
        )

    # --- orders -----------------------------------------------------------------------------

    def fetch_orders(self, since: str | None) -> Iterator[OrderPage]:
        params: dict[str, Any] = {"status": "any", "limit": self.page_size}
        if since:
            params["updated_at_min"] = since
        pages = self.paginate("orders.json", params, shopify_link_paginator(),
                              lambda body: body.get("orders", []))
        high = parse_timestamp(since)
        for orders, is_last in with_last_flag(pages):
            records = [self.order_record(o) for o in orders]
            high = newest(high, *(r.updated_at for r in records))
            yield OrderPage(records=records, cursor=utc_iso(high) if is_last and high else since)

    @staticmethod
    def order_record(order: Mapping[str, Any]) -> OrderRecord:
        customer = order.get("customer") or {}
        billing = order.get("billing_address") or {}
        name = " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p) \
            or billing.get("name") or ""
        status = "cancelled" if order.get("cancelled_at") else "closed" if order.get("closed_at") else "open"
        return OrderRecord(
            external_id=str(order["id"]),
            number=str(order.get("name") or order.get("order_number") or order["id"]),
            placed_at=parse_timestamp(order.get("created_at")),
            email=order.get("email") or customer.get("email"),
            phone=order.get("phone") or customer.get("phone"),
            customer_name=name,
            lines=[OrderLineRecord(
                external_id=str(line["id"]), sku=line.get("sku") or None, quantity=int(line.get("quantity", 0)),
                title=str(line.get("title") or ""), price_cents=money_cents(line.get("price")),
                variant_external_id=id_str(line.get("variant_id")),
            ) for line in order.get("line_items") or []],
            currency=str(order.get("currency") or "USD"),
            total_cents=money_cents(order.get("total_price")),
            status=status,
            updated_at=parse_timestamp(order.get("updated_at")),
        )

    # --- write-back -------------------------------------------------------------------------

    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        """Set the variant's ``inventory_policy`` first, then the absolute quantity.

        Policy first: when turning backorders on, the listing never shows "sold out" between the
        two calls; when turning them off, the quantity that follows is still exact. Quantity is
        an absolute ``set`` (not ``adjust``), so a retried push converges instead of drifting.
        """
        location = listing.location_external_id or self.location_ids()[0]
        [result] = self.push_levels(listing, {location: available}, backorder)
        return result

    def push_levels(self, listing: ListingRef, levels: Mapping[str | None, int], backorder: bool) -> list[PushResult]:
        """One ``inventory_policy`` update per SKU, then ``inventory_levels/set`` per location.

        Shopify keeps a quantity per location and its REST ``set`` takes one location a call, so
        locations stay separate writes; the variant's policy is one flag per product variant, so
        it is written once, not once per location.
        """
        if not listing.inventory_item_id:
            raise ValueError(f"listing {listing.sku} has no inventory_item_id")
        policy = "continue" if backorder else "deny"
        variant_body = {"variant": {"id": int(listing.external_id), "inventory_policy": policy}}
        self.request("PUT", f"variants/{listing.external_id}.json", json_body=variant_body)
        results = []
        for key, available in levels.items():
            location = key or self.location_ids()[0]
            level_body = {"location_id": int(location), "inventory_item_id": int(listing.inventory_item_id),
                          "available": max(0, int(available))}
            response = self.request("POST", "inventory_levels/set.json", json_body=level_body)
            request: dict[str, Any] = {"inventory_level": level_body}
            if not results:
                request["variant"] = variant_body
            results.append(self.push_result(response, request, {key: level_body["available"]}))
        return results

    def write_calls(self, levels: Mapping[str | None, int]) -> int:
        return 1 + len(levels)

    # --- refunds and store credit -----------------------------------------------------------

    def refund_line(self, request: RefundRequest) -> RefundResult:
        """Refund one line's money to the payment method; a retry returns the first refund.

        Order: look for a refund whose note carries our key (a retried task, or a create whose
        answer was lost to a timeout, finds it here), then ``calculate`` (Shopify's own
        parent transaction, gateway and refundable maximum), then create.
        """
        existing = self._find_refund(request)
        if existing is not None:
            return self._refund_result(existing, 200, {}, "found the refund an earlier attempt created")
        calculated = self._calculate_refund(request)
        body = self._refund_body(request, calculated)
        response = self.request("POST", f"orders/{request.order_external_id}/refunds.json", json_body=body)
        refund = (self.decode(response) or {}).get("refund") or {}
        return self._refund_result(refund, response.status_code, body, "refund created")

    def _find_refund(self, request: RefundRequest) -> dict[str, Any] | None:
        marker = idempotency_marker(request.idempotency_key)
        for refunds in self.paginate(f"orders/{request.order_external_id}/refunds.json",
                                     {"limit": MAX_PAGE_SIZE}, shopify_link_paginator(),
                                     lambda body: body.get("refunds", [])):
            for refund in refunds:
                if marker in str(refund.get("note") or ""):
                    return refund
        return None

    def _calculate_refund(self, request: RefundRequest) -> dict[str, Any]:
        """``refunds/calculate.json`` changes nothing, so it is retried like a read."""
        body = {"refund": {"currency": request.currency, "refund_line_items": [{
            "line_item_id": int(request.line_external_id), "quantity": int(request.quantity),
            "restock_type": "cancel" if request.restock else "no_restock"}]}}
        response = self.request("POST", f"orders/{request.order_external_id}/refunds/calculate.json",
                                json_body=body, retry=True)
        return (self.decode(response) or {}).get("refund") or {}

    def _refund_body(self, request: RefundRequest, calculated: Mapping[str, Any]) -> dict[str, Any]:
        """The create body: calculate's lines and parents, carrying the amount the domain decided."""
        suggestions = [t for t in calculated.get("transactions") or [] if t.get("parent_id") is not None]
        if not suggestions:
            raise PermanentError(f"shopify order {request.order_external_id}: nothing left to refund "
                                 f"(calculate suggested no parent transaction)", platform=self.platform)
        lines = [{k: line[k] for k in ("line_item_id", "quantity", "restock_type", "location_id")
                  if line.get(k) is not None} for line in calculated.get("refund_line_items") or []]
        return {"refund": {
            "currency": request.currency, "notify": bool(request.notify_customer),
            "note": f"{request.reason} {idempotency_marker(request.idempotency_key)}".strip(),
            "refund_line_items": lines,
            "transactions": [{"parent_id": t["parent_id"], "amount": cents_to_money(cents), "kind": "refund",
                              "gateway": t.get("gateway")}
                             for t, cents in spread_cents(request.amount_cents, suggestions) if cents > 0],
        }}

    def _refund_result(self, refund: Mapping[str, Any], status: int, request: dict[str, Any],
                       detail: str) -> RefundResult:
        refunded = sum(money_cents(t.get("amount")) for t in refund.get("transactions") or []
                       if t.get("kind") == "refund" and t.get("status", "success") in ("success", "pending"))
        return RefundResult(ok=True, external_id=str(refund.get("id", "")), amount_cents=refunded, kind="refund",
                            status_code=status, detail=detail, request=request)

    def credit_line(self, request: RefundRequest) -> RefundResult:
        """Store credit as a gift card whose code is derived from the idempotency key.

        Codes are unique per shop, so a retried create answers 422 "has already been taken";
        the card is then found by its last four characters and our key in its note.
        """
        code = self.credit_code(request.idempotency_key)
        body = {"gift_card": {"initial_value": cents_to_money(request.amount_cents), "code": code,
                              "note": f"{request.reason} {idempotency_marker(request.idempotency_key)}".strip()}}
        customer_id = self._order_customer_id(request.order_external_id)
        if customer_id:
            body["gift_card"]["customer_id"] = int(customer_id)
        try:
            response = self.request("POST", "gift_cards.json", json_body=body)
        except PermanentError as exc:
            if not code_already_taken(exc):
                raise
            card = self._find_gift_card(code, request.idempotency_key)
            return self._credit_result(card, 200, body, code, "found the gift card an earlier attempt created")
        card = (self.decode(response) or {}).get("gift_card") or {}
        return self._credit_result(card, response.status_code, body, code, "gift card created")

    def credit_code(self, idempotency_key: str) -> str:
        """16 hex characters of HMAC(secret, key): stable across retries, unguessable without the secret.

        The secret is ``options["credit_code_secret"]`` or else the access token; rotating it
        between two attempts of one credit would mint a second card, so set the option in production.
        """
        secret = str(self.config.options.get("credit_code_secret")
                     or self.config.credentials.get("access_token", ""))
        return hmac.new(secret.encode(), idempotency_key.encode(), hashlib.sha256).hexdigest()[:16]

    def _order_customer_id(self, order_id: str) -> str | None:
        order = (self.get_json(f"orders/{order_id}.json", {"fields": "id,customer"}) or {}).get("order") or {}
        return id_str((order.get("customer") or {}).get("id"))

    def _find_gift_card(self, code: str, idempotency_key: str) -> dict[str, Any]:
        marker = idempotency_marker(idempotency_key)
        body = self.get_json("gift_cards/search.json", {"query": f"last_characters:{code[-4:]}"}) or {}
        for card in body.get("gift_cards") or []:
            if marker in str(card.get("note") or ""):
                return card
        raise PermanentError(f"shopify gift card code ending {code[-4:]} is taken by a card that does not carry "
                             f"idempotency key {idempotency_key}", platform=self.platform)

    @staticmethod
    def _credit_result(card: Mapping[str, Any], status: int, request: dict[str, Any], code: str,
                       detail: str) -> RefundResult:
        return RefundResult(ok=True, external_id=str(card.get("id", "")),
                            amount_cents=money_cents(card.get("initial_value")), kind="store_credit",
                            status_code=status, detail=detail, request=request, credit_code=code)

    # --- webhooks ---------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        signature = header_value(headers, "X-Shopify-Hmac-Sha256") or header_value(headers, "Shopify-Hmac-Sha256")
        verify_base64_hmac(self.config.webhook_secret, body, signature)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        topic = header_value(headers, "X-Shopify-Topic") or header_value(headers, "Shopify-Topic")
        if not topic:
            raise MalformedPayloadError("X-Shopify-Topic header missing")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise MalformedPayloadError(f"body is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise MalformedPayloadError("body is not a JSON object")
        dedupe = (header_value(headers, "X-Shopify-Event-Id") or header_value(headers, "X-Shopify-Webhook-Id")
                  or f"{topic}:{hashlib.sha256(body).hexdigest()}")
        occurred = parse_timestamp(payload.get("updated_at")) or \
            parse_timestamp(header_value(headers, "X-Shopify-Triggered-At"))
        kind = TOPIC_KINDS.get(topic, "other")
        try:
            return self._event(kind, topic, f"shopify:{dedupe}", occurred, payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedPayloadError(f"{topic} payload lacks {exc}") from exc

    def _event(self, kind: WebhookKind, topic: str, dedupe: str, occurred: datetime | None,
               payload: Mapping[str, Any]) -> WebhookEvent:
        if kind == "inventory_update":
            record = self._level_record(payload)
            return WebhookEvent(kind, topic, dedupe, occurred, stock=[record],
                                resource_ids=[record.inventory_item_id or ""])
        if kind == "order_created":
            order = self.order_record(payload)
            return WebhookEvent(kind, topic, dedupe, occurred, orders=[order], resource_ids=[order.external_id])
        if kind == "sku_modified":
            product_id = str(payload["id"])
            stock = [StockRecord(
                external_id=str(v["id"]), sku=v.get("sku") or None,
                inventory_item_id=id_str(v.get("inventory_item_id")),
                backorders_allowed=v.get("inventory_policy") == "continue",
                updated_at=parse_timestamp(v.get("updated_at")), parent_external_id=product_id,
            ) for v in payload.get("variants") or []]
            return WebhookEvent(kind, topic, dedupe, occurred, stock=stock, resource_ids=[product_id])
        resource = id_str(payload.get("id"))
        return WebhookEvent(kind, topic, dedupe, occurred, resource_ids=[resource] if resource else [])

    # --- substitute orders ------------------------------------------------------------------

    def place_substitute(self, request: SubstituteOrderRequest) -> SubstituteOrderResult:
        """A draft order for the substitute, completed per policy; a retry never places a second.

        The draft an earlier attempt created is read back (by id when the caller kept it, else by
        the key in its ``note``), and completed only if it is not completed already."""
        draft = None
        if request.draft_external_id:
            draft = (self.get_json(f"draft_orders/{request.draft_external_id}.json") or {}).get("draft_order")
        elif request.search_since is not None:
            draft = self._find_draft(request)
        status, body = 200, {}
        if not draft:
            body = self._draft_body(request)
            response = self.request("POST", "draft_orders.json", json_body=body)
            draft, status = (self.decode(response) or {}).get("draft_order") or {}, response.status_code
        if draft.get("status") != "completed":
            pending = request.due_cents > 0
            response = self.request("PUT", f"draft_orders/{draft['id']}/complete.json",
                                    params={"payment_pending": "true" if pending else "false"})
            draft = (self.decode(response) or {}).get("draft_order") or {}
        order_id = id_str(draft.get("order_id"))
        if not order_id:
            raise PermanentError(f"shopify draft order {draft.get('id')} completed without an order",
                                 platform=self.platform)
        order = (self.get_json(f"orders/{order_id}.json", {"fields": "id,name,total_price,financial_status"})
                 or {}).get("order") or {}
        due = money_cents(order.get("total_price", draft.get("total_price")))
        return SubstituteOrderResult(
            external_id=order_id, number=str(order.get("name") or order_id), total_cents=money_cents(
                draft.get("subtotal_price")), due_cents=due,
            payment_pending=order.get("financial_status") == "pending", status_code=status,
            draft_external_id=id_str(draft.get("id")),
            detail=("draft order created and completed" if status == 201
                    else "completed the earlier draft order"),
            request=body)

    def _draft_body(self, request: SubstituteOrderRequest) -> dict[str, Any]:
        original = (self.get_json(f"orders/{request.original_order_external_id}.json",
                                  {"fields": "id,customer,shipping_address,email"}) or {}).get("order") or {}
        draft: dict[str, Any] = {
            "line_items": [{"variant_id": int(request.listing.external_id),
                            "quantity": int(request.quantity)}],
            "email": request.customer_email or original.get("email"),
            "note": f"{request.note} {idempotency_marker(request.idempotency_key)}".strip(),
            "tags": "backorder-substitute",
            "note_attributes": [{"name": "substitute_for_order", "value": request.original_order_number}],
        }
        customer_id = id_str((original.get("customer") or {}).get("id"))
        if customer_id:
            draft["customer"] = {"id": int(customer_id)}
            draft["use_customer_default_address"] = not original.get("shipping_address")
        if original.get("shipping_address"):
            draft["shipping_address"] = original["shipping_address"]
        title = f"Paid on order {request.original_order_number}"
        if request.due_cents <= 0:  # nothing more to pay, whatever the shop's own price says
            draft["applied_discount"] = {"title": title, "description": "Backordered item replaced",
                                         "value_type": "percentage", "value": "100.0"}
        elif request.paid_cents > 0:
            paid = cents_to_money(request.paid_cents)
            draft["applied_discount"] = {"title": title, "description": "Backordered item replaced",
                                         "value_type": "fixed_amount", "value": paid, "amount": paid}
        return {"draft_order": draft}

    def _find_draft(self, request: SubstituteOrderRequest) -> dict[str, Any] | None:
        marker = idempotency_marker(request.idempotency_key)
        assert request.search_since is not None
        for status in ("open", "completed"):
            body = self.get_json("draft_orders.json", {"status": status, "limit": MAX_PAGE_SIZE,
                                                       "updated_at_min": utc_iso(request.search_since)}) or {}
            for draft in body.get("draft_orders") or []:
                if marker in str(draft.get("note") or ""):
                    return draft
        return None
