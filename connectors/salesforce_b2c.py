"""Salesforce B2C Commerce (Commerce Cloud, SFCC) connector: inventory list records and orders over OCAPI.

Public docs this follows:

* Auth: an API client of Account Manager, client credentials grant: ``POST
  https://account.demandware.com/dwsso/oauth2/access_token`` with HTTP Basic ``client_id:secret`` and
  form ``grant_type=client_credentials``, answered ``{access_token, token_type: "Bearer",
  expires_in: 1799}``; the token goes in ``Authorization: Bearer`` on every OCAPI call:
  https://documentation.b2c.commercecloud.salesforce.com/DOC2/topic/com.demandware.dochelp/OCAPI/current/usage/OAuth.html
  (``/dw/oauth2`` is retired for ``/dwsso/oauth2``: https://help.salesforce.com/s/articleView?id=000927357&type=1 ).
  The token is kept per process and renewed 60 s before it expires (``connectors.oauth2``); a 401 on
  a kept token takes a new one once.
* Data API inventory records: ``GET /s/-/dw/data/{v}/inventory_lists/{id}/product_inventory_records``
  (``start``, ``count``: default 25; answered ``{count, data, start, total, next}``) and ``PATCH
  …/product_inventory_records/{product_id}``:
  https://sfcclearning.com/infocenter/OCAPI/current/data/Resources/ProductInventoryRecords.php ;
  the record (``allocation {amount ≥ 0, reset_date}``, ``stock_level`` = allocation − turnover,
  ``ats`` = allocation + ``pre_order_back_order_allocation`` − turnover, ``pre_order_back_order_handling``
  none | preorder | backorder, ``in_stock_date``, ``perpetual_flag``, ``last_modified``):
  https://sfcclearning.com/infocenter/OCAPI/current/data/Documents/ProductInventoryRecord.php and
  https://sfcclearning.com/infocenter/OCAPI/current/data/Documents/ProductInventoryRecordAllocation.php .
  ``backorderable`` / ``preorderable`` are the Shop API's read-only view of the same record
  (https://sfcclearning.com/infocenter/OCAPI/current/shop/Documents/Inventory.php ): the Data API
  writes the handling, the allocation sold beyond stock and the in-stock date instead.
* Inventory lists (``GET /s/-/dw/data/{v}/inventory_lists``, ``{id, assigned_sites, description}``):
  https://sfcclearning.com/infocenter/OCAPI/current/data/Resources/InventoryLists.php
* Orders: Shop API ``POST /s/{site}/dw/shop/{v}/order_search`` ``{query, select, sorts, start,
  count}`` with ``last_modified`` / ``creation_date`` as search and sort fields, answered ``{count,
  hits: [{data: order}], start, total}``:
  https://sfcclearning.com/infocenter/OCAPI/current/shop/Resources/OrderSearch.php ; range filters
  (inclusive unless told): https://sfcclearning.com/infocenter/OCAPI/current/data/Documents/RangeFilter.php
* Errors: ``{"_v", "fault": {"type", "message", "arguments"}}`` on every status ≥ 400:
  https://sfcclearning.com/infocenter/OCAPI/current/data/Documents/Fault.php and
  https://documentation-pt.b2c.commercecloud.salesforce.com/DOC1/topic/com.demandware.dochelp/OCAPI/current/usage/HttpStatusCodesAndFaults.html
* Limits: 429 (rate limits, ``Retry-After``) and 503 (load shedding, ``sfdc_load``):
  https://developer.salesforce.com/docs/commerce/commerce-api/guide/throttle-rates.html ; both are
  transient and waited out.

Stock: one inventory list is one location (its id; the store's ``location_ids``, else every list the
API lists). OCAPI has no "modified since" filter on inventory records, so an incremental read walks
the list as a full one does and keeps only the records whose ``last_modified`` is at or after the
cursor less one second; the cursor is the newest ``last_modified`` seen. A perpetual record has no
figure. Write-back is one ``PATCH`` per list: ``allocation.amount`` (an absolute figure that resets
the turnover, so a retry converges) with the backorder status: ``pre_order_back_order_handling``
``backorder``, ``pre_order_back_order_allocation`` (units sold beyond stock, option
``backorder_allocation``) and ``in_stock_date`` (today + ``in_stock_days``), cleared again (``none``,
0, null) after a restock. B2C Commerce sends no stock webhooks: it is polled. OCAPI has no refund
call (a refund is the payment processor's or Salesforce Order Management's), so refunds, store
credit and substitute orders are refused by name.

Omnichannel Inventory: where ``options.oci`` is set (``short_code``, ``tenant_group_id``, ``tenant_id``,
``groups`` or ``locations``, ``write_location`` with groups), stock is read from and written to OCI
(``connectors.salesforce_oci``, which says why OCAPI's inventory lists are then written no more):
incremental by OCI's delta token, the SKUs of a full read being the product ids of the inventory
lists (OCI's cache in the instance). Orders stay OCAPI's.

Options: ``api_version`` (``v23_2``), ``site_id`` (orders), ``location_ids`` (inventory lists),
``token_url``, ``page_size`` (≤ 200), ``backorder_allocation`` (100), ``in_stock_days`` (14), ``oci``.
Credentials: ``client_id``, ``client_secret``; with OCI, ``oci_client_id``, ``oci_client_secret``.
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, timedelta, timezone
from typing import Any, ClassVar, Iterator, Mapping
from urllib.parse import quote

from connectors.base import (
    Capability, Collections, HighWater, LineFields, ListingRef, OffsetPaginator, OrderPage, OrderRecord,
    PushResult, RestConnector, StockPage, StockRecord, incremental, money_cents, parse_timestamp, whole_units,
)
from connectors.errors import PermanentError
from connectors.oauth2 import ClientCredentials
from connectors.options import Matching
from connectors.salesforce_oci import OciOption, OmnichannelInventory

TOKEN_URL = "https://account.demandware.com/dwsso/oauth2/access_token"
DATA = Collections(OffsetPaginator("start", "count", 200, total_key="total"), records="data")
PRODUCT = lambda row: str(row["product_id"])  # noqa: E731
LINES = LineFields(title="product_name", variant=("product_id",), id="item_id", sku="product_id", price="price")
#: OCAPI's dates: ``2026-12-03T17:52:59.000Z`` (UTC, milliseconds).
WHEN = HighWater(format=lambda when: when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
#: Order statuses (created: not placed yet; new, open: placed; completed; cancelled, replaced, failed).
STATUSES = {"created": "incomplete", "cancelled": "cancelled", "failed": "cancelled", "completed": "closed",
            "replaced": "cancelled"}


def stock_record(row: Mapping[str, Any], location: str) -> StockRecord:
    """One product's record on one list: ``stock_level`` is what it holds (a perpetual one, none)."""
    level = None if row.get("perpetual_flag") else whole_units(row.get("stock_level"))
    return StockRecord(external_id=str(row["product_id"]), sku=str(row["product_id"]), location_external_id=location,
                       on_hand=level, available=level, updated_at=parse_timestamp(row.get("last_modified")),
                       backorders_allowed=row.get("pre_order_back_order_handling") == "backorder")


