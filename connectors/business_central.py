"""Dynamics 365 Business Central connector: stock per location, purchase orders, receipts and change
notifications, over the standard API v2.0 and the Analytics API.

Public docs this follows (all under https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/):

* endpoints ``https://api.businesscentral.dynamics.com/v2.0/{tenant}/{environment}/api/v2.0/companies({id})/…``
  (``api-reference/v2.0/endpoints-apis-for-dynamics``); an app-only token from Entra ID for the scope
  ``https://api.businesscentral.dynamics.com/.default``, the app registered inside Business Central
  with its permission sets (``administration/automation-apis-using-s2s-authentication``); the token
  comes from MSAL (``connectors.entra``);
* items ``api-reference/v2.0/resources/dynamics_item`` (``number``, ``type``, ``inventory``: the total
  of every location, read-only), locations ``resources/dynamics_location`` (``code``);
* per-location quantities: the standard API's ``itemLedgerEntries`` carry no location
  (``resources/dynamics_itemledgerentry``); the Analytics API's do:
  ``GET /api/microsoft/analytics/v1.0/companies({id})/itemLedgerEntries`` with ``entryNo, itemNo,
  locationCode, quantity, remainingQuantity, open`` (``api-analytics/api/dynamics_itemledgerentry_get``);
* purchase orders ``resources/dynamics_purchaseorder`` and ``…_purchaseorderline`` (create:
  ``api/dynamics_purchaseorder_create``, ``api/dynamics_purchaseorderline_create``: ``lineType: "Item"``,
  ``lineObjectNumber``, ``quantity``, ``directUnitCost``, ``expectedReceiptDate``); posted receipts
  ``resources/dynamics_purchasereceipt`` (``orderNumber``) with ``purchaseReceiptLines``;
* OData paging, filters, ETags and errors (``connectors.odata``); error codes
  (``api-reference/v2.0/dynamics-error-codes``: ``Authentication_InvalidCredentials``,
  ``Application_DialogException`` …), answered as ``code: message``;
* limits: 6,000 requests per 5 minutes per user or app, then 429
  (``api-reference/v2.0/dynamics-rate-limits``): honoured through the shared retry's ``Retry-After``;
* webhooks ``api-reference/v2.0/dynamics-subscriptions`` (``connectors.notification_subscriptions``):
  ``items`` is webhook-enabled, purchase orders and ledger entries are not.

**Stock per location, and why the cursor is a ledger entry number.** ``inventory`` on an item is a
total and a FlowField: it is summed from the item ledger, and posting a sale adds ledger entries
without changing the item record, so ``items?$filter=lastModifiedDateTime gt …`` misses sales. The
ledger is append-only with a rising ``entryNo``; an item's quantity at a location is the sum of
``remainingQuantity`` over its open entries there (closed entries have none left). A full read asks
the highest ``entryNo`` first, then every inventory item and the open entries, and reports every
item at every location (0 where none is left). An incremental read asks the entries after the
cursor, and re-reads the open entries of the items they touch only. Committed quantities are not in
the API, so ``available`` is the quantity on hand.

**Purchase orders, once.** Our PO number is the Business Central order's ``number`` (the purchase
order number series must allow manual numbers, else Business Central refuses with
``Application_DialogException`` "You may not enter numbers manually…"); vendors are found by
``vendorNumber`` = our vendor key and items by ``lineObjectNumber`` = our SKU. A send looks the order up
by number first (``$expand=purchaseOrderLines``), creates the header only when none exists, and then
adds only the lines whose item the order does not hold yet; so a retry after a lost answer (a header
made, some lines made) finishes the order instead of repeating it. Receipts are read from posted
purchase receipts (which outlive the order, deleted once fully invoiced): each item line's
``quantity`` is what that receipt booked; ``ordered`` is not on a receipt and is reported as 0.

**Backorder status** is not written: the standard API has no field meant for it on an item (its
writable fields are catalogue and posting setup — a category or a default dimension would change
the customer's reporting and postings), so it takes a per-tenant extension (an API page exposing a
field of its own); ``docs/connectors.md`` says so in the capability table.

Credentials: ``client_id``, ``client_secret`` (and ``tenant_id`` unless the option names it). Options:
``tenant``, ``environment`` (default ``production``), ``company_id`` (required), ``authority_host``
(default ``https://login.microsoftonline.com``), ``page_size`` (``Prefer: odata.maxpagesize``,
default 1,000), ``location_ids`` (location codes; default every location), ``po_location_id``,
``webhook_resources`` (default ``["items"]``).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar, Iterator, Mapping

import requests
from requests.auth import AuthBase

from connectors.base import Capability, RestConnector, Stream, whole_units, with_last_flag
from connectors.entra import DEFAULT_AUTHORITY_HOST, ClientCredentials
from connectors.errors import AuthError, PermanentError
from connectors.notification_subscriptions import ValidatedSubscriptions, event, verify_client_state
from connectors.odata import COLLECTION, any_of, chunks_of, error_message, literal, max_page_size
from connectors.subscriptions import Subscription
from connectors.types import (
    ErpResult, PurchaseOrderRequest, ReceiptLine, StockPage, StockRecord, WebhookEvent, WebhookKind,
)

SCOPE = "https://api.businesscentral.dynamics.com/.default"
SUBSCRIPTIONS = ValidatedSubscriptions("v2.0/subscriptions")
KINDS: Mapping[str, WebhookKind] = {"items": "sku_modified"}
OPEN = "open eq true"


class BusinessCentralConnector(RestConnector):
    """One Business Central company: stock read, purchase orders, receipts, change notifications."""

    platform: ClassVar[str] = "business_central"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.PURCHASE_ORDERS, Capability.RECEIPTS, Capability.WEBHOOKS})
    api_prefix: ClassVar[str] = "/v2.0/{tenant}/{environment}/api"
    option_defaults: ClassVar[Mapping[str, Any]] = {"environment": "production", "webhook_resources": ["items"],
                                                    "authority_host": DEFAULT_AUTHORITY_HOST}
    max_page_size: ClassVar[int | None] = 20_000
    default_page_size: ClassVar[int | None] = 1_000
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.STOCK_WRITE: "read-only in this product (the back office, not a channel)"}

    def __init__(self, config: Any, **kwargs: Any) -> None:
        company = str(config.options.get("company_id") or "")
        if not company or not (config.options.get("tenant") or config.credentials.get("tenant_id")):
            raise ValueError("business_central needs options company_id and tenant (or credential tenant_id)")
        super().__init__(config, **kwargs)
        self.company, self.analytics = f"v2.0/companies({company})", f"microsoft/analytics/v1.0/companies({company})"
        self._codes: list[str] | None = None

    def build_auth(self) -> AuthBase:
        creds = self.config.credentials
        self.options["tenant"] = str(self.options.get("tenant") or creds.get("tenant_id"))  # the API path names it
        self.token = ClientCredentials(self.options["authority_host"], self.options["tenant"],
                                       creds.get("client_id", ""), creds.get("client_secret", ""), SCOPE,
                                       self.config.timeout_s)
        return self.token

    def error_message(self, body: Any, fallback: str) -> str:
        return error_message(body, fallback)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A 401 drops the cached token (rotated secret, revoked consent) and asks once more."""
        try:
            return super().request(method, path, **kwargs)
        except AuthError as exc:
            if exc.status_code != 401:
                raise
            self.token.forget()
            return super().request(method, path, **kwargs)

    def stream(self, path: str, **params: str) -> Stream:
        return COLLECTION(path, params=params, headers=max_page_size(self.page_size))

    # --- stock ------------------------------------------------------------------------------

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Every item at every location (``since`` None), else the items ledger entries after the
        cursor touched; the cursor is the highest entry number read."""
        ledger = f"{self.analytics}/itemLedgerEntries"
        if since is None or not since.isdigit():
            top = self.get_json(ledger, {"$orderby": "entryNo desc", "$top": 1, "$select": "entryNo"}) or {}
            high = max([int(r["entryNo"]) for r in top.get("value") or []] or [0])
            items = [str(r["number"]) for r in self.records(self.stream(
                f"{self.company}/items", **{"$filter": "type eq 'Inventory'", "$select": "number"}))]
            left = self.left(OPEN)
        else:
            new = list(self.records(self.stream(ledger, **{"$filter": f"entryNo gt {int(since)}",
                                                           "$select": "entryNo,itemNo"})))
            high, items = max([int(since), *(int(r["entryNo"]) for r in new)]), sorted({str(r["itemNo"]) for r in new})
            left = {}
            for chunk in chunks_of(items):
                left.update(self.left(f"{OPEN} and {any_of('itemNo', chunk)}"))
        codes = sorted({*self.location_codes(), *(loc for _, loc in left)})
        chunks = [items[i:i + self.page_size] for i in range(0, len(items), self.page_size)] or [[]]
        for chunk, last in with_last_flag(iter(chunks)):
            yield StockPage([StockRecord(external_id=item, sku=item, location_external_id=code,
                                         on_hand=left.get((item, code), 0), available=left.get((item, code), 0))
                             for item in chunk for code in codes], str(high) if last else since)

    def left(self, where: str) -> dict[tuple[str, str], int]:
        """Units left per (item, location code): the open ledger entries' remaining quantity."""
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for row in self.records(self.stream(f"{self.analytics}/itemLedgerEntries", **{
                "$filter": where, "$select": "entryNo,itemNo,locationCode,remainingQuantity"})):
            key = (str(row["itemNo"]), str(row.get("locationCode") or ""))
            totals[key] += whole_units(row["remainingQuantity"]) or 0
        return totals

    def location_codes(self) -> list[str]:
        """The ``location_ids`` option, else every location's code (read once)."""
        if self._codes is None:
            self._codes = [str(c) for c in self.options.get("location_ids") or []] or [
                str(r["code"]) for r in self.records(self.stream(f"{self.company}/locations", **{"$select": "code"}))]
        return self._codes

    # --- purchase orders and receipts -------------------------------------------------------

    def create_purchase_order(self, po: PurchaseOrderRequest) -> ErpResult:
        """The order numbered ``po.number``, created if absent, then given the lines it lacks."""
        if not po.lines:
            raise PermanentError("business_central: a purchase order needs at least one line", platform=self.platform)
        order = next(iter(self.records(self.stream(f"{self.company}/purchaseOrders", **{
            "$filter": f"number eq {literal(po.number)}", "$expand": "purchaseOrderLines"}))), None)
        created = order is None
        if order is None:
            header = {"number": po.number, "vendorNumber": po.vendor_ref,
                      **({"requestedReceiptDate": po.expected_date} if po.expected_date else {})}
            order = {**self.send("POST", f"{self.company}/purchaseOrders", header)[0], "purchaseOrderLines": []}
        held = {str(line.get("lineObjectNumber")) for line in order.get("purchaseOrderLines") or []}
        lines = [self.line_body(line, po) for line in po.lines if line.sku not in held]
        for body in lines:
            self.send("POST", f"{self.company}/purchaseOrders({order['id']})/purchaseOrderLines", body)
        return ErpResult(external_id=str(order["id"]), created=created, request={"number": po.number, "lines": lines},
                         detail=f"purchaseOrder {order.get('number')}: {len(lines)} line(s) added")

    def line_body(self, line: Any, po: PurchaseOrderRequest) -> dict[str, Any]:
        body = {"lineType": "Item", "lineObjectNumber": line.sku, "quantity": line.quantity,
                "directUnitCost": line.unit_cost_cents / 100}
        if line.expected_date or po.expected_date:
            body["expectedReceiptDate"] = line.expected_date or po.expected_date
        if self.options.get("po_location_id"):
            body["locationId"] = self.options["po_location_id"]
        return body

    def fetch_receipts(self, numbers: list[str]) -> list[ReceiptLine]:
        """What each posted receipt of our orders booked, per item line."""
        return [ReceiptLine(po_number=str(receipt["orderNumber"]), sku=str(line["lineObjectNumber"]), ordered=0,
                            received=whole_units(line.get("quantity")) or 0)
                for chunk in chunks_of(numbers)
                for receipt in self.records(self.stream(f"{self.company}/purchaseReceipts", **{
                    "$filter": any_of("orderNumber", chunk), "$expand": "purchaseReceiptLines"}))
                for line in receipt.get("purchaseReceiptLines") or [] if line.get("lineType") == "Item"]

    # --- change notifications ---------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        verify_client_state(self.config.webhook_secret, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return event(self.platform, body, KINDS)

    def ensure_subscriptions(self, address: str, secret: str | None, secret_is_new: bool) -> list[Subscription]:
        resources = [f"/api/{self.company}/{name}" for name in self.options["webhook_resources"]]
        return SUBSCRIPTIONS.ensure(self, address, secret, resources, secret_is_new)

