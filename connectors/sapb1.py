"""SAP Business One connector: stock per warehouse, purchase orders or requests, goods receipts and
the backorder status, through the Service Layer (OData over HTTPS, ``https://{host}:50000/b1s/v1``).

Public docs this follows:

* The Service Layer user manual (login, cookies, session timeout, paging, user-defined fields):
  https://help.sap.com/doc/6ab840ef2e8140f3af9eeb7d8fef9f06/latest/en-US/Working_with_SAP_Business_One_Service_Layer.pdf
* The Service Layer API reference (``Items``, ``Warehouses``, ``PurchaseOrders``,
  ``PurchaseRequests``, ``PurchaseDeliveryNotes``, ``UserFieldsMD`` and their properties):
  https://help.sap.com/doc/056f69366b5345a386bb8149f1700c19/10.0/en-US/Service%20Layer%20API%20Reference.html
* OData server-driven paging (``Prefer: odata.maxpagesize``; the next link, ``odata.nextLink`` in
  v1, which speaks OData v3, ``@odata.nextLink`` in v2, OData v4):
  https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part1-protocol.html

**Session.** ``POST Login {"CompanyDB", "UserName", "Password"}`` answers ``{"SessionId",
"Version", "SessionTimeout"}`` (minutes, 30 by default) with the cookies ``B1SESSION`` (the session)
and ``ROUTEID`` (which node of a load-balanced Service Layer holds it); both go back on every call.
A wrong login is 401 ``{"error": {"code": 100000027, "message": {"lang": "en-us", "value": "Login
failed"}}}``; a session that timed out or is gone is 401 ``{"error": {"code": 301, "message":
{"lang": "en-us", "value": "Invalid session or session already timeout."}}}`` (seen in public
integrators' code and logs; the manual says only that the session times out). The shared
:class:`~connectors.auth.SessionCookies` logs in, renews the session before its timeout and, on a
401, logs in once more and repeats the call; a worker process keeps one session per company and
user (``connectors.auth.shared_session``) rather than one per task.

**Stock** is ``Items?$select=ItemCode,ItemName,UpdateDate,UpdateTime,ItemWarehouseInfoCollection``
(inventory items only, ``InventoryItem eq 'tYES'``, ordered by ``ItemCode``): one
:class:`StockRecord` per ``ItemWarehouseInfoCollection`` row, ``WarehouseCode`` its location,
``InStock`` on hand, ``Committed`` committed (to sales orders), available = in stock − committed.
``Ordered`` (on open purchase orders) is not stock yet and is not counted. Incremental reads filter
on the item's ``UpdateDate`` and ``UpdateTime``, which are two fields (a date, and ``HH:MM:SS``
in the company's wall-clock time): ``UpdateDate ge D and UpdateTime ge T`` would drop a later
day's morning, so the filter is ``UpdateDate gt D or (UpdateDate eq D and UpdateTime ge T)``, the
boundary second read again (the upsert absorbs it). The cursor is that wall-clock text
(``company_timezone`` makes it an instant for our records). Whether a stock movement touches the
item's ``UpdateDate`` is not documented, so keep a short ``full_sync_interval`` for SAP stores.

**Purchase orders or purchase requests** (``purchase_document = "order" | "request"``; a request
is the "automated purchase requisition": the buyer turns it into an order in SAP). Our PO number
is the document's ``NumAtCard`` (Vendor Ref. No.) and is in its ``Comments``; a send first looks
it up (``$filter=NumAtCard eq '…'``) and returns the document found, so a retried or repeated
send — or one whose answer was lost — finds the first instead of making a second (``tasks.po_send``
holds the PO row lock, so two sends never race past the look-up). A document cancelled in SAP is
refused, not re-created. The vendor is the business partner whose ``CardCode`` is our vendor key
(a request names it per line as ``LineVendor``) and each item's ``ItemCode`` is our SKU.

**Goods receipts** are ``PurchaseDeliveryNotes`` (goods receipt POs) whose lines were copied from
our orders (``BaseType`` 22, ``BaseEntry`` the order's ``DocEntry``), found with
``DocumentLines/any(d: d/BaseType eq 22 and (d/BaseEntry eq …))`` as integrators do, cancelled
ones and their cancellation documents left out (``CancelStatus eq 'csNo'``). For requests, one hop
more: the orders copied from our requests (``BaseType`` 1470000113), then their receipts.

**Backorder status** (seed §1.3): ``PATCH Items('{code}') {"U_BackorderStatus": "Y" | "N"}``, a
user-defined field on the item master. A field of our own, not the item's remarks (``User_Text``):
it overwrites nothing a person wrote, can be shown in the item list, queried and used in B1 alerts,
and a PATCH of the same value twice is harmless. It must exist first (Tools → Customization Tools
→ User-Defined Fields - Management → Master Data → Items → Items; or ``POST UserFieldsMD
{"TableName": "OITM", "Name": "BackorderStatus", "Type": "db_Alpha", "Size": 1, ...}``); without
it SAP answers 400 "Property 'U_BackorderStatus' of 'Item' is invalid" and the refusal says how to
create it. ``backorder_status_field`` names another field. See docs/connectors.md.

There are no outbound webhooks (B1 alerts, ``SBO_SP_TransactionNotification`` or the Integration
Framework only), so the webhook methods refuse and SAP is polled. Error bodies are OData v3's
``{"error": {"code": -5002, "message": {"lang", "value"}}}``: 4xx permanent, 5xx transient.

Credentials: ``company_db``, ``username``, ``password``. Options: ``page_size`` (default 100),
``location_ids`` (warehouse codes to read), ``company_timezone`` (IANA), ``purchase_document``,
``po_warehouse`` (the lines' ``WarehouseCode``), ``backorder_status_field``, ``service_version``.
"""
from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, ClassVar, Iterator, Mapping
from zoneinfo import ZoneInfo

