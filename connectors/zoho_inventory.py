"""Zoho Inventory connector: stock per warehouse (location), purchase orders, the backorder status and
workflow-rule webhooks, through the Inventory API v1 (``https://www.zohoapis.{dc}/inventory/v1``).

Public docs this follows:

* Introduction (one base URL per data centre, ``organization_id`` on every call, the
  ``{"code": 0, "message": "success", …}`` envelope, errors as a non-zero ``code`` and a
  ``message``): https://www.zoho.com/inventory/api/v1/introduction/
* OAuth (a self-client or server-based client's refresh token, exchanged at the data centre's
  accounts host — ``accounts.zoho.com``, ``.eu``, ``.in``, ``.com.au``, ``.jp``, ``.ca``, ``.com.cn``,
  ``.sa`` — with ``POST /oauth/v2/token?refresh_token&client_id&client_secret&grant_type=refresh_token``;
  access tokens last an hour; ``Authorization: Zoho-oauthtoken …``):
  https://www.zoho.com/inventory/api/v1/oauth/ and
  https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html
* Pagination (``page``, ``per_page`` ≤ 200, ``page_context.has_more_page``):
  https://www.zoho.com/inventory/api/v1/pagination/
* Items (``GET /items`` with ``last_modified_time`` "modified after, ``yyyy-MM-ddTHH:mm:ssZ``",
  ``sku``, ``sort_column``; ``GET /items/{item_id}`` with the per-location figures ``locations[]``
  ``{location_id, location_stock_on_hand, location_available_stock, …}``, ``warehouses[]``
  ``{warehouse_id, warehouse_stock_on_hand, warehouse_committed_stock,
  warehouse_available_for_sale_stock, …}`` on organizations still on warehouses;
  ``PUT /item/{item_id}/customfields`` with the ``custom_fields`` array ``[{"customfield_id",
  "value"}]`` as its body, as the page's OpenAPI document declares it):
  https://www.zoho.com/inventory/api/v1/items/
* Purchase orders (``POST /purchaseorders?ignore_auto_number_generation=true`` with
  ``purchaseorder_number``, ``reference_number``, ``vendor_id``, ``line_items[{item_id, quantity,
  rate}]``; listed with ``reference_number``): https://www.zoho.com/inventory/api/v1/purchase-order/
  (the list filters are Zoho Books', the same engine: https://www.zoho.com/books/api/v3/purchase-order/)
* Limits: 100 requests a minute per organization, then 429 (and a daily cap by plan):
  https://www.zoho.com/inventory/api/v1/introduction/#api-call-limit
* Webhooks are a workflow rule's action, set up in Zoho (Settings → Automation → Workflow Actions →
  Webhooks; Zoho Inventory shares the engine with Zoho Books): a URL, a method, query parameters,
  a Headers section and a body whose "Default Payload" is every field of the module as JSON;
  nothing is signed, so a header we choose carries the secret:
  https://www.zoho.com/books/kb/automation/create-webhook.html and
  https://www.zoho.com/books/help/settings/automation/workflow-actions/webhooks.html

**Limits.** The client paces itself (a bucket of 5 leaking 1.5 a second: at most 95 a minute);
a 429, which names no wait, waits for the next minute.

**Stock.** The list carries totals only: each listed item's figures per location come from
``GET /items/{item_id}`` (one request an item; the client paces itself under 100 a minute). One
:class:`StockRecord` per location: on hand ``*_stock_on_hand``, committed ``*_committed_stock``,
available ``*_available_for_sale_stock`` (else ``*_available_stock``). Incremental reads ask items
with ``last_modified_time`` one second before the cursor (the boundary is read again); whether a
stock movement moves an item's ``last_modified_time`` is not documented, so the workflow webhook
and a short ``full_sync_interval`` back it up.

**Purchase orders, once.** Our PO number is the order's ``purchaseorder_number`` (sent with
``ignore_auto_number_generation=true``) and its ``reference_number``; a send lists
``reference_number=…`` first and returns the order found (one cancelled in Zoho is refused). The
vendor is ``vendor_id``: the ``vendor_ids`` option maps our vendor keys to Zoho's vendor (contact)
ids, else the key is the id; each SKU is resolved to its ``item_id`` (``GET /items?sku=``).

**Backorder status** is a custom field of the item, a check box labelled ``backorder_status_field``
("Backorder Status"), found among the item's ``custom_fields`` and set true/false.

**Webhooks** name an item (``{"item": {"item_id", …}}`` or ``{"item_id"}``): the event is thin and
the drain reads the item now. The ``X-Backorders-Secret`` header must hold the store's secret.

Credentials: ``client_id``, ``client_secret``, ``refresh_token``. Options: ``organization_id``
(required), ``accounts_host`` (default ``https://accounts.zoho.com``), ``page_size`` (≤ 200),
``location_ids``, ``vendor_ids``, ``backorder_status_field``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Iterator, Mapping

from requests.auth import AuthBase

from connectors.base import (Bucket, Capability, Collections, PageNumberPaginator, RestConnector, incremental,
                             parse_timestamp, verify_shared_secret, whole_units)
from connectors.errors import MalformedPayloadError, PermanentError
from connectors.http import RateLimitHeaders
from connectors.oauth2 import RefreshTokenGrant
from connectors.paging import PageRequest
from connectors.signing import header_value
from connectors.types import (ErpResult, ListingRef, PurchaseOrderRequest, PushResult, StockPage, StockRecord,
                              WebhookEvent)

SECRET_HEADER = "X-Backorders-Secret"


class HasMorePage(PageNumberPaginator):
    """``page`` after ``page`` while ``page_context.has_more_page`` says so."""

    def next_page(self, response: Any, body: Any, record_count: int, current: PageRequest) -> PageRequest | None:
        if not ((body or {}).get("page_context") or {}).get("has_more_page"):
            return None
        return PageRequest(current.url, {**current.params, "page": int(current.params.get("page", 1)) + 1})


ZOHO = Collections(HasMorePage(size_param="per_page", total_pages_header=None), page_size_param="per_page")


def modified_after(cursor: str) -> dict[str, str]:
    """``last_modified_time`` as Zoho writes it (``2025-01-02T10:00:00+0000``), a second back."""
    when = parse_timestamp(cursor)
    return {"last_modified_time": (when - timedelta(seconds=1)).astimezone(timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S+0000")} if when else {}


ITEMS = ZOHO("items", params={"sort_column": "last_modified_time"}, since_param=modified_after)


def location_records(item: Mapping[str, Any], wanted: set[str]) -> list[StockRecord]:
    """An item's figures per location (``locations[]``) or warehouse (``warehouses[]``)."""
    prefix = "location" if item.get("locations") else "warehouse"
    places: list[Mapping[str, Any]] = item.get(f"{prefix}s") or []
    out = []
    for place in places:
        where = str(place[f"{prefix}_id"])
        if wanted and where not in wanted:
            continue
        on_hand = whole_units(place.get(f"{prefix}_stock_on_hand")) or 0
        available = place.get(f"{prefix}_available_for_sale_stock", place.get(f"{prefix}_available_stock"))
        out.append(StockRecord(external_id=str(item["item_id"]), sku=item.get("sku") or None,
                               location_external_id=where, on_hand=on_hand,
                               committed=whole_units(place.get(f"{prefix}_committed_stock")),
                               available=whole_units(available) if available is not None else on_hand,
                               updated_at=parse_timestamp(item.get("last_modified_time")),
                               reorder_point=whole_units(item.get("reorder_level"))))
    return out


