"""Magento 2 / Adobe Commerce REST connector: stock (legacy and Multi-Source Inventory), orders,
write-back, refunds as credit memos, and a store's own signed webhook.

Public docs this follows:

* Auth: ``Authorization: Bearer`` with an integration's access token (used alone as a bearer only
  when the admin allows "OAuth Access Tokens to be used as standalone Bearer tokens", off by
  default since 2.4.4), or an admin token from ``POST /V1/integration/admin/token``
  ``{"username", "password"}`` (a JSON string, four hours by default):
  https://developer.adobe.com/commerce/webapi/get-started/authentication/gs-authentication-token/ .
  Without the right ACL resource Magento answers 401 ``{"message": "The consumer isn't authorized
  to access %resources.", "parameters": {"resources": "Magento_Catalog::products"}}``; an admin
  token that expired is refused the same way, so a 401 takes a new token once and is sent again.
* Searches: ``searchCriteria[filter_groups][g][filters][f][field|value|condition_type]`` (groups
  AND-ed), ``searchCriteria[pageSize]``, ``[currentPage]``, ``[sortOrders]``, answered
  ``{"items", "search_criteria", "total_count"}``:
  https://developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/ . A page past the
  end answers the last page again (https://github.com/magento/magento2/issues/25619), so reads
  stop on ``total_count``; with input limits on, ``pageSize`` above 300 is refused
  (https://developer.adobe.com/commerce/webapi/get-started/api-security/), our ceiling.
* Legacy stock (``Magento_CatalogInventory``): ``GET /V1/stockItems/{sku}``, ``GET
  /V1/stockItems/lowStock?scopeId&qty&currentPage&pageSize`` (every item at or under ``qty``),
  ``GET /V1/stockStatuses/{sku}`` and ``PUT /V1/products/{sku}/stockItems/{itemId}`` with
  ``{"stockItem": {qty, is_in_stock, backorders (0 none, 1 below 0, 2 below 0 and notify),
  use_config_backorders}}``, as ``app/code/Magento/CatalogInventory/etc/webapi.xml`` declares
  (https://github.com/magento/magento2/blob/2.4-develop/app/code/Magento/CatalogInventory/etc/webapi.xml).
  ``GET /V1/products`` does not carry ``stock_item`` (https://github.com/magento/magento2/issues/36533).
* Multi-Source Inventory: ``GET``/``POST /V1/inventory/source-items`` (``sku, source_code,
  quantity, status``), ``GET /V1/inventory/get-sources-assigned-to-stock-ordered-by-priority/{stockId}``
  and the salable quantity ``GET /V1/inventory/get-product-salable-quantity/{sku}/{stockId}``:
  https://developer.adobe.com/commerce/webapi/rest/inventory/manage-source-items/ ,
  https://developer.adobe.com/commerce/webapi/rest/inventory/check-salable-quantity/ .
* Orders ``GET /V1/orders``; an offline refund ``POST /V1/order/{orderId}/refund`` with
  ``items [{order_item_id, qty}]``, ``notify``, ``appendComment``, ``comment``, ``arguments
  {shipping_amount, adjustment_positive, adjustment_negative, extension_attributes.return_to_stock_items}``
  answers the credit memo id; ``GET /V1/creditmemos`` lists memos with their ``comments``:
  https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-issue-refund/ .
* Errors ``{"message", "parameters"}`` with ``%1`` / ``%name`` placeholders:
  https://developer.adobe.com/commerce/webapi/get-started/gs-web-api-response/ . REST has no rate
  limit of its own (no 429, no limit headers), so nothing is paced here.

Reading: ``updated_at`` filters products (UTC text, ``gt`` strict at one second, so the query goes
back 1 s; only the last page moves the cursor); legacy stock is read per changed product from
``stockStatuses/{sku}`` (its status and whole stock item; anonymous in ``webapi.xml``), a full
read takes every stock item in pages from ``lowStock``; with ``msi`` each page's source items come
in one search and, with ``stock_id``, what the stock holds back (salable = its sources − reservations
of orders not shipped − the out-of-stock threshold) is counted as committed at its first source by
priority, so the stock's sources add up to what Magento will sell. A stock change that does not
touch the product's ``updated_at`` is seen by the full read, or by the webhook below.

Writing: one ``PUT`` of the stock item (quantity, stock status and backorders); with ``msi`` one
``POST source-items`` for every source, then the backorder setting (still the product's stock item). Refunds are offline credit memos (the gateway is not asked; an online refund goes through
the invoice, not done here) carrying ``[idempotency:<key>]`` in a comment hidden from the
customer: a retry finds the memo in the order's memos first. No store credit (Adobe Commerce's
customer balance only) and no substitute orders (placed through a cart).

Webhooks: Magento sends no signed stock webhooks out of the box, so it is polled; a store's own
observer module may post JSON signed with HMAC-SHA256 in the declarative scheme (defaults
``WEBHOOKS``, overridden key by key in ``options.webhooks``): header ``X-Magento-Signature:
sha256=<hex>``, ``X-Magento-Topic`` (``stock_item.updated``, ``source_items.updated``,
``order.placed``), ``X-Magento-Webhook-Id``, body ``{"items": [...]}`` of stock items (with
``sku``), source items or orders as the REST API shows them (docs/connectors.md).

Options: ``store_code`` (``default``), ``msi``, ``stock_id``, ``default_source`` (``default``),
``backorders_mode`` (2), ``page_size`` (≤ 300), ``webhooks``. Credentials: ``access_token``, or
``username`` and ``password``.
"""
from __future__ import annotations

