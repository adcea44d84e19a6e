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

* refunds carry ``[idempotency:<key>]`` in their ``note`` (``connectors.idempotency``);
  ``refund_line`` lists the order's
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

How it is built: the streams (locations, products, inventory levels with their 50-id limit,
orders, refunds, draft orders) are declared below and read by ``connectors.streams`` (cursor,
chunking, retries, pacing); webhooks are declared by header names with the mappings each topic's
payload gets (``connectors.hooks``); the refund (``calculate`` first), the gift card (its keyed
code, read back once taken) and the draft order (completed unless done) are declared request
shapes run by ``connectors.writes``. What is left here is Shopify's own record shapes, its
two-step write-back and the bodies of its refund, gift card and draft-order requests.

Options (``ConnectorConfig.options``): ``api_version`` (default ``2025-01``), ``location_ids``
(list; otherwise read from ``locations.json``), ``bucket_size`` / ``leak_rate`` / ``bucket_reserve``
for the client-side pacer, ``page_size`` (≤ 250).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar, Iterator, Mapping

from connectors.base import (
    Bucket, Collections, CreditShape, FulfillmentFields, HighWater, JsonWebhooks, KeyedCodes, LevelWrites, LineFields,
    ListingRef, OrderPage, OrderRecord, OrderShape, PushResult, RefundFields, RefundRequest, RefundShape, Refusal,
    ReturnFields, ReturnLookup, StockPage, StockRecord, Storefront, SubstituteOrderRequest, SubstituteOrderResult,
    cents_to_money, full_name, header_auth, id_str, incremental, money_cents, parse_timestamp, shopify_link_paginator,
    spread_cents, whole_units, ORDER_RISK, refunded_by_transactions)
from connectors.errors import PermanentError

#: Shopify's REST collections: ``{"orders": [...]}`` at ``orders.json``, ``limit`` per page, ``Link`` cursors.
REST = Collections(shopify_link_paginator(), page_size_param="limit", suffix=".json")
LINES = LineFields(title="title", variant=("variant_id",))
#: Shopify's own returns, each topic a move of the ``Return`` (``connectors.store_returns``).
RETURNS = tuple(f"returns/{move}" for move in ("request", "approve", "decline", "cancel", "close", "reopen", "update"))


def variant_record(variant: Mapping[str, Any], product_id: str | None) -> StockRecord:
    """A product variant: the SKU, its inventory item and whether it sells when out of stock."""
    return StockRecord(external_id=str(variant["id"]), sku=variant.get("sku") or None,
                       inventory_item_id=id_str(variant.get("inventory_item_id")), parent_external_id=product_id,
                       backorders_allowed=variant.get("inventory_policy") == "continue",
                       updated_at=parse_timestamp(variant.get("updated_at")))


def variant_records(product: Mapping[str, Any]) -> list[StockRecord]:
    """Every variant of a product (a ``products/update`` webhook, a page of the catalog)."""
    return [variant_record(variant, str(product["id"])) for variant in product.get("variants") or []]


def level_record(level: Mapping[str, Any], variant: StockRecord | None = None) -> StockRecord:
    """An inventory level, with what its variant says when the variant is known (a full fetch).

    A level without its variant (incremental, webhook) keys on ``inventory_item_id``:
    ``external_id`` is then the inventory item id and ``sku`` None, and the domain maps it to the
    SKU through the listing it stored on the last full fetch.
    """
    iid, get = str(level["inventory_item_id"]), level.get  # built, not replaced: 3 µs less (measured)
    kw: dict[str, Any] = dict(location_external_id=id_str(get("location_id")), inventory_item_id=iid,
                              available=whole_units(get("available")), updated_at=parse_timestamp(get("updated_at")))
    return replace(variant, **kw) if variant else StockRecord(iid, **kw)


def order_record(order: Mapping[str, Any]) -> OrderRecord:
    customer, billing = order.get("customer") or {}, order.get("billing_address") or {}
    return OrderRecord(
        external_id=str(order["id"]), number=str(order.get("name") or order.get("order_number") or order["id"]),
        placed_at=parse_timestamp(order.get("created_at")), risk=ORDER_RISK.record(order),
        phone=order.get("phone") or customer.get("phone"), email=order.get("email") or customer.get("email"),
        customer_name=full_name(customer) or billing.get("name") or "", lines=LINES.records(order.get("line_items")),
        currency=str(order.get("currency") or "USD"), total_cents=money_cents(order.get("total_price")),
        updated_at=parse_timestamp(order.get("updated_at")),
        status="cancelled" if order.get("cancelled_at") else "closed" if order.get("closed_at") else "open")


PRODUCTS = REST("products", params={"fields": "id,variants"})
#: ``inventory_item_ids`` and ``location_ids`` each take at most 50 ids per request.
LEVELS = REST("inventory_levels", map=level_record, since_param="updated_at_min", cursor=HighWater(),
              ids_per_request=50, page=StockPage)