from requests.auth import AuthBase

from connectors.base import Capability, HighWater, RestConnector, SessionCookies, Stream, shared_session, whole_units
from connectors.errors import PermanentError
from connectors.odata import NEXT_LINK, any_of, entity_key, max_page_size, odata_path
from connectors.options import Choice, Matching, OptionRule, TimeZone
from connectors.streams import chunks
from connectors.types import ErpResult, ListingRef, PurchaseOrderRequest, PushResult, ReceiptLine, StockPage, \
    StockRecord

#: Object types a copied line names as its ``BaseType``.
PURCHASE_REQUEST, PURCHASE_ORDER = 1470000113, 22
DOCUMENTS = {"order": "PurchaseOrders", "request": "PurchaseRequests"}
SESSION_COOKIES = ("B1SESSION", "ROUTEID")
CURSOR = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def stamp(row: Mapping[str, Any]) -> str | None:
    """``UpdateDate`` (``2024-05-01``, v2: ``2024-05-01T00:00:00Z``) and ``UpdateTime`` as one text."""
    day, time = str(row.get("UpdateDate") or "")[:10], str(row.get("UpdateTime") or "00:00:00")[:8]
    return f"{day} {time}" if CURSOR.match(f"{day} {time}") else None


def changed_since(cursor: str) -> str:
    """Later days, or the cursor's own day from its second on (the date and the time are two fields)."""
    if not CURSOR.match(cursor):
        raise ValueError(f"sap_b1 cursor {cursor!r} is not 'YYYY-MM-DD HH:MM:SS'")
    day, time = cursor.split(" ")
    return f"(UpdateDate gt '{day}' or (UpdateDate eq '{day}' and UpdateTime ge '{time}'))"


