"""QuickBooks Online connector: inventory items' quantity on hand, Change Data Capture for increments,
webhooks, and purchase orders created once. QuickBooks Online is where QuickBooks Commerce
(formerly TradeGecko, closed 31 August 2023) sent its users; their export files are loaded by
``backorders import tradegecko|qbcommerce`` (``flows.imports``).

Public docs this follows (https://developer.intuit.com/app/developer/qbo/docs/ …):

* base ``https://quickbooks.api.intuit.com/v3/company/{realmId}/…?minorversion=N``; OAuth 2.0 with a
  refresh token that rotates (``develop/authentication-and-authorization/oauth-2.0``), kept sealed and
  durable by ``connectors.token_rotation`` (token endpoint
  ``https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer``, HTTP Basic ``client_id:client_secret``);
* items: ``GET /query?query=select * from Item where Type = 'Inventory' STARTPOSITION n MAXRESULTS m``
  (``learn/explore-the-quickbooks-online-api/data-queries``: at most 1,000 a page), the item's ``QtyOnHand``,
  ``ReorderPoint``, ``Sku`` (``api/accounting/all-entities/item``). QuickBooks Online keeps one quantity per
  item, no location and no committed quantity: the figure is the store's one location (``location_id``);
* increments: ``GET /cdc?entities=Item&changedSince=…`` (``learn/explore-the-quickbooks-online-api/change-data-capture``):
  full items changed since, at most 1,000 objects an answer, 30 days back at most; the cursor is the
  answer's own ``time`` (the server's clock, not ours). A cursor older than 29 days, or an answer of
  1,000 items (more may be left), reads everything again;
* webhooks (``develop/webhooks``, ``develop/webhooks/managing-webhooks-notifications``): the body signed
  in ``intuit-signature`` (base64 HMAC-SHA256 with the app's verifier token, our webhook secret); the
  classic ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
  "operation", "lastUpdated"}]}}]}`` and the CloudEvents array Intuit moves every app to by May 2026
  (``[{"specversion": "1.0", "id", "type": "qbo.item.updated.v1", "time", "intuitentityid",
  "intuitaccountid"}]``, https://blogs.a.intuit.com/2025/11/12/upcoming-change-to-webhooks-payload-structure).
  Both name ids only, so the drain reads the named items (``thin_webhooks``); another realm's are ignored;
* purchase orders ``POST /purchaseorder?requestid=…`` (``api/accounting/all-entities/purchaseorder``:
  ``VendorRef``, ``DocNumber``, ``Line[].ItemBasedExpenseLineDetail{ItemRef, Qty, UnitPrice}``);
  ``requestid`` is Intuit's idempotency key: the same id answers the first request's answer again
  (https://blogs.intuit.com/2015/04/06/15346/ , at most 50 characters per company). Ours is derived
  from the store and our PO number, and an order already carrying our number as ``DocNumber`` is
  returned before anything is sent, so a retry or a repeat never makes a second one. The vendor is the
  one whose ``AcctNum`` (else ``DisplayName``) is our vendor key; items are found by ``Sku``;
* limits (``learn/limits-and-throttles``): 500 requests a minute and 10 a second per realm, paced here;
  a 429 (``ThrottleExceeded``, ``errorCode=003001``) carries no ``Retry-After`` and the docs say to wait 60 s;
* errors ``{"Fault": {"Error": [{"Message", "Detail", "code"}], "type"}}``, shown as ``code: Message: Detail``.

Credentials: ``client_id``, ``client_secret``, ``refresh_token`` (the first one; later ones are kept
by the vault). Options: ``realm_id`` (required), ``minor_version`` (75), ``token_url``, ``location_id``
(``default``), ``page_size`` (≤ 1,000).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Iterator, Mapping

import requests
from requests.auth import AuthBase

from connectors.base import Bucket, Capability, RestConnector, id_str, parse_timestamp, whole_units
from connectors.errors import MalformedPayloadError, PermanentError
from connectors.http import RateLimitHeaders
from connectors.signing import header_value, verify_base64_hmac
from connectors.token_rotation import PROCESS_VAULT, RotatingRefreshToken
from connectors.types import ErpResult, PurchaseOrderRequest, StockPage, StockRecord, WebhookEvent

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
ITEMS = "select * from Item where Type = 'Inventory'"
CDC_LIMIT, CDC_DAYS = 1000, 29


@dataclass(frozen=True)
class IntuitWait(RateLimitHeaders):
    """A 429 names no wait; Intuit's limits page says 60 seconds."""

    def retry_after(self, response: requests.Response) -> float | None:
        return super().retry_after(response) or (60.0 if response.status_code == 429 else None)


