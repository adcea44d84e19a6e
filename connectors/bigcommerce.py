"""BigCommerce connector: stock, orders, write-back, refunds and webhooks for one store.

Public docs this follows:

* Auth: ``X-Auth-Token`` on ``https://api.bigcommerce.com/stores/{store_hash}/v3`` (and ``/v2``),
  OAuth scopes per resource: https://developer.bigcommerce.com/docs/start/authentication/api-accounts
* Catalog products with their variants (``include=variants``, ``inventory_tracking`` none | product
  | variant, ``inventory_level`` of the default location, ``availability`` available | disabled |
  preorder, ``availability_description``, ``date_modified:min``, ``limit`` ≤ 250, ``page``, and the
  ``meta.pagination {total, count, per_page, current_page, total_pages, links}`` envelope):
  https://developer.bigcommerce.com/docs/rest-catalog/products
* Inventory API (``GET /v3/inventory/items`` with ``product_id:in`` / ``location_id:in``, rows
  ``identity{sku, variant_id, product_id}`` + ``locations[]{location_id, available_to_sell,
  total_inventory_onhand}``; ``PUT /v3/inventory/adjustments/absolute`` ``{reason, items:
  [{location_id, variant_id | product_id, quantity}]}``; ``GET /v3/inventory/locations``):
  https://developer.bigcommerce.com/docs/rest-management/inventory and
  https://developer.bigcommerce.com/docs/store-operations/catalog/inventory-adjustments ("use
  absolute adjustments as the default method for updating inventory")
* Orders v2 (``GET /v2/orders?min_date_modified=&sort=date_modified:asc&limit=&page=``, a bare
  array, RFC 2822 dates, 204 past the end; ``GET /v2/orders/{id}/products``; status ids):
  https://developer.bigcommerce.com/docs/rest-management/orders and
  https://developer.bigcommerce.com/docs/rest-management/orders/order-status
* Refunds: ``POST /v3/orders/{id}/payment_actions/refund_quotes`` then ``…/refunds`` with the
  quote's ``refund_methods`` amounts; ``GET …/refunds`` lists them:
  https://developer.bigcommerce.com/docs/store-operations/orders/refunds
* Webhooks (``{scope, store_id, data: {type, id, …}, hash, created_at, producer}``, ids only,
  custom ``headers`` sent back on every delivery, duplicates told apart by ``hash``):
  https://developer.bigcommerce.com/docs/integrations/webhooks and
  https://developer.bigcommerce.com/docs/integrations/webhooks/events
* Rate limits (``X-Rate-Limit-Requests-Left`` / ``-Time-Reset-Ms`` / ``-Time-Window-Ms`` /
  ``-Requests-Quota`` on every answer, a quota per 30 s shared by every app of the store; on 429
  wait ``X-Rate-Limit-Time-Reset-Ms``):
  https://docs.bigcommerce.com/developer/docs/overview/api-fundamentals/rate-limits
* Errors: ``{"status", "title", "type", "errors": {…}}``:
  https://developer.bigcommerce.com/docs/start/about/status-codes

Stock: each catalog page is the listing (SKU, ids, tracking, backorder flag). Without
``inventory_locations`` its ``inventory_level`` is the figure at the default location
(``default_location_id``, 1); with it, the page's items are read from the Inventory API, one
record per item × location. Incremental reads ask for products with ``date_modified:min`` one
second before the cursor (the boundary is re-read, never lost); only the last page moves it.
Known limit, as for WooCommerce: a level that changes without the product's ``date_modified``
moving is seen through the webhook or the periodic full read.

Write-back: the quantity is one absolute adjustment for every location of the listing; the
backorder state is the product's ``availability`` (``preorder`` with ``backorder_message`` as
``availability_description`` while backordered, ``available`` with ``available_message`` after).
BigCommerce's v3 reference has no "sell past zero" switch for a tracked product: whether a
pre-order product sells at 0 follows the store's pre-order settings; the Backorders beta
(``backorder_limit`` per location) is not used. Availability is per product, so a backordered
variant shows its whole product as pre-order.

Webhooks carry ids only (``thin_webhooks``): an event names ``product:<id>`` or ``order:<id>`` and
the drain fetches that resource (:meth:`BigCommerceConnector.resolve_webhook`). The check is the
header we set at subscription (``X-Backorders-Secret``, the store's webhook secret); the dedupe key
is the scope and the payload's ``hash``. Refunds are issued at most once per key: the key travels
in each refunded item's ``reason`` (shown as the refund's ``reason``) and the order's refunds are
listed before a quote and a refund are made. Store credit and substitute orders are not offered.

Options: ``page_size`` (≤ 250), ``inventory_locations`` (false), ``default_location_id`` (1),
``location_ids`` (inventory mode: only these), ``backorder_message``, ``available_message``,
``quota_reserve`` (requests left to the store's other apps). Credentials: ``access_token``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar, Iterator, Mapping

from connectors.base import (
    STOREFRONT, Capability, Collections, DeclaredRefunds, HighWater, JsonWebhookConnector, JsonWebhooks, LevelWrites,
    LineFields, ListingRef, Marker, MetaPaginationPaginator, OrderPage, OrderReads, OrderRecord, PageNumberPaginator,
    PushResult, Quota, RateLimitHeaders, RefundRequest, RefundShape, StockPage, StockRecord, WebhookEvent,
    cents_to_money, full_name, header_auth, incremental, money_cents, parse_timestamp, spread_cents, time_after,
    verify_shared_secret, whole_units,
)
from connectors.errors import PermanentError
from connectors.types import WebhookKind

SECRET_HEADER = "X-Backorders-Secret"
V3 = Collections(MetaPaginationPaginator(), page_size_param="limit", records="data")
V2 = Collections(PageNumberPaginator(size_param="limit", total_pages_header=None), page_size_param="limit",
                 records="$")
PRODUCTS = V3("v3/catalog/products", params={"include": "variants", "sort": "id"},
              since_param=time_after("date_modified:min", lookback_s=1))
ITEMS = V3("v3/inventory/items", ids_per_request=50)
ORDERS = V2("v2/orders", params={"sort": "date_modified:asc"}, since_param="min_date_modified", cursor=HighWater(),
            page=OrderPage)
REFUNDS = V3("v3/orders/{order}/payment_actions/refunds")
LINES = LineFields(title="name", variant=("variant_id",), price="price_inc_tax")
#: Order status ids (https://developer.bigcommerce.com/docs/rest-management/orders/order-status);
#: any other is an open order.
STATUSES = {0: "incomplete", 2: "closed", 4: "refunded", 5: "cancelled", 6: "cancelled", 10: "closed"}
KINDS: dict[str, WebhookKind] = {
    "store/product/inventory/updated": "inventory_update", "store/product/inventory/order/updated": "inventory_update",
    "store/sku/inventory/updated": "inventory_update", "store/sku/inventory/order/updated": "inventory_update",
    "store/order/created": "order_created"}


def catalog_records(product: Mapping[str, Any], location: str) -> list[StockRecord]:
    """A product's listings: its variants when tracked by variant, else the product itself; the
    figure (default location only) is None when inventory is not tracked."""
    when, tracking = parse_timestamp(product.get("date_modified")), product.get("inventory_tracking")
    base = StockRecord(external_id=str(product["id"]), sku=product.get("sku") or None, location_external_id=location,
                       updated_at=when, backorders_allowed=product.get("availability") == "preorder")
    if tracking == "variant":
        return [replace(base, external_id=str(v["id"]), sku=v.get("sku") or None, parent_external_id=base.external_id,
                        available=whole_units(v.get("inventory_level")), on_hand=whole_units(v.get("inventory_level")))
                for v in product.get("variants") or []]
    level = whole_units(product.get("inventory_level")) if tracking == "product" else None
    return [replace(base, available=level, on_hand=level)]


def order_record(order: Mapping[str, Any], lines: list[Mapping[str, Any]]) -> OrderRecord:
    billing = order.get("billing_address") or {}
    return OrderRecord(
        external_id=str(order["id"]), number=str(order["id"]), placed_at=parse_timestamp(order.get("date_created")),
        email=billing.get("email") or None, phone=billing.get("phone") or None, customer_name=full_name(billing),
        lines=LINES.records(lines), currency=str(order.get("currency_code") or "USD"),
        total_cents=money_cents(order.get("total_inc_tax")), status=STATUSES.get(int(order.get("status_id", 1)), "open"),
        updated_at=parse_timestamp(order.get("date_modified")))


def hash_key(topic: str, headers: Mapping[str, str], payload: Mapping[str, Any], body: bytes) -> str:
    """BigCommerce's own duplicate check: the payload's ``hash`` (the docs' "blocklist" of hashes)."""
    return f"{topic}:{payload['hash']}"


class BigCommerceConnector(LevelWrites, JsonWebhookConnector, OrderReads, DeclaredRefunds):
    """One BigCommerce store (``https://api.bigcommerce.com/stores/{store_hash}``)."""

    platform: ClassVar[str] = "bigcommerce"
    capabilities: ClassVar[frozenset[Capability]] = STOREFRONT - {Capability.STORE_CREDIT,
                                                                  Capability.SUBSTITUTE_ORDERS}
    refusals = {Capability.STORE_CREDIT: "refund to the storecredit provider in the control panel",
                Capability.SUBSTITUTE_ORDERS: "place the substitute in the control panel"}
    option_defaults: ClassVar[Mapping[str, Any]] = {
        "inventory_locations": False, "default_location_id": "1", "available_message": "",
        "backorder_message": "Backordered: ships as soon as it is restocked"}
    auth = header_auth("X-Auth-Token", "access_token")
    bucket = Quota("X-Rate-Limit-Requests-Left", "X-Rate-Limit-Time-Reset-Ms")
    rate_limits = RateLimitHeaders(reset_header="X-Rate-Limit-Time-Reset-Ms", reset_unit="ms")
    max_page_size: ClassVar[int | None] = 250
    locations = V3("v3/inventory/locations", map=lambda location: location["id"] if location.get("enabled") else None)
    write_requests = (2, 0)  # the product's availability, then one adjustment for every location
    thin_webhooks: ClassVar[bool] = True
    webhooks = JsonWebhooks(signature_headers=(SECRET_HEADER,), topic_headers=(), topic_field="scope", kinds=KINDS,
                            occurred_field="created_at", verify=verify_shared_secret, dedupe=hash_key)
    refunds = RefundShape(existing=REFUNDS, create="v3/orders/{order}/payment_actions/refunds", answers_in="data",
                          quote="v3/orders/{order}/payment_actions/refund_quotes", marker=Marker("reason", inside="items"),
                          amount=lambda refund: money_cents(refund.get("total_amount")))

    def __init__(self, config: Any, **kwargs: Any) -> None:
        """Without ``inventory_locations`` the store's one location is the default location."""
        super().__init__(config, **kwargs)
        self.default_location = str(self.options["default_location_id"])
        self.orders = replace(ORDERS, map=self.order)
        if not self.options["inventory_locations"]:
            self._location_ids = [self.default_location]

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Pages of products, each page's listings with their figures; only the last moves the cursor."""
        yield from incremental((self.stock_records(page.records) for page in self.read(PRODUCTS, since)), since,
                               page=StockPage)

    def stock_records(self, products: list[Mapping[str, Any]]) -> list[StockRecord]:
        """The catalog's figures, or (``inventory_locations``) the items' figures at each location."""
        listings = [record for product in products for record in catalog_records(product, self.default_location)]
        if not self.options["inventory_locations"] or not products:
            return listings
        keyed = {(record.parent_external_id is None, record.external_id): record for record in listings}
        wanted = {"location_id:in": ",".join(map(str, self.options["location_ids"]))} \
            if self.options.get("location_ids") else {}
        located = [replace(listing, location_external_id=str(at["location_id"]),
                           available=whole_units(at.get("available_to_sell")),
                           on_hand=whole_units(at.get("total_inventory_onhand")))
                   for item in self.records(replace(ITEMS, params=wanted),
                                            ids={"product_id:in": [str(p["id"]) for p in products]})
                   if (listing := keyed.get((False, str(item["identity"].get("variant_id"))))
                       or keyed.get((True, str(item["identity"].get("product_id"))))) is not None
                   for at in item.get("locations") or []]
        return located + [record for record in listings if record.available is None]

    def order(self, order: Mapping[str, Any]) -> OrderRecord:
        """An order with its lines (``/v2/orders/{id}/products``: the list has none of them)."""
        return order_record(order, list(self.records(V2(f"v2/orders/{order['id']}/products"))))

    def push_levels(self, listing: ListingRef, levels: Mapping[str | None, int], backorder: bool) -> list[PushResult]:
        """The product's availability first (turning backorders on never shows "sold out" in
        between), then every location's quantity in one absolute adjustment (a retry converges)."""
        product = listing.parent_external_id or listing.external_id
        flags = {"availability": "preorder", "availability_description": self.options["backorder_message"]} \
            if backorder else {"availability": "available", "availability_description": self.options["available_message"]}
        self.request("PUT", f"v3/catalog/products/{product}", json_body=flags)
        item = {"variant_id": int(listing.external_id)} if listing.parent_external_id else {"product_id": int(product)}
        written = {location: max(0, int(figure)) for location, figure in levels.items()}
        body = {"reason": "Backorder Automator: sellable quantity", "items": [
            {"location_id": int(location or self.default_location), **item, "quantity": quantity}
            for location, quantity in written.items()]}
        response = self.request("PUT", "v3/inventory/adjustments/absolute", json_body=body)
        return [self.push_result(response, {"product": flags, "adjustment": body}, written)]

    def quote_body(self, request: RefundRequest) -> dict[str, Any]:
        return {"items": [{"item_type": "PRODUCT", "item_id": int(request.line_external_id),
                           "quantity": int(request.quantity)}]}

    def refund_body(self, request: RefundRequest, quote: Mapping[str, Any]) -> dict[str, Any]:
        """The first refund method paid back online (else the first), its providers sharing the
        amount; an amount other than the quote's total is a merchant override (no tax moved)."""
        methods = quote.get("refund_methods") or []
        if not methods:
            raise PermanentError(f"bigcommerce order {request.order_external_id}: the refund quote offers no "
                                 f"refund method", platform=self.platform)
        method = next((m for m in methods if not any(option.get("offline") for option in m)), methods[0])
        shares = spread_cents(request.amount_cents, method, lambda option: money_cents(option.get("amount")))
        body: dict[str, Any] = {
            "items": [{**self.quote_body(request)["items"][0], "reason": request.reason}],
            "payments": [{"provider_id": option["provider_id"], "amount": float(cents_to_money(share)),
                          "offline": bool(option.get("offline"))} for option, share in shares if share > 0]}
        if request.amount_cents != money_cents(quote.get("total_refund_amount")):
            body["merchant_calculated_override"] = {"total_amount": float(cents_to_money(request.amount_cents)),
                                                    "total_tax": 0}
        return body

    def webhook_records(self, kind: WebhookKind, payload: Mapping[str, Any]) -> tuple[list[Any], list[Any], list[str]]:
        """Ids only: the order, or the product (a SKU's event names its product in ``inventory``)."""
        data = payload["data"]
        if kind == "order_created":
            return [], [], [f"order:{data['id']}"]
        return [], [], [f"product:{(data.get('inventory') or {}).get('product_id') or data['id']}"]

    def resolve_webhook(self, event: WebhookEvent) -> WebhookEvent:
        """The named order (with its lines) or product (with its figures), as the store holds it now;
        a resource deleted since is no record at all."""
        what, _, ident = (event.resource_ids or [":"])[0].partition(":")
        try:
            if what == "order":
                return replace(event, orders=[self.order(self.get_json(f"v2/orders/{ident}"))])
            products = list(self.records(replace(PRODUCTS, params={**PRODUCTS.params, "id:in": ident})))
            return replace(event, stock=self.stock_records(products))
        except PermanentError as exc:
            if exc.status_code == 404:
                return event
            raise