from datetime import timedelta, timezone
from functools import cached_property
from itertools import chain
from typing import Any, ClassVar, Iterator, Mapping
from urllib.parse import quote

from connectors.auth import BearerToken, LoginToken
from connectors.base import (
    Capability, Collections, DeclaredRefunds, HighWater, LineFields, ListingRef, Marker, OrderPage, OrderReads,
    OrderRecord, PushResult, RefundRequest, RefundShape, StockPage, StockRecord, TotalCountPaginator, held_back, id_str,
    money_cents, parse_timestamp, whole_units, incremental,
)
from connectors.declarative import DeclaredWebhooks
from connectors.declarative_spec import WebhookSpec, webhook_spec
from connectors.errors import PermanentError

SC = "searchCriteria"
UTC_TEXT = HighWater.wall_clock(timezone.utc)  # ``updated_at`` is UTC text: "2024-05-01 13:02:11"
SEARCH = Collections(TotalCountPaginator(f"{SC}[currentPage]", f"{SC}[pageSize]"), f"{SC}[pageSize]", "items",
                     params={f"{SC}[sortOrders][0][field]": "entity_id", f"{SC}[sortOrders][0][direction]": "ASC"})
LINES = LineFields(title="name", variant=("product_id",), id="item_id", quantity="qty_ordered")
STATUSES = {"holded": "on-hold", "canceled": "cancelled"}
#: What a store's observer module sends unless its ``options.webhooks`` says otherwise.
WEBHOOKS = {"signature_header": "X-Magento-Signature", "encoding": "hex", "prefix": "sha256=",
            "topic_header": "X-Magento-Topic", "id_header": "X-Magento-Webhook-Id", "records": "items",
            "topics": {"stock_item.updated": "inventory_update", "source_items.updated": "inventory_update",
                       "order.placed": "order_created"}}


def criteria(field: str, value: str, condition: str, group: int = 0) -> dict[str, str]:
    """One ``searchCriteria`` filter in its own group (groups are AND-ed)."""
    at = f"{SC}[filter_groups][{group}][filters][0]"
    return {f"{at}[field]": field, f"{at}[value]": value, f"{at}[condition_type]": condition}


def changed_after(group: int) -> Any:
    """``updated_at gt`` the cursor less one second: strict at one-second resolution, so the
    cursor's own second is read again rather than lost."""
    return lambda cursor: criteria("updated_at", UTC_TEXT.format(UTC_TEXT.parse(cursor) - timedelta(seconds=1)), "gt",
                                   group)


def stock_record(row: Mapping[str, Any], sku: str | None = None, product_id: Any = None) -> StockRecord:
    """A legacy stock item (its SKU given, or ``sku`` in a webhook) or, with ``source_code``, a
    source item; an unmanaged stock item has no figure."""
    sku = sku or row.get("sku")
    quantity = whole_units(row.get("quantity" if "source_code" in row else "qty"))
    tracked = row.get("manage_stock", True) is not False
    return StockRecord(external_id=str(product_id or row.get("product_id") or sku), sku=sku,
                       location_external_id=id_str(row.get("source_code")), on_hand=quantity if tracked else None,
                       available=quantity if tracked else None, inventory_item_id=id_str(row.get("item_id")),
                       backorders_allowed=None if "backorders" not in row else bool(row["backorders"]),
                       updated_at=parse_timestamp(row.get("updated_at")))