def quoted(values: list[str]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)


class QuickBooksConnector(RestConnector):
    """One QuickBooks Online company (realm): stock read, webhooks, purchase orders."""

    platform: ClassVar[str] = "quickbooks"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.PURCHASE_ORDERS, Capability.WEBHOOKS})
    api_prefix: ClassVar[str] = "/v3/company/{realm_id}"
    option_defaults: ClassVar[Mapping[str, Any]] = {"minor_version": "75", "token_url": TOKEN_URL,
                                                    "location_id": "default"}
    max_page_size: ClassVar[int | None] = 1000
    bucket: ClassVar[Bucket | None] = Bucket(capacity=10, leak_per_s=500 / 60)
    rate_limits: ClassVar[RateLimitHeaders] = IntuitWait()
    thin_webhooks: ClassVar[bool] = True
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.STOCK_WRITE: "read-only in this product (the back office, not a channel)"}

    def __init__(self, config: Any, **kwargs: Any) -> None:
        if not config.options.get("realm_id"):
            raise ValueError("quickbooks needs option realm_id (the company id)")
        super().__init__(config, **kwargs)
        self.realm = str(self.options["realm_id"])

    def build_auth(self) -> AuthBase:
        creds = self.config.credentials
        self.token = RotatingRefreshToken(
            token_url=str(self.options.get("token_url") or TOKEN_URL), client_id=creds.get("client_id", ""),
            client_secret=creds.get("client_secret", ""), refresh_token=creds.get("refresh_token", ""),
            vault=self.config.token_vault or PROCESS_VAULT, platform=self.platform, timeout_s=self.config.timeout_s,
            key=f"{self.platform}:{self.config.store_key}:{self.config.options.get('realm_id')}")
        return self.token

    def error_message(self, body: Any, fallback: str) -> str:
        errors = ((body or {}).get("Fault") or {}).get("Error") or [] if isinstance(body, dict) else []
        return "; ".join(": ".join(str(e[k]) for k in ("code", "Message", "Detail") if e.get(k)) for e in errors) \
            or fallback

    def call(self, method: str, path: str, params: Mapping[str, Any], body: Any = None, **kw: Any) -> dict[str, Any]:
        params = {**params, "minorversion": self.options["minor_version"]}
        return self.decode(self.request(method, path, params=params, json_body=body, **kw)) or {}

    def query(self, text: str) -> Iterator[tuple[list[dict[str, Any]], str]]:
        """Every page of a query with the answer's time: ``STARTPOSITION`` from 1 by the page size."""
        start = 1
        while True:
            body = self.call("GET", "query", {"query": f"{text} STARTPOSITION {start} MAXRESULTS {self.page_size}"})
            rows = [row for key, value in (body.get("QueryResponse") or {}).items() if isinstance(value, list)
                    for row in value]
            yield rows, str(body.get("time") or "")
            if len(rows) < self.page_size:
                return
            start += len(rows)

    # --- stock ------------------------------------------------------------------------------

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Every inventory item (``since`` None, old or too many changed), else those CDC reports."""
        cutoff = datetime.now(timezone.utc) - timedelta(days=CDC_DAYS)
        if since and (parse_timestamp(since) or cutoff) > cutoff:
            body = self.call("GET", "cdc", {"entities": "Item", "changedSince": since})
            items = [row for part in body.get("CDCResponse") or [] for answer in part.get("QueryResponse") or []
                     for row in answer.get("Item") or []]
            if len(items) < CDC_LIMIT:
                yield StockPage(self.stock_records(items), str(body.get("time") or since))
                return
        walk = self.query(ITEMS)  # the first answer's time is the cursor; only the last page carries it
        rows, started = next(walk)
        for following, _ in walk:
            yield StockPage(self.stock_records(rows), since)
            rows = following
        yield StockPage(self.stock_records(rows), started or since)

    def stock_records(self, items: list[dict[str, Any]]) -> list[StockRecord]:
        """Tracked inventory items, one figure each at the store's one location (deleted ones: none)."""
        return [StockRecord(external_id=str(item["Id"]), sku=str(item.get("Sku") or item.get("Name")),
                            location_external_id=str(self.options["location_id"]), inventory_item_id=id_str(item["Id"]),
                            on_hand=whole_units(item.get("QtyOnHand")) or 0, available=whole_units(item.get("QtyOnHand")) or 0,
                            reorder_point=whole_units(item.get("ReorderPoint")),
                            updated_at=parse_timestamp((item.get("MetaData") or {}).get("LastUpdatedTime")))
                for item in items if item.get("status") != "Deleted" and item.get("Type", "Inventory") == "Inventory"
                and item.get("TrackQtyOnHand", True)]

    # --- purchase orders ----------------------------------------------------------------------

    def create_purchase_order(self, po: PurchaseOrderRequest) -> ErpResult:
        """Our order (``DocNumber``) if QuickBooks holds it, else created with a ``requestid`` of ours."""
        if not po.lines:
            raise PermanentError("quickbooks: a purchase order needs at least one line", platform=self.platform)
        number = po.number[:21]  # DocNumber holds 21 characters
        for rows, _ in self.query(f"select * from PurchaseOrder where DocNumber = {quoted([number])}"):
            for found in rows:
                return ErpResult(external_id=str(found["Id"]), created=False, detail=f"PurchaseOrder {found['Id']} exists")
        vendor = next((v for rows, _ in self.query("select * from Vendor") for v in rows
                       if po.vendor_ref in (v.get("AcctNum"), v.get("DisplayName"))), None)
        skus = sorted({line.sku for line in po.lines})
        items = {str(i.get("Sku")): i for rows, _ in self.query(f"select * from Item where Sku in ({quoted(skus)})")
                 for i in rows}
        missing = [s for s in skus if s not in items] + ([] if vendor else [f"vendor {po.vendor_ref}"])
        if missing or vendor is None:
            raise PermanentError(f"quickbooks: not found in the company: {', '.join(missing)}", platform=self.platform)
        body = {"VendorRef": {"value": vendor["Id"]}, "DocNumber": number, "PrivateNote": po.memo or po.number,
                "Line": [{"DetailType": "ItemBasedExpenseLineDetail", "Amount": line.quantity * line.unit_cost_cents / 100,
                          "ItemBasedExpenseLineDetail": {"ItemRef": {"value": items[line.sku]["Id"]},
                                                         "Qty": line.quantity, "UnitPrice": line.unit_cost_cents / 100}}
                         for line in po.lines], **({"DueDate": po.expected_date} if po.expected_date else {})}
        key = hashlib.sha256(f"{self.config.store_key}:{self.realm}:{po.number}".encode()).hexdigest()[:40]
        made = self.call("POST", "purchaseorder", {"requestid": key}, body, retry=True).get("PurchaseOrder") or {}
        return ErpResult(external_id=str(made["Id"]), created=True, request=body, detail=f"PurchaseOrder {made['Id']}")

    # --- webhooks -------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        verify_base64_hmac(self.config.webhook_secret, body, header_value(headers, "intuit-signature"))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Either payload as ``(entity, id)`` of this realm; items are named ``Item:<id>``."""
        try:
            payload = json.loads(body)
            named: list[tuple[str, str, Any, str | None]]
            if isinstance(payload, dict) and "eventNotifications" in payload:
                named = [(str(e["name"]), str(e["id"]), e.get("lastUpdated"), None)
                         for n in payload["eventNotifications"] if str(n["realmId"]) == self.realm
                         for e in n["dataChangeEvent"]["entities"]]
            else:
                events = payload if isinstance(payload, list) else [payload]
                named = [(str(e["type"]).split(".")[1].capitalize(), str(e["intuitentityid"]), e.get("time"), str(e["id"]))
                         for e in events if str(e["intuitaccountid"]) == self.realm]
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise MalformedPayloadError(f"quickbooks webhook: {exc.__class__.__name__} {exc}") from exc
        items = sorted({f"Item:{ident}" for name, ident, _, _ in named if name.lower() == "item"})
        ids = [n[3] for n in named if n[3] is not None]
        key = ",".join(sorted(ids)) if ids and len(ids) == len(named) else ""
        dedupe = key if 0 < len(key) <= 100 else hashlib.sha256(key.encode() or body).hexdigest()
        times = [t for t in (parse_timestamp(n[2]) for n in named) if t]
        return WebhookEvent("sku_modified" if items else "other", "Item" if items else "other",
                            f"{self.platform}:{self.realm}:{dedupe}", max(times) if times else None, resource_ids=items)

    def resolve_webhook(self, event: WebhookEvent) -> WebhookEvent:
        """The named items as QuickBooks holds them now (a deleted one: no record)."""
        ids = [name.split(":", 1)[1] for name in event.resource_ids if name.startswith("Item:")]
        if not ids:
            return event
        rows = [row for page, _ in self.query(f"select * from Item where Id in ({quoted(ids)})") for row in page]
        return replace(event, stock=self.stock_records(rows))