#: Look-ups by key read the most a page holds (``limit`` 250), whatever the store's ``page_size``.
BY_KEY = Collections(REST.paginator, suffix=".json", params={"limit": 250})
REFUNDS = BY_KEY("orders/{order}/refunds")
DRAFTS = tuple(BY_KEY("draft_orders", params={"status": s}, since_param="updated_at_min") for s in ("open", "completed"))
GIFT_CARDS = BY_KEY("gift_cards/search", records="gift_cards", params={"query": "last_characters:{last4}"})


class ShopifyConnector(LevelWrites, Storefront):
    """One Shopify shop over the Admin REST API (``/admin/api/{version}``)."""

    platform: ClassVar[str] = "shopify"
    api_prefix: ClassVar[str] = "/admin/api/{api_version}"
    option_defaults: ClassVar[Mapping[str, Any]] = {"api_version": "2025-01"}
    auth = header_auth("X-Shopify-Access-Token", "access_token")
    bucket = Bucket(capacity=40, leak_per_s=2.0, reserve=2, header="X-Shopify-Shop-Api-Call-Limit")
    max_page_size: ClassVar[int | None] = 250
    locations = REST("locations", map=lambda location: location["id"] if location.get("active", True) else None)
    orders = REST("orders", map=order_record, params={"status": "any"}, since_param="updated_at_min",
                  cursor=HighWater(), page=OrderPage)
    write_requests = (1, 1)  # the variant's policy, then each location's quantity
    webhooks = JsonWebhooks(signature_headers=("X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256"),
        topic_headers=("X-Shopify-Topic", "Shopify-Topic"), order_record=order_record,
        dedupe_headers=("X-Shopify-Event-Id", "X-Shopify-Webhook-Id"), occurred_headers=("X-Shopify-Triggered-At",),
        kinds={"inventory_levels/update": "inventory_update", "orders/create": "order_created", "products/update":
               "sku_modified", "refunds/create": "refund_created", "inventory_levels/connect": "location_connected",
               "orders/fulfilled": "order_fulfilled", "orders/partially_fulfilled": "order_fulfilled",
               "inventory_levels/disconnect": "location_disconnected", **dict.fromkeys(RETURNS, "return_changed")},
        stock_records=dict(inventory_update=level_record, sku_modified=variant_records,
                           **dict.fromkeys(("location_connected", "location_disconnected"), level_record)),
        event_records=dict(order_fulfilled=FulfillmentFields().event, refund_created=RefundFields().event,
                           return_changed=ReturnFields().event))
    return_lookup = ReturnLookup()  # the ``return(id:)`` query, for a ``returns/*`` webhook without its lines
    order_record = staticmethod(order_record)
    refunds = RefundShape(existing=REFUNDS, create="orders/{order}/refunds.json", root="refund",
                          quote="orders/{order}/refunds/calculate.json", amount=refunded_by_transactions)
    credit_codes = KeyedCodes("access_token")  # ``credit_code_secret`` in production: 16 hex characters
    credit = CreditShape(create="gift_cards.json", root="gift_card", what="gift card", amount_field="initial_value",
                         taken=Refusal(status=422, field="code", phrase="already been taken"), lookup=GIFT_CARDS,
                         named="gift card code ending {last4}")
    substitutes = OrderShape(create="draft_orders.json", existing=DRAFTS, root="draft_order",
                             by_id="draft_orders/{id}.json", complete="draft_orders/{id}/complete.json",
                             done=lambda draft: draft.get("status") == "completed", pending_param="payment_pending",
                             becomes="order_id", what="draft order")

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Full fetch walks products then their inventory levels; incremental reads levels only.

        Intermediate pages carry the previous cursor (the walk order is not by ``updated_at``, so
        only the finished walk may move it); the last page carries the newest ``updated_at`` seen.
        An incremental read of more than 50 locations is one walk per 50 locations, one after the
        other, so the cursor moves only once the last page of the last one is read.
        ``updated_at_min`` is inclusive, so the boundary second is re-read, never skipped.
        """
        pages = self.read(LEVELS, since, ids={"location_ids": self.location_ids()}) if since is not None else \
            incremental(self._catalog_pages(), None, page=StockPage)
        yield from pages  # a generator: nothing is requested before the first page is asked for

    def _catalog_pages(self) -> Iterator[list[StockRecord]]:
        for page in self.read(PRODUCTS):
            variants = {variant.inventory_item_id: variant for product in page.records
                        for variant in variant_records(product) if variant.inventory_item_id}
            yield list(self.records(LEVELS, ids={"inventory_item_ids": list(variants)},
                                    map=lambda level: level_record(level, variants[str(level["inventory_item_id"])])))

    def push_levels(self, listing: ListingRef, levels: Mapping[str | None, int], backorder: bool) -> list[PushResult]:
        """One ``inventory_policy`` update per SKU, then ``inventory_levels/set`` per location.

        Shopify keeps a quantity per location and its REST ``set`` takes one location a call, so
        locations stay separate writes; the variant's policy is one flag per product variant, so
        it is written once, not once per location (``write_requests``). ``push_availability`` is
        one location of it: the listing's, else the store's first.

        Policy first: when turning backorders on, the listing never shows "sold out" between the
        two calls; when turning them off, the quantity that follows is still exact. Quantity is
        an absolute ``set`` (not ``adjust``), so a retried push converges instead of drifting.
        """
        if not listing.inventory_item_id:
            raise ValueError(f"listing {listing.sku} has no inventory_item_id")
        variant = {"id": int(listing.external_id), "inventory_policy": "continue" if backorder else "deny"}
        self.request("PUT", f"variants/{listing.external_id}.json", json_body={"variant": variant})
        results: list[PushResult] = []
        for key, available in levels.items():
            level = {"location_id": int(key or self.location_ids()[0]),
                     "inventory_item_id": int(listing.inventory_item_id), "available": max(0, int(available))}
            response = self.request("POST", "inventory_levels/set.json", json_body=level)
            request = {"inventory_level": level, **({} if results else {"variant": {"variant": variant}})}
            results.append(self.push_result(response, request, {key: level["available"]}))
        return results

    def quote_body(self, request: RefundRequest) -> dict[str, Any]:
        """``calculate`` answers Shopify's own parent transactions, gateway and refundable maximum."""
        line = {"line_item_id": int(request.line_external_id), "quantity": int(request.quantity),
                "restock_type": "cancel" if request.restock else "no_restock"}
        return {"currency": request.currency, "refund_line_items": [line]}

    def refund_body(self, request: RefundRequest, quote: Mapping[str, Any]) -> dict[str, Any]:
        """The calculated lines, and the amount the domain decided spread over the parent transactions."""
        parents = [t for t in quote.get("transactions") or [] if t.get("parent_id") is not None]
        if not parents:
            raise PermanentError(f"shopify order {request.order_external_id}: nothing left to refund (calculate "
                                 f"suggested no parent transaction)", platform=self.platform)
        return {"currency": request.currency, "notify": bool(request.notify_customer), "note": request.reason,
                "refund_line_items": [{k: line[k] for k in ("line_item_id", "quantity", "restock_type", "location_id")
                                       if line.get(k) is not None} for line in quote.get("refund_line_items") or []],
                "transactions": [{"parent_id": t["parent_id"], "amount": cents_to_money(cents), "kind": "refund",
                                  "gateway": t.get("gateway")}
                                 for t, cents in spread_cents(request.amount_cents, parents) if cents > 0]}

    def credit_body(self, request: RefundRequest, code: str) -> dict[str, Any]:
        """A gift card for the amount, given to the order's customer when it has one."""
        order = self.fetch_one(f"orders/{request.order_external_id}.json", "order", {"fields": "id,customer"})
        customer_id = id_str((order.get("customer") or {}).get("id"))
        return {"initial_value": cents_to_money(request.amount_cents), "code": code, "note": request.reason,
                **({"customer_id": int(customer_id)} if customer_id else {})}

    def substitute_body(self, request: SubstituteOrderRequest) -> dict[str, Any]:
        """What the customer already paid for the backordered line is the discount."""
        original = self.fetch_one(f"orders/{request.original_order_external_id}.json", "order",
                                  {"fields": "id,customer,shipping_address,email"})
        draft: dict[str, Any] = {
            "line_items": [{"variant_id": int(request.listing.external_id), "quantity": int(request.quantity)}],
            "email": request.customer_email or original.get("email"), "tags": "backorder-substitute",
            "note": request.note, "note_attributes": [{"name": "substitute_for_order",
                                                       "value": request.original_order_number}]}
        if customer_id := id_str((original.get("customer") or {}).get("id")):
            draft["customer"] = {"id": int(customer_id)}
            draft["use_customer_default_address"] = not original.get("shipping_address")
        if original.get("shipping_address"):
            draft["shipping_address"] = original["shipping_address"]
        paid = {"title": f"Paid on order {request.original_order_number}", "description": "Backordered item replaced"}
        if request.due_cents <= 0:  # nothing more to pay, whatever the shop's own price says
            draft["applied_discount"] = {**paid, "value_type": "percentage", "value": "100.0"}
        elif request.paid_cents > 0:
            amount = cents_to_money(request.paid_cents)
            draft["applied_discount"] = {**paid, "value_type": "fixed_amount", "value": amount, "amount": amount}
        return draft

    def substitute_result(self, draft: dict[str, Any], status: int, request: dict[str, Any]) -> SubstituteOrderResult:
        """The completed draft's order, read for its number, what is due and whether payment is pending."""
        order_id = str(draft["order_id"])
        order = self.fetch_one(f"orders/{order_id}.json", "order", {"fields": "id,name,total_price,financial_status"})
        return SubstituteOrderResult(
            external_id=order_id, number=str(order.get("name") or order_id),
            total_cents=money_cents(draft.get("subtotal_price")),
            due_cents=money_cents(order.get("total_price", draft.get("total_price"))),
            payment_pending=order.get("financial_status") == "pending", status_code=status,
            draft_external_id=id_str(draft.get("id")), request=request,
            detail="draft order created and completed" if status == 201 else "completed the earlier draft order")