def order_record(row: Mapping[str, Any]) -> OrderRecord:
    """An order; a configurable's child line (``parent_item_id``) repeats its parent and is left out."""
    order, billing = row, row.get("billing_address") or {}
    first, last = (order.get(f"customer_{n}") or billing.get(n) for n in ("firstname", "lastname"))
    return OrderRecord(
        external_id=str(order["entity_id"]), number=str(order.get("increment_id") or order["entity_id"]),
        placed_at=parse_timestamp(order.get("created_at")), email=order.get("customer_email") or billing.get("email"),
        phone=billing.get("telephone") or None, customer_name=" ".join(n for n in (first, last) if n),
        lines=LINES.records(line for line in order.get("items") or [] if not line.get("parent_item_id")),
        currency=str(order.get("order_currency_code") or "USD"), total_cents=money_cents(order.get("grand_total")),
        status=STATUSES.get(str(order.get("status")), str(order.get("status") or "open")),
        updated_at=parse_timestamp(order.get("updated_at")))


#: Products that hold stock themselves (a configurable's stock is its children's).
PRODUCTS = SEARCH("products", map=lambda p: StockRecord(str(p["id"]), p["sku"], updated_at=parse_timestamp(
    p.get("updated_at"))), params=criteria("type_id", "simple,virtual", "in"), cursor=UTC_TEXT,
                  since_param=changed_after(1))
ORDERS = SEARCH("orders", map=order_record, cursor=UTC_TEXT, since_param=changed_after(0), page=OrderPage)
CREDIT_MEMOS = SEARCH("creditmemos", params=criteria("order_id", "{order}", "eq"))
SKUS_IN = f"{SC}[filter_groups][0][filters][0][value]"
SOURCE_ITEMS = SEARCH("inventory/source-items", params=criteria("sku", "", "in"), ids_per_request=100)
LOW_STOCK = Collections(TotalCountPaginator("currentPage", "pageSize"), "pageSize", "items")(
    "stockItems/lowStock", map=stock_record, params={"scopeId": 0, "qty": 10**9})


class MagentoConnector(DeclaredWebhooks, OrderReads, DeclaredRefunds):
    """One Magento 2 / Adobe Commerce store over ``/rest/{store_code}/V1`` (legacy stock; ``msi``
    options build a :class:`MagentoMsiConnector`)."""

    platform: ClassVar[str] = "magento"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.STOCK_WRITE, Capability.ORDERS, Capability.REFUNDS, Capability.WEBHOOKS})
    refusals: ClassVar[Mapping[Capability, str]] = {Capability.STORE_CREDIT: "Adobe Commerce's customer balance only",
                                                    Capability.SUBSTITUTE_ORDERS: "Magento orders go through a cart"}
    api_prefix: ClassVar[str] = "/rest/{store_code}/V1"
    option_defaults: ClassVar[Mapping[str, Any]] = {
        "store_code": "default", "default_source": "default", "backorders_mode": 2}
    stock_per_location: ClassVar[bool] = False
    max_page_size: ClassVar[int | None] = 300
    default_page_size: ClassVar[int | None] = 100
    orders = ORDERS
    webhook_order = staticmethod(order_record)
    refunds = RefundShape(existing=CREDIT_MEMOS, create="order/{order}/refund", created="creditmemo/{id}",
                          quote="orders/{order}", quote_method="GET", id_key="entity_id",
                          amount=lambda memo: money_cents(memo.get("grand_total")),
                          marker=Marker("comment.comment", shown_at="comments[].comment"),
                          detail=lambda memo: " (offline credit memo: the payment gateway was not asked)")

    def __new__(cls, config: Any, **kwargs: Any) -> MagentoConnector:
        return super().__new__(MagentoMsiConnector if config.options.get("msi") else cls)

    @cached_property
    def hooks(self) -> WebhookSpec:
        """``WEBHOOKS`` with the store's ``options.webhooks`` on top."""
        hooks, problems = webhook_spec(self.options, WEBHOOKS)
        if hooks is None:
            raise PermanentError(f"magento store {self.config.store_key}: options.webhooks: {problems}")
        return hooks

    def webhook_stock(self, row: Mapping[str, Any]) -> StockRecord:
        return stock_record(row)

    def build_auth(self) -> Any:
        """The integration's token as it is, else an admin token taken with the store's user."""
        creds = self.config.credentials
        if creds.get("access_token"):
            return BearerToken(creds["access_token"])
        body = {"username": creds.get("username", ""), "password": creds.get("password", "")}
        return LoginToken((self.base_url, self.options["store_code"], body["username"]),
                          lambda: str(self.sign_in("integration/admin/token", body)))

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Changed products, each page with its stock. A full legacy read is two walks of pages, not
        a call a SKU: the products (their SKUs and ids, no figure: the listings), then every stock
        item from ``lowStock``, which names only the product id the listings resolve."""
        if since is None and not self.stock_per_location:
            return incremental(chain((page.records for page in self.read(PRODUCTS)),
                                     (page.records for page in self.read(LOW_STOCK))), None, UTC_TEXT, StockPage)
        return (StockPage(self.stock_of(page.records), page.cursor) for page in self.read(PRODUCTS, since))

    def stock_of(self, products: list[StockRecord]) -> list[StockRecord]:
        """Each product's ``stockStatuses/{sku}``: its status and its whole stock item."""
        return [stock_record((self.get_json(f"stockStatuses/{quote(str(p.sku), safe='')}") or {}).get("stock_item")
                             or {}, p.sku) for p in products]

    def stock_item(self, listing: ListingRef, backorder: bool, quantity: int | None = None) -> PushResult:
        """The stock item's backorder setting, with its quantity and stock status when given."""
        item: dict[str, Any] = {"use_config_backorders": False,
                                "backorders": int(self.options["backorders_mode"]) if backorder else 0}
        if quantity is not None:
            item.update(qty=quantity, is_in_stock=quantity > 0 or backorder, manage_stock=True)
        path = f"products/{quote(listing.sku, safe='')}/stockItems/{listing.inventory_item_id or listing.external_id}"
        return self.push_result(self.request("PUT", path, json_body={"stockItem": item}),
                                {"path": path, "body": {"stockItem": item}}, {None: quantity or 0})

    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        """One ``PUT``: the absolute quantity (a retry converges), the status it implies, backorders."""
        return self.stock_item(listing, backorder, max(0, int(available)))

    def refund_body(self, request: RefundRequest, order: Mapping[str, Any]) -> dict[str, Any]:
        """The line at its price (tax in, discount out, for the quantity), adjusted to the amount
        decided; shipping is not refunded; the key's comment is hidden from the customer."""
        line = next((i for i in order.get("items") or [] if str(i.get("item_id")) == request.line_external_id), None)
        if line is None:
            raise PermanentError(f"magento order {request.order_external_id} has no item {request.line_external_id}",
                                 platform=self.platform)
        priced = (money_cents(line.get("row_total_incl_tax")) - money_cents(line.get("discount_amount"))) \
            * request.quantity // max(1, int(line.get("qty_ordered") or 1))
        gap = request.amount_cents - priced
        returned = [int(request.line_external_id)] if request.restock else []
        return {"items": [{"order_item_id": int(request.line_external_id), "qty": request.quantity}],
                "notify": request.notify_customer, "appendComment": False,
                "comment": {"comment": request.reason, "is_visible_on_front": 0},
                "arguments": {"shipping_amount": 0, "adjustment_positive": max(gap, 0) / 100,
                              "adjustment_negative": max(-gap, 0) / 100,
                              "extension_attributes": {"return_to_stock_items": returned}}}


