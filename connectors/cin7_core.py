"""Cin7 Core (formerly DEAR Inventory) connector: stock per location, purchase orders and their stock
received, the backorder status in a product attribute, and webhooks, through the External API v2
(``https://inventory.dearsystems.com/ExternalApi/v2/``).

Public docs this follows:

* Auth: the ``api-auth-accountid`` and ``api-auth-applicationkey`` headers of an API application
  (Integrations → API); keys do not expire and limits count per application:
  https://help.core.cin7.com/hc/en-us/articles/9982480315407
* Status codes: 400 validation (the error text in the body), 403 authentication failed, 404 no such
  endpoint, 500 unexpected, **503 "You reached 60 calls per minute API limit"**:
  https://help.core.cin7.com/hc/en-us/articles/9034464091023-API-Status-Codes
* Product availability ``GET ref/productavailability?Page&Limit&Sku&Location`` → ``{"Total", "Page",
  "ProductAvailabilityList": [{ID, SKU, Name, Location, Bin, Batch, OnHand, Allocated, Available,
  OnOrder, …}]}``; only rows where something is non-zero are listed:
  https://help.core.cin7.com/hc/en-us/articles/9034523140879 ; products ``GET product?Page&Limit&Sku``
  (``Products``, ``Type``, ``Status``), ``PUT product`` with ``AdditionalAttribute1…10``; locations
  ``GET ref/location`` (``LocationList``): the API reference, https://dearinventory.docs.apiary.io/
* Purchases: ``POST purchase`` (header: ``SupplierID`` or ``Supplier``, ``Location``, ``Approach``
  ``INVOICE | STOCK``, ``RequiredBy``, ``OrderNumber``, ``Note``) answers the purchase's ``ID``,
  then ``POST purchase/order`` ``{TaskID, Status, Memo, Lines: [{ProductID, SKU, Quantity, Price,
  Discount, Tax, TaxRule, Total}]}``; ``GET purchaseList?Search=`` (order number, supplier, …) and
  ``GET purchase?ID=`` with its ``Order`` and ``StockReceived`` lines: https://dearinventory.docs.apiary.io/
* Webhooks (the Automation module): ``GET | POST | PUT webhooks`` with ``Type``, ``IsActive``,
  ``ExternalURL``, ``ExternalAuthorizationType`` (noauth | basicauth | bearerauth) and
  ``ExternalHeaders [{Key, Value}]``; nothing is signed; ``Stock/AvailableStockLevelChanged``
  posts a bare JSON array of availability rows: https://dearinventory.docs.apiary.io/#reference/webhooks

**Stock.** A read lists the locations (``location_ids`` names them, else every one not
deprecated), the stock products and the availability rows; rows of one product at one location
(bins, batches) are added up, and every stock product is reported at every location, 0 where Cin7
lists nothing (a row whose figures are all zero is left out of the availability list). The
availability list has no modified-since filter (integrators report ``ModifiedSince`` is ignored),
so every poll is a full read and the webhook carries the changes between them; the cursor is the
time the read started, for the record.

**Rate limit.** 60 calls a minute per application; the client paces itself under it (a bucket of
2 leaking 0.95 a second) and a 503 — Cin7's rate-limit answer, which names no wait — waits for
the next minute (``Retry-After`` when one is sent).

**Purchase orders, once.** Our PO number is the purchase's ``OrderNumber``: a send looks it up
with ``purchaseList?Search=`` (exact match), creates the header only when none exists, and adds the
order lines only when the purchase has none yet, so a retry after a lost answer finishes the
purchase instead of making a second one; a voided one is refused. Lines are ``DRAFT`` unless
``authorise_orders``. Stock received is read back per SKU from ``purchase?ID=``.

**Backorder status** goes to the product attribute named by ``backorder_status_attribute``
(``AdditionalAttribute1`` … ``10``, ``"Backordered"`` or empty); without the option it is refused.

**Webhooks** are subscribed by ``backorders stores connect`` with our secret in the
``X-Backorders-Secret`` header and the type in ``X-Backorders-Topic`` (``ExternalHeaders``); a
delivery names the products, and the drain reads their availability now.

Credentials: ``account_id``, ``application_key``. Options: ``page_size`` (``Limit``, ≤ 1,000),
``location_ids`` (location names), ``vendor_ids`` (our vendor key → the supplier's ``ID`` or name;
else the key is the supplier's name), ``po_location``, ``tax_rule``, ``authorise_orders``,
``backorder_status_attribute``.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, ClassVar, Iterator, Mapping

from connectors.auth import headers_auth
from connectors.base import (Bucket, Capability, Collections, RestConnector, TotalCountPaginator, parse_timestamp,
                             utc_iso, verify_shared_secret, whole_units)
from connectors.errors import MalformedPayloadError, PermanentError
from connectors.http import RateLimitHeaders
from connectors.options import Matching, OptionRule
from connectors.signing import header_value
from connectors.types import (ErpResult, ListingRef, PurchaseOrderRequest, PushResult, ReceiptLine, StockPage,
                              StockRecord, WebhookEvent)

SECRET_HEADER, TOPIC_HEADER = "X-Backorders-Secret", "X-Backorders-Topic"
STOCK_CHANGED = "Stock/AvailableStockLevelChanged"
TOPICS = (STOCK_CHANGED,)
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
CORE = Collections(TotalCountPaginator("Page", "Limit", total_key="Total"), page_size_param="Limit")
AVAILABILITY = CORE("ref/productavailability", records="ProductAvailabilityList")
PRODUCTS = CORE("product", records="Products")
LOCATIONS = CORE("ref/location", records="LocationList")


class Cin7CoreConnector(RestConnector):
    """One Cin7 Core account."""

    platform: ClassVar[str] = "cin7_core"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.PURCHASE_ORDERS, Capability.RECEIPTS, Capability.BACKORDER_STATUS,
        Capability.WEBHOOKS})
    api_prefix: ClassVar[str] = "/ExternalApi/v2"
    auth = headers_auth(api_auth_accountid="account_id", api_auth_applicationkey="application_key")
    bucket = Bucket(capacity=2, leak_per_s=0.95)  # ≤ 59 a minute: under the application's 60
    rate_limits = RateLimitHeaders(window_statuses=(503,))  # a 503 names no wait: the next minute
    option_defaults: ClassVar[Mapping[str, Any]] = {"tax_rule": "Tax Exempt", "authorise_orders": False}
    option_rules: ClassVar[tuple[OptionRule, ...]] = (Matching(
        "backorder_status_attribute", r"AdditionalAttribute([1-9]|10)", "AdditionalAttribute1 … AdditionalAttribute10"),)
    max_page_size: ClassVar[int | None] = 1000
    default_page_size: ClassVar[int | None] = 100
    thin_webhooks: ClassVar[bool] = True
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.STOCK_WRITE: "read-only in this product (the back office, not a channel)"}

    def error_message(self, body: Any, fallback: str) -> str:
        """Cin7's ``[{"ErrorCode", "Exception"}]``, each as ``code: exception``."""
        if isinstance(body, list) and body and all(isinstance(e, dict) for e in body):
            return "; ".join(f"{e.get('ErrorCode')}: {e.get('Exception')}" for e in body)
        return super().error_message(body, fallback)

    # --- stock ------------------------------------------------------------------------------

    def places(self) -> list[str]:
        return [str(p) for p in self.options.get("location_ids") or []] or [
            str(row["Name"]) for row in self.records(LOCATIONS) if not row.get("IsDeprecated")]

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Every stock product at every location; the last page carries the read's start time."""
        started, places = utc_iso(datetime.now(timezone.utc)), self.places()
        held = self.held(self.records(AVAILABILITY), places)
        products = [row for row in self.records(PRODUCTS) if row.get("Type", "Stock") == "Stock"
                    and row.get("Status", "Active") == "Active"]
        for start in range(0, max(1, len(products)), self.page_size):
            chunk = products[start:start + self.page_size]
            yield StockPage(self.stock_records(chunk, places, held),
                            started if start + self.page_size >= len(products) else since)

    @staticmethod
    def held(rows: Any, places: list[str]) -> dict[tuple[str, str], list[int]]:
        """On hand, allocated and available per (product ID, location), bins and batches added up."""
        held: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for row in rows:
            if str(row.get("Location")) in places:
                figures = held[(str(row["ID"]), str(row["Location"]))]
                for n, name in enumerate(("OnHand", "Allocated", "Available")):
                    figures[n] += whole_units(row.get(name)) or 0
        return held

    @staticmethod
    def stock_records(products: list[Mapping[str, Any]], places: list[str],
                      held: Mapping[tuple[str, str], list[int]]) -> list[StockRecord]:
        return [StockRecord(external_id=str(p["ID"]), sku=p.get("SKU") or None, location_external_id=place,
                            on_hand=on_hand, committed=allocated, available=available,
                            updated_at=parse_timestamp(p.get("LastModifiedOn")))
                for p in products for place in places
                for on_hand, allocated, available in [held.get((str(p["ID"]), place), [0, 0, 0])]]

    # --- purchase orders and what was received ----------------------------------------------

    def ours(self, number: str) -> dict[str, Any] | None:
        return next((row for row in self.records(CORE("purchaseList", records="PurchaseList",
                                                     params={"Search": number})) if row.get("OrderNumber") == number), None)

    def create_purchase_order(self, po: PurchaseOrderRequest) -> ErpResult:
        """The purchase numbered ``po.number``, created if absent, then given its lines if it has none."""
        head, created = self.ours(po.number), False
        if head is not None and head.get("Status") == "VOIDED":
            raise PermanentError(f"cin7_core: purchase {po.number} was voided in Cin7; not creating it again",
                                 platform=self.platform)
        if head is None:
            ref = (self.options.get("vendor_ids") or {}).get(po.vendor_ref, po.vendor_ref)
            vendor = {"SupplierID" if GUID.match(ref) else "Supplier": ref}
            body = {**vendor, "OrderNumber": po.number, "Approach": "STOCK", "Note": f"Backorder Automator {po.memo}",
                    **({"RequiredBy": po.expected_date} if po.expected_date else {}),
                    **({"Location": self.options["po_location"]} if self.options.get("po_location") else {})}
            head, created = self.send("POST", "purchase", body, retry=False)[0], True
        lines = [] if (self.get_json("purchase", {"ID": head["ID"]}) or {}).get("Order", {}).get("Lines") else [
            {"ProductID": self.product(line.sku)["ID"], "SKU": line.sku, "Quantity": line.quantity,
             "Price": line.unit_cost_cents / 100, "Discount": 0, "Tax": 0, "TaxRule": self.options["tax_rule"],
             "Total": line.quantity * line.unit_cost_cents / 100} for line in po.lines]
        if lines:
            self.send("POST", "purchase/order", {"TaskID": head["ID"], "Memo": po.number, "Lines": lines,
                                                 "Status": "AUTHORISED" if self.options["authorise_orders"] else "DRAFT"},
                      retry=False)
        return ErpResult(external_id=str(head["ID"]), created=created, request={"number": po.number, "lines": lines},
                         detail=f"purchase {po.number}: {len(lines)} line(s) added")

    def product(self, sku: str) -> dict[str, Any]:
        found = next((p for p in self.records(replace(PRODUCTS, params={"Sku": sku})) if p.get("SKU") == sku), None)
        if found is None:
            raise PermanentError(f"cin7_core: no product with SKU {sku}", platform=self.platform)
        return found

    def fetch_receipts(self, numbers: list[str]) -> list[ReceiptLine]:
        """Ordered and received so far per SKU of each purchase of ours."""
        out = []
        for number in numbers:
            head = self.ours(number)
            purchase = self.get_json("purchase", {"ID": head["ID"]}) if head else {}
            got: dict[str, int] = defaultdict(int)
            for line in (purchase.get("StockReceived") or {}).get("Lines") or []:
                got[str(line["SKU"])] += whole_units(line.get("Quantity")) or 0
            out += [ReceiptLine(po_number=number, sku=str(line["SKU"]), ordered=whole_units(line["Quantity"]) or 0,
                                received=got[str(line["SKU"])]) for line in (purchase.get("Order") or {}).get("Lines") or []]
        return out

    # --- backorder status ---------------------------------------------------------------------

    def write_backorder_status(self, listing: ListingRef, backorder: bool) -> PushResult:
        name = self.options.get("backorder_status_attribute")
        if not name:
            raise PermanentError("cin7_core: set options.backorder_status_attribute (AdditionalAttribute1 … 10, one "
                                 "the account does not use) to keep the backorder status", platform=self.platform)
        body = {"ID": listing.external_id or self.product(listing.sku)["ID"], name: "Backordered" if backorder else ""}
        return self.push_result(self.request("PUT", "product", json_body=body, retry=True), body)

    # --- webhooks -----------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        verify_shared_secret(self.config.webhook_secret, body, header_value(headers, SECRET_HEADER))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        topic = header_value(headers, TOPIC_HEADER) or STOCK_CHANGED
        try:
            rows = json.loads(body)
            named = sorted({f"{row['ID']}:{row['SKU']}" for row in (rows if isinstance(rows, list) else [rows])})
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPayloadError(f"{topic}: not a list of availability rows: {exc}") from exc
        return WebhookEvent("inventory_update" if topic == STOCK_CHANGED else "other", topic,
                            f"{self.platform}:{topic}:{hashlib.sha256(body).hexdigest()}", None,
                            resource_ids=[f"product:{key}" for key in named])

    def resolve_webhook(self, event: WebhookEvent) -> WebhookEvent:
        """The named products at every location, as Cin7 holds them now."""
        places = self.places()
        products: list[Mapping[str, Any]] = [dict(zip(("ID", "SKU"), name.split(":", 2)[1:]))
                                             for name in event.resource_ids]
        rows = [row for p in products for row in self.records(replace(AVAILABILITY, params={"Sku": p["SKU"]}))]
        return replace(event, stock=self.stock_records(products, places, self.held(rows, places)))