class SapB1Connector(RestConnector):
    """One SAP Business One company through the Service Layer."""

    platform: ClassVar[str] = "sap_b1"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.PURCHASE_ORDERS, Capability.RECEIPTS, Capability.BACKORDER_STATUS})
    api_prefix: ClassVar[str] = "/b1s/{service_version}"
    option_defaults: ClassVar[Mapping[str, Any]] = {
        "service_version": "v1", "purchase_document": "order", "backorder_status_field": "U_BackorderStatus"}
    option_rules: ClassVar[tuple[OptionRule, ...]] = (
        Choice("purchase_document", tuple(DOCUMENTS)), TimeZone("company_timezone"),
        Matching("backorder_status_field", r"U_\w{1,50}", "a user-defined field such as U_BackorderStatus"))
    max_page_size: ClassVar[int | None] = 1000
    default_page_size: ClassVar[int | None] = 100
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.STOCK_WRITE: "read-only in this product (the back office, not a channel)",
        Capability.WEBHOOKS: "the Service Layer sends no webhooks (B1 alerts, SBO_SP_TransactionNotification or "
                             "the Integration Framework only); poll with fetch_stock"}

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)  # checks the options first
        self.zone = ZoneInfo(self.options.get("company_timezone", "UTC"))
        self.cursor = HighWater.wall_clock(self.zone)
        self.documents = DOCUMENTS[self.options["purchase_document"]]
        self.items = Stream(path="Items", records="value", paginator=NEXT_LINK, map=self.stock_records,
                            headers=max_page_size(self.page_size), page=StockPage, cursor=self.cursor)

    def build_auth(self) -> AuthBase:
        creds = self.config.credentials
        self.login_body = {"CompanyDB": creds.get("company_db", ""), "UserName": creds.get("username", ""),
                           "Password": creds.get("password", "")}
        if not all(self.login_body.values()):
            raise ValueError("sap_b1 credentials need company_db, username and password")
        key = (self.url(""), self.login_body["CompanyDB"], self.login_body["UserName"],
               hashlib.sha256(self.login_body["Password"].encode()).hexdigest())
        return SessionCookies(self.login, login_path="Login", session=shared_session(key), clock=self.clock)

    def login(self) -> tuple[dict[str, str], float]:
        """``POST Login``: the session's cookies and its ``SessionTimeout`` (minutes) in seconds."""
        response = self.request("POST", "Login", json_body=self.login_body, retry=True)
        body = self.decode(response) or {}
        cookies = {name: value for name in SESSION_COOKIES if (value := response.cookies.get(name))}
        cookies.setdefault("B1SESSION", str(body.get("SessionId") or ""))
        return cookies, 60.0 * float(body.get("SessionTimeout") or 30)

    def rows(self, collection: str, options: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every record of an OData query, page after page."""
        return self.records(Stream(path=odata_path(collection, options), records="value", paginator=NEXT_LINK,
                                   headers=max_page_size(self.page_size)))

    # --- stock ------------------------------------------------------------------------------

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Every inventory item's warehouse rows; only the finished walk moves the cursor."""
        where = "InventoryItem eq 'tYES'" + (f" and {changed_since(since)}" if since else "")
        path = odata_path("Items", {"$select": "ItemCode,ItemName,UpdateDate,UpdateTime,ItemWarehouseInfoCollection",
                                    "$filter": where, "$orderby": "ItemCode"})
        return self.read(replace(self.items, path=path), since)

    def stock_records(self, row: Mapping[str, Any]) -> list[StockRecord]:
        text, code = stamp(row), str(row["ItemCode"])
        updated = self.cursor.parse(text).astimezone(timezone.utc) if text else None
        wanted = {str(w) for w in self.options.get("location_ids") or []}
        out = []
        for place in row.get("ItemWarehouseInfoCollection") or []:
            if not wanted or str(place["WarehouseCode"]) in wanted:
                on_hand, committed = whole_units(place.get("InStock")) or 0, whole_units(place.get("Committed")) or 0
                out.append(StockRecord(external_id=code, sku=code, inventory_item_id=code, on_hand=on_hand,
                                       location_external_id=str(place["WarehouseCode"]), committed=committed,
                                       available=on_hand - committed, updated_at=updated))
        return out

    # --- purchase orders or requests, and their receipts ------------------------------------

    def create_purchase_order(self, po: PurchaseOrderRequest) -> ErpResult:
        """Create the document once: one already carrying our number as ``NumAtCard`` is returned."""
        for found in self.ours([po.number], "DocEntry,DocNum,NumAtCard,Cancelled"):
            if found.get("Cancelled") == "tYES":
                raise PermanentError(f"sap_b1: {self.documents} {found.get('DocNum')} for {po.number} was cancelled "
                                     f"in SAP; not creating it again", platform=self.platform)
            return ErpResult(external_id=str(found["DocEntry"]), created=False,
                             detail=f"{self.documents} {found.get('DocNum')} exists")
        body = self.document_body(po)
        made, _status = self.send("POST", self.documents, body, retry=False)
        return ErpResult(external_id=str(made["DocEntry"]), created=True,
                         detail=f"{self.documents} {made.get('DocNum')}", request=body)

    def ours(self, numbers: list[str], select: str) -> list[dict[str, Any]]:
        """Our documents by number (``NumAtCard``), oldest first."""
        return [row for chunk in chunks(sorted(set(numbers)), 20) for row in self.rows(
            self.documents, {"$select": select, "$filter": any_of("NumAtCard", chunk), "$orderby": "DocEntry"})]

    def document_body(self, po: PurchaseOrderRequest) -> dict[str, Any]:
        """The document: a request names the vendor per line, an order in its header."""
        today = datetime.now(self.zone).date().isoformat()
        due = po.expected_date or max((line.expected_date or "" for line in po.lines), default="") or today
        where = {"WarehouseCode": self.options["po_warehouse"]} if self.options.get("po_warehouse") else {}
        request = self.documents == "PurchaseRequests"
        lines = [{"ItemCode": line.sku, "Quantity": line.quantity, "UnitPrice": line.unit_cost_cents / 100, **where,
                  **({"LineVendor": po.vendor_ref, "RequiredDate": line.expected_date or due} if request else {})}
                 for line in po.lines]
        header = {"RequriedDate": due} if request else {"CardCode": po.vendor_ref, "DocDueDate": due}
        return {**header, "DocDate": today, "NumAtCard": po.number, "Comments": f"Backorder Automator {po.memo or po.number}",
                "DocumentLines": lines}

    def fetch_receipts(self, numbers: list[str]) -> list[ReceiptLine]:
        """Received-so-far per SKU of our documents: the lines of goods receipts copied from them."""
        ordered: dict[tuple[str, str], float] = defaultdict(float)
        number_of: dict[int, str] = {}
        for doc in self.ours(numbers, "DocEntry,NumAtCard,DocumentLines"):
            number_of[int(doc["DocEntry"])] = str(doc["NumAtCard"])
            for line in doc.get("DocumentLines") or []:
                ordered[(str(doc["NumAtCard"]), str(line["ItemCode"]))] += float(line.get("Quantity") or 0)
        if self.documents == "PurchaseRequests":  # received through the orders made from them
            number_of = self.copied("PurchaseOrders", PURCHASE_REQUEST, number_of)
        received: dict[tuple[str, str], float] = defaultdict(float)
        for note in self.based_on("PurchaseDeliveryNotes", PURCHASE_ORDER, number_of):
            for line in note.get("DocumentLines") or []:
                if line.get("BaseType") == PURCHASE_ORDER and int(line.get("BaseEntry") or 0) in number_of:
                    received[(number_of[int(line["BaseEntry"])], str(line["ItemCode"]))] += float(line["Quantity"])
        return [ReceiptLine(po_number=number, sku=sku, ordered=int(quantity), received=int(received[(number, sku)]))
                for (number, sku), quantity in sorted(ordered.items())]

    def copied(self, collection: str, base_type: int, number_of: dict[int, str]) -> dict[int, str]:
        """The documents copied from ours (their ``DocEntry`` → our number)."""
        return {int(doc["DocEntry"]): number_of[int(line["BaseEntry"])]
                for doc in self.based_on(collection, base_type, number_of) for line in doc.get("DocumentLines") or []
                if line.get("BaseType") == base_type and int(line.get("BaseEntry") or 0) in number_of}

    def based_on(self, collection: str, base_type: int, entries: Mapping[int, str]) -> Iterator[dict[str, Any]]:
        """Documents, not cancelled, with a line copied from one of ``entries`` of ``base_type``."""
        for chunk in chunks([str(entry) for entry in sorted(entries)], 20):
            bases = " or ".join(f"d/BaseEntry eq {entry}" for entry in chunk)
            yield from self.rows(collection, {"$select": "DocEntry,DocumentLines", "$filter": (
                f"CancelStatus eq 'csNo' and DocumentLines/any(d: d/BaseType eq {base_type} and ({bases}))")})

    # --- backorder status ---------------------------------------------------------------------

    def write_backorder_status(self, listing: ListingRef, backorder: bool) -> PushResult:
        """``PATCH Items('{code}')`` with the user-defined field ``Y`` (on backorder) or ``N``."""
        body = {self.options["backorder_status_field"]: "Y" if backorder else "N"}
        try:
            response = self.request("PATCH", entity_key("Items", listing.external_id or listing.sku),
                                    json_body=body, retry=True)
        except PermanentError as exc:
            if "is invalid" not in str(exc):
                raise
            raise PermanentError(f"{exc}; create the item field {next(iter(body))} in SAP (User-Defined Fields - "
                                 f"Management, docs/connectors.md)", status_code=exc.status_code,
                                 platform=self.platform, body=exc.body) from exc
        return self.push_result(response, body)