class MagentoMsiConnector(MagentoConnector):
    """A store with Multi-Source Inventory: a figure per source, written per source."""

    stock_per_location: ClassVar[bool] = True
    write_requests = (2, 0)  # every source in one request, then the stock item's backorders

    def stock_of(self, products: list[StockRecord]) -> list[StockRecord]:
        """Each product's source items; with ``stock_id``, what the stock holds back is committed at
        its first source (by priority) that has the SKU."""
        ids = {str(p.sku): p.external_id for p in products}
        rows = self.records(SOURCE_ITEMS, ids={SKUS_IN: list(ids)}) if ids else []
        records = [stock_record(row, product_id=ids.get(row["sku"])) for row in rows]
        if (stock := self.options.get("stock_id")) is None:
            return records
        pool = self.get_json(f"inventory/get-sources-assigned-to-stock-ordered-by-priority/{stock}") or []
        return held_back(records, [source["source_code"] for source in pool], lambda sku: whole_units(
            self.get_json(f"inventory/get-product-salable-quantity/{quote(sku, safe='')}/{stock}")))

    def push_levels(self, listing: ListingRef, levels: Mapping[str | None, int], backorder: bool) -> list[PushResult]:
        """Every source's absolute quantity in one ``POST source-items``, then the backorder setting
        on the product's stock item. Sources first: saving the stock item makes a store's observer
        post it with the ``default`` source's quantity, which is then the one just written (our
        echo), never the one before it, which would read as a real change."""
        written = {code or self.options["default_source"]: max(0, int(q)) for code, q in levels.items()}
        items = [{"sku": listing.sku, "source_code": code, "quantity": q, "status": int(q > 0 or backorder)}
                 for code, q in written.items()]
        response = self.request("POST", "inventory/source-items", json_body={"sourceItems": items})
        self.stock_item(listing, backorder)
        return [self.push_result(response, {"sourceItems": items, "backorder": backorder}, dict(written))]

    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        """One source: the listing's, else ``default_source``."""
        return self.push_levels(listing, {listing.location_external_id: available}, backorder)[0]