class ZohoInventoryConnector(RestConnector):
    """One Zoho Inventory organization."""

    platform: ClassVar[str] = "zoho_inventory"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.PURCHASE_ORDERS, Capability.BACKORDER_STATUS, Capability.WEBHOOKS})
    api_prefix: ClassVar[str] = "/inventory/v1"
    option_defaults: ClassVar[Mapping[str, Any]] = {"accounts_host": "https://accounts.zoho.com",
                                                    "backorder_status_field": "Backorder Status"}
    bucket = Bucket(capacity=5, leak_per_s=1.5)  # ≤ 95 a minute: under the organization's 100
    rate_limits = RateLimitHeaders(window_statuses=(429,))  # a 429 names no wait: the next minute
    max_page_size: ClassVar[int | None] = 200
    thin_webhooks: ClassVar[bool] = True
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.STOCK_WRITE: "read-only in this product (the back office, not a channel)"}

    def __init__(self, config: Any, **kwargs: Any) -> None:
        if not config.options.get("organization_id"):
            raise ValueError("zoho_inventory needs options.organization_id")
        super().__init__(config, **kwargs)

    def build_auth(self) -> AuthBase:
        creds = self.config.credentials
        if not all(creds.get(k) for k in ("client_id", "client_secret", "refresh_token")):
            raise ValueError("zoho_inventory credentials need client_id, client_secret and refresh_token")
        return RefreshTokenGrant(f"{str(self.options['accounts_host']).rstrip('/')}/oauth/v2/token",
                                 creds["client_id"], creds["client_secret"], creds["refresh_token"],
                                 scheme="Zoho-oauthtoken", platform=self.platform, timeout_s=self.config.timeout_s)

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Every call names the organization."""
        return super().request(method, path, params={**(params or {}),
                                                     "organization_id": self.options["organization_id"]}, **kwargs)

    # --- stock ------------------------------------------------------------------------------

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Items changed since the cursor, each with its figures per location; the last page moves it."""
        pages = ([record for row in page.records if row.get("product_type") != "service"
                  and row.get("track_inventory", True) for record in self.item_records(str(row["item_id"]))]
                 for page in self.read(ITEMS, since))
        return incremental(pages, since, page=StockPage)

    def item(self, item_id: str) -> dict[str, Any]:
        return self.fetch_one(f"items/{item_id}", "item")

    def item_records(self, item_id: str) -> list[StockRecord]:
        """The item's figures per location; none for an item deleted since it was named (404)."""
        try:
            item = self.item(item_id)
        except PermanentError as exc:
            if exc.status_code == 404:
                return []
            raise
        return location_records(item, {str(w) for w in self.options.get("location_ids") or []})

    # --- purchase orders --------------------------------------------------------------------

    def create_purchase_order(self, po: PurchaseOrderRequest) -> ErpResult:
        """The order whose ``reference_number`` is ours, else a new one numbered with it."""
        for found in self.records(ZOHO("purchaseorders", params={"reference_number": po.number})):
            if found.get("reference_number") != po.number:
                continue
            if found.get("status") == "cancelled":
                raise PermanentError(f"zoho_inventory: purchase order {found.get('purchaseorder_number')} for "
                                     f"{po.number} was cancelled in Zoho; not creating it again", platform=self.platform)
            return ErpResult(external_id=str(found["purchaseorder_id"]), created=False,
                             detail=f"purchase order {found.get('purchaseorder_number')} exists")
        vendor = (self.options.get("vendor_ids") or {}).get(po.vendor_ref, po.vendor_ref)
        body = {"purchaseorder_number": po.number, "reference_number": po.number, "vendor_id": vendor,
                "date": datetime.now(timezone.utc).date().isoformat(), "notes": f"Backorder Automator {po.memo or po.number}",
                **({"delivery_date": po.expected_date} if po.expected_date else {}),
                "line_items": [{"item_id": self.item_id(line.sku), "quantity": line.quantity,
                                "rate": line.unit_cost_cents / 100} for line in po.lines]}
        made, _ = self.send("POST", "purchaseorders", body, "purchaseorder",
                            params={"ignore_auto_number_generation": "true"}, retry=False)
        return ErpResult(external_id=str(made["purchaseorder_id"]), created=True, request=body,
                         detail=f"purchase order {made.get('purchaseorder_number')}")

    def item_id(self, sku: str) -> str:
        found = [row for row in self.records(ZOHO("items", params={"sku": sku})) if row.get("sku") == sku]
        if not found:
            raise PermanentError(f"zoho_inventory: no item with SKU {sku}", platform=self.platform)
        return str(found[0]["item_id"])

    # --- backorder status ---------------------------------------------------------------------

    def write_backorder_status(self, listing: ListingRef, backorder: bool) -> PushResult:
        """The item's check box custom field, found by its label, set true or false."""
        item_id = listing.external_id or self.item_id(listing.sku)
        label = self.options["backorder_status_field"]
        field = next((f for f in self.item(item_id).get("custom_fields") or [] if f.get("label") == label), None)
        if field is None:
            raise PermanentError(f"zoho_inventory: item {item_id} has no custom field {label!r}; create it (Settings "
                                 f"→ Preferences → Items → Field Customization, a check box; docs/connect-a-store.md)",
                                 platform=self.platform)
        body = [{"customfield_id": str(field["customfield_id"]), "value": backorder}]
        response = self.request("PUT", f"item/{item_id}/customfields", json_body=body, retry=True)
        return self.push_result(response, {"custom_fields": body})

    # --- webhooks (a workflow rule's action) ------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        verify_shared_secret(self.config.webhook_secret, body, header_value(headers, SECRET_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        try:
            payload = json.loads(body)
            item = payload.get("item", payload)
            item_id = str(item["item_id"])
        except (ValueError, AttributeError, KeyError, TypeError) as exc:
            raise MalformedPayloadError(f"not a Zoho item payload: {exc}") from exc
        change = item.get("last_modified_time") or hashlib.sha256(body).hexdigest()
        return WebhookEvent("sku_modified", "item", f"{self.platform}:item:{item_id}:{change}",
                            parse_timestamp(item.get("last_modified_time")), resource_ids=[f"item:{item_id}"])

    def resolve_webhook(self, event: WebhookEvent) -> WebhookEvent:
        """The named item's figures as Zoho holds them now; an item deleted since is none."""
        return replace(event, stock=self.item_records(event.resource_ids[0].partition(":")[2]))