def order_record(order: Mapping[str, Any]) -> OrderRecord:
    billing, customer = order.get("billing_address") or {}, order.get("customer_info") or {}
    name = customer.get("customer_name") or " ".join(filter(None, (billing.get("first_name"), billing.get("last_name"))))
    return OrderRecord(
        external_id=str(order["order_no"]), number=str(order["order_no"]), customer_name=str(name or ""),
        placed_at=parse_timestamp(order.get("creation_date")), email=customer.get("email") or None,
        phone=billing.get("phone") or None, lines=LINES.records(order.get("product_items")),
        currency=str(order.get("currency") or "USD"), total_cents=money_cents(order.get("order_total")),
        status=STATUSES.get(str(order.get("status")), "open"), updated_at=parse_timestamp(order.get("last_modified")))


class SalesforceB2CConnector(RestConnector):
    """One B2C Commerce instance (``https://{instance host}``), its inventory lists and one site's orders."""

    platform: ClassVar[str] = "salesforce_b2c"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.STOCK_WRITE, Capability.ORDERS})
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.REFUNDS: "OCAPI has no refund call: refund at the payment processor or in Order Management",
        Capability.STORE_CREDIT: "no store credit through OCAPI",
        Capability.SUBSTITUTE_ORDERS: "orders are placed through a basket by the shopper",
        Capability.WEBHOOKS: "B2C Commerce sends no stock webhooks: the store is polled"}
    option_defaults: ClassVar[Mapping[str, Any]] = {
        "api_version": "v23_2", "token_url": TOKEN_URL, "backorder_allocation": 100, "in_stock_days": 14}
    option_rules = (Matching("api_version", r"v\d+_\d+", "an OCAPI version such as v23_2"), OciOption())
    api_prefix: ClassVar[str] = "/s/-/dw/data/{api_version}"
    max_page_size: ClassVar[int | None] = 200
    default_page_size: ClassVar[int | None] = 100
    locations = DATA("inventory_lists", map=lambda inventory_list: inventory_list["id"])

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.pages = replace(DATA, paginator=OffsetPaginator("start", "count", self.page_size, "total"))
        self.oci = OmnichannelInventory.beside(self) if self.options.get("oci") else None

    def build_auth(self) -> ClientCredentials:
        """Account Manager's client credentials token, shared by the process (``time.time``: its expiry)."""
        creds = self.config.credentials
        return ClientCredentials.over_basic_auth(self.options["token_url"], creds.get("client_id", ""), creds.get(
            "client_secret", ""), per_process=True, platform=self.platform, clock=lambda: time.time())

    def error_message(self, body: Any, fallback: str) -> str:
        """The fault's exception type and message (``InventoryListNotFoundException: …``)."""
        fault = body.get("fault") if isinstance(body, Mapping) else None
        if isinstance(fault, Mapping):
            return f"{fault.get('type')}: {fault.get('message')}"
        return super().error_message(body, fallback)

    def record_path(self, location: str, product: str = "") -> str:
        path = f"inventory_lists/{quote(location, safe='')}/product_inventory_records"
        return f"{path}/{quote(product, safe='')}" if product else path

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Every list's records, page by page; with a cursor only those changed since (one second back)."""
        if self.oci is not None:
            return self.oci.fetch_stock_of(since, (product for location in self.location_ids() for product in
                                                   self.records(self.pages(self.record_path(location)), map=PRODUCT)))
        since = None if since and since.startswith("oci:") else since  # OCI switched off: read in full
        cutoff = (WHEN.parse(since) - timedelta(seconds=1)) if since else None
        pages = ([r for r in page.records if cutoff is None or r.updated_at is None or r.updated_at >= cutoff]
                 for location in self.location_ids()
                 for page in self.read(self.pages(self.record_path(location), map=lambda row, at=location:
                                                  stock_record(row, at))))
        return incremental(pages, since, WHEN, StockPage)

    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        """One ``PATCH``: the absolute allocation and the backorder status (retried: it converges)."""
        if self.oci is not None:
            return self.oci.push(listing, available, backorder, int(self.options["in_stock_days"]),
                                 int(self.options["backorder_allocation"]))
        location = listing.location_external_id or self.location_ids()[0]
        ready, amount = date.today() + timedelta(days=int(self.options["in_stock_days"])), max(0, int(available))
        body: dict[str, Any] = {
            "allocation": {"amount": amount}, "pre_order_back_order_handling": "backorder" if backorder else "none",
            "pre_order_back_order_allocation": int(self.options["backorder_allocation"]) if backorder else 0,
            "in_stock_date": f"{ready.isoformat()}T00:00:00.000Z" if backorder else None}
        path = self.record_path(location, listing.external_id)
        response = self.request("PATCH", path, json_body=body, retry=True)
        return self.push_result(response, {"path": path, "body": body}, {location: amount})

    def write_calls(self, levels: Mapping[str | None, int]) -> int:
        """With OCI, two calls a location: what OCI holds back there is read before the write."""
        return super().write_calls(levels) * (2 if self.oci is not None else 1)

    def order_query(self, since: str | None) -> dict[str, Any]:
        if not since:
            return {"match_all_query": {}}
        start = WHEN.format(WHEN.parse(since) - timedelta(seconds=1))
        return {"filtered_query": {"query": {"match_all_query": {}}, "filter": {
            "range_filter": {"field": "last_modified", "from": start}}}}

    def fetch_orders(self, since: str | None) -> Iterator[OrderPage]:
        """The site's orders by ``last_modified`` (ascending, from one second before the cursor)."""
        if not self.options.get("site_id"):
            raise PermanentError(f"{self.platform}: options.site_id names the site whose orders are read")
        site = quote(str(self.options["site_id"]), safe="")
        path = f"{self.base_url}/s/{site}/dw/shop/{self.options['api_version']}/order_search"

        def pages() -> Iterator[list[OrderRecord]]:
            start = 0
            while True:
                body = {"query": self.order_query(since), "select": "(**)", "start": start, "count": self.page_size,
                        "sorts": [{"field": "last_modified", "sort_order": "asc"}]}
                answer = self.decode(self.request("POST", path, json_body=body, retry=True)) or {}
                hits = [order_record(hit["data"]) for hit in answer.get("hits") or []]
                yield hits
                start += len(hits)
                if not hits or start >= int(answer.get("total") or 0):
                    return
        return incremental(pages(), since, WHEN, OrderPage)
