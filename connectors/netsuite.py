"""NetSuite connector: per-location stock read through SuiteQL over REST web services.

Public docs this follows:

* SuiteQL through REST (``POST /services/rest/query/v1/suiteql?limit=&offset=``, header
  ``Prefer: transient``, body ``{"q": "SELECT …"}``, at most 100,000 results per query):
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html
* Collection paging (``links`` with ``rel: next``, ``hasMore``, ``offset``, ``count``,
  ``totalResults``; ``limit`` ≤ 1000):
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156414087576.html
* Token-based authentication (OAuth 1.0a, ``HMAC-SHA256``, ``realm`` = account id, not signed):
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1534941088.html
* Error bodies ``{"type", "title", "status", "o:errorDetails": [{"detail", "o:errorCode"}]}``:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156570709583.html
* Per-location quantities: the ``inventoryitemlocations`` SuiteQL table (``item, location,
  quantityonhand, quantityavailable, quantitycommitted, quantitybackordered``), named in the Records
  Catalog and CData's SuiteQL table reference:
  https://cdn.cdata.com/help/DNM/ado/pg_SuiteQLtable-inventoryitemlocations.htm

Role in this product: NetSuite is the back office (ERP), read for the truth about stock per
location. It is not a sales channel, so :meth:`fetch_orders` yields nothing (web orders come from
the storefront connectors; reading sales orders here would count each one twice) and
:meth:`push_availability` refuses with :class:`PermanentError`: channel sync must never overwrite
the ERP's quantities, and a silent "ok" would hide a misconfigured store. NetSuite has no native
outbound webhooks (only SuiteScript a customer writes), so the webhook methods refuse clearly.

Incremental fetch filters on the item's ``lastmodifieddate``. The cursor is the timestamp text the
query itself rendered (``TO_CHAR(…, 'YYYY-MM-DD HH24:MI:SS')``) and it goes back verbatim through
``TO_TIMESTAMP`` with the same format, so the account's time zone never needs converting. The filter
is ``>=``: the boundary second is re-read, never skipped (the set-based upsert absorbs repeats).
Whether a quantity change through a transaction touches the item's ``lastmodifieddate`` is not
documented, so the tasks should keep a periodic full fetch for NetSuite stores.

SuiteQL returns column names in lower case and values as strings, omitting NULL columns; ids stay
strings. Pages are ordered by ``item.id, location`` so offset paging is stable.

Purchase orders (:meth:`create_purchase_order`) go through the REST record service:

* create answers ``204 No Content`` with the new record's URL in ``Location``:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1545141395.html
* external ids (``eid:<value>`` wherever an internal id goes; letters, digits, ``_`` and ``-``):
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156334828635.html
* upsert is ``PUT …/record/v1/<type>/eid:<externalId>``: created if absent, updated if present:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156335203191.html
* ``?replace=item`` replaces the item sublist instead of merging lines into it:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1545297048.html
* PO body ``{"entity": {"id"}, "item": {"items": [{"item": {"id"}, "quantity", "rate"}]}}``:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/article_161165602348.html

Our PO number is the PO's ``externalId`` (and its ``memo``). The connector first reads
``purchaseOrder/eid:<number>`` and returns an existing record untouched (someone may have edited or
received it in NetSuite since); only when it is absent does it upsert with ``PUT …/eid:<number>``.
A second sender racing past the read meets the same external id, so NetSuite keeps one record; and a
PUT whose answer was lost can be repeated safely. Vendors are found by ``externalId`` = our vendor
key and items by ``itemid`` = our SKU, both through SuiteQL (the ``vendor`` and ``item`` tables).
Options ``po_location_id`` / ``po_subsidiary_id`` add ``location`` / ``subsidiary`` when the account
needs them.

How it is built: SuiteQL is a declared stream (``POST`` with the query as its body, ``Prefer:
transient``, paged by the body's ``links`` while ``hasMore``, :class:`~connectors.paging.BodyLinksPaginator`),
read by ``connectors.streams``; the stock read adds its record mapping and a
:class:`~connectors.streams.HighWater` on ``updated_at`` that reads and writes the cursor as the
account's own wall-clock text (:meth:`~connectors.streams.HighWater.wall_clock`). Retries, pacing,
error classes, the ``o:errorDetails`` message (``connectors.http.platform_error_message``) and TBA
signing (:class:`~connectors.auth.OAuth1`) are the shared ones; stock write-back and webhooks are
refused by name (``refusals``). What is left here is NetSuite's SQL, its record shapes and the PO
sequence.

Options: ``page_size`` (≤ 1000, default 1000), ``location_ids`` (list: only these locations),
``item_types`` (default ``["InvtPart"]``), ``account_timezone`` (IANA name for ``updated_at``;
default UTC). Credentials: ``account_id`` (realm, e.g. ``1234567`` or ``1234567_SB1``),
``consumer_key``, ``consumer_secret``, ``token_id``, ``token_secret``.
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import timezone
from typing import Any, ClassVar, Iterator, Mapping
from zoneinfo import ZoneInfo

from requests.auth import AuthBase

from connectors.base import (
    BodyLinksPaginator, Capability, HighWater, OAuth1, RestConnector, Stream, all_found, id_str, last_path_id,
    whole_units,
)
from connectors.errors import PermanentError
from connectors.types import ErpResult, PurchaseOrderRequest, ReceiptLine, StockPage, StockRecord

CURSOR_FORMAT = "YYYY-MM-DD HH24:MI:SS"
_CURSOR_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_ITEM_TYPE_RE = re.compile(r"^[A-Za-z]+$")
_EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
PURCHASE_ORDER_PATH = "record/v1/purchaseOrder"

STOCK_COLUMNS = (
    "item.id AS item_id, item.itemid AS sku, item.itemtype AS item_type, iil.location AS location_id, "
    "iil.quantityonhand AS on_hand, iil.quantityavailable AS available, "
    "iil.quantitycommitted AS committed, iil.quantitybackordered AS backordered, "
    f"TO_CHAR(item.lastmodifieddate, '{CURSOR_FORMAT}') AS modified"
)
#: A POST that reads: the query is the body (``with_body``), ``limit``/``offset`` travel in the query string.
SUITEQL = Stream(path="query/v1/suiteql", method="POST", headers={"Prefer": "transient"}, records="items",
                 paginator=BodyLinksPaginator(), page_size_param="limit")


def suiteql_literal(value: str) -> str:
    """A SuiteQL string literal: single quotes doubled, as in Oracle SQL."""
    return "'" + value.replace("'", "''") + "'"


def external_id(value: str, what: str) -> str:
    """NetSuite external ids allow letters, digits, ``_`` and ``-`` only; anything else would be
    parsed differently in a URL (``|`` is a multi-select delimiter there), so refuse it early."""
    if not _EXTERNAL_ID_RE.match(value or ""):
        raise PermanentError(f"netsuite: {what} {value!r} is not a valid external id "
                             f"(letters, digits, '_' and '-' only)", platform="netsuite")
    return value


class NetSuiteConnector(RestConnector):
    """One NetSuite account over REST web services: stock read, purchase orders, receipts."""

    platform: ClassVar[str] = "netsuite"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.PURCHASE_ORDERS, Capability.RECEIPTS})
    api_prefix: ClassVar[str] = "/services/rest"
    max_page_size: ClassVar[int | None] = 1000
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.STOCK_WRITE: "read-only in this product (the back office, not a channel); remove this store "
                                "from the channel-sync targets",
        Capability.WEBHOOKS: "no native webhooks (only SuiteScript a customer writes); poll with fetch_stock"}

    def __init__(self, config: Any, **kwargs: Any) -> None:
        opts = config.options
        self.item_types = [str(t) for t in opts.get("item_types") or ["InvtPart"]]
        for value in [*(str(x) for x in opts.get("location_ids") or []), *self.item_types]:
            if not (value.isdigit() or _ITEM_TYPE_RE.match(value)):
                raise ValueError(f"netsuite option value {value!r} is not an id or an item type")
        self.cursor = HighWater.wall_clock(ZoneInfo(opts["account_timezone"]) if opts.get("account_timezone")
                                           else timezone.utc)
        self.stock = replace(SUITEQL, map=self.stock_record, page=StockPage, cursor=self.cursor)
        super().__init__(config, **kwargs)

    def build_auth(self) -> AuthBase:
        creds = self.config.credentials
        account = creds.get("account_id") or self.config.options.get("account_id")
        if not account:
            raise ValueError("netsuite credentials need account_id (the OAuth realm)")
        return OAuth1(creds.get("consumer_key", ""), creds.get("consumer_secret", ""),
                      creds.get("token_id", ""), creds.get("token_secret", ""),
                      realm=str(account).upper().replace("-", "_"), signature_method="HMAC-SHA256")

    # --- SuiteQL and stock ------------------------------------------------------------------

    def suiteql(self, query: str) -> Iterator[dict[str, Any]]:
        """Every row of a SuiteQL result, page after page (lazy: nothing is sent before the first row)."""
        return self.records(SUITEQL.with_body({"q": query}))

    def stock_query(self, since: str | None) -> str:
        """The SuiteQL text; every interpolated value is validated first (no injection)."""
        types = ", ".join(f"'{t}'" for t in self.item_types)
        where = [f"item.itemtype IN ({types})", "item.isinactive = 'F'"]
        if self.location_ids():  # the ``location_ids`` option (NetSuite declares no ``locations`` stream)
            where.append(f"iil.location IN ({', '.join(self.location_ids())})")
        if since is not None:
            if not _CURSOR_RE.match(since):
                raise ValueError(f"netsuite cursor {since!r} is not 'YYYY-MM-DD HH24:MI:SS'")
            where.append(f"item.lastmodifieddate >= TO_TIMESTAMP('{since}', '{CURSOR_FORMAT}')")
        return (f"SELECT {STOCK_COLUMNS} FROM item INNER JOIN inventoryitemlocations iil ON iil.item = item.id "
                f"WHERE {' AND '.join(where)} ORDER BY item.id, iil.location")

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Only the finished walk moves the cursor (pages are ordered by id, not by time)."""
        yield from self.read(self.stock.with_body({"q": self.stock_query(since)}), since)

    def stock_record(self, row: Mapping[str, Any]) -> StockRecord:
        modified = str(row.get("modified") or "")
        updated = self.cursor.parse(modified).astimezone(timezone.utc) if _CURSOR_RE.match(modified) else None
        return StockRecord(
            external_id=str(row["item_id"]), sku=row.get("sku") or None,
            location_external_id=id_str(row.get("location_id")), inventory_item_id=str(row["item_id"]),
            on_hand=whole_units(row.get("on_hand")) or 0, available=whole_units(row.get("available")) or 0,
            committed=whole_units(row.get("committed")) or 0, updated_at=updated)

    # --- purchase orders and receipts -------------------------------------------------------

    def create_purchase_order(self, po: PurchaseOrderRequest) -> ErpResult:
        """Create the PO once: an existing record with our number as external id is returned as is."""
        number = external_id(po.number, "PO number")
        existing = self.find_purchase_order(number)
        if existing is not None:
            return ErpResult(external_id=existing, created=False, detail=f"purchaseOrder eid:{number} exists")
        body = self.purchase_order_body(po)
        response = self.request("PUT", f"{PURCHASE_ORDER_PATH}/eid:{number}", params={"replace": "item"},
                                json_body=body, retry=True)
        record_id = last_path_id(response.headers.get("Location")) or self.find_purchase_order(number)
        if record_id is None:
            raise PermanentError(f"netsuite: upsert of purchaseOrder eid:{number} answered "
                                 f"{response.status_code} without a Location and the record is not readable",
                                 status_code=response.status_code, platform=self.platform)
        return ErpResult(external_id=record_id, created=True, detail=f"purchaseOrder {record_id}", request=body)

    def find_purchase_order(self, number: str) -> str | None:
        """The internal id of the PO whose external id is ``number``; None on NetSuite's 404."""
        try:
            body = self.get_json(f"{PURCHASE_ORDER_PATH}/eid:{external_id(number, 'PO number')}")
        except PermanentError as exc:
            if exc.status_code == 404:
                return None
            raise
        return str(body["id"]) if isinstance(body, Mapping) and body.get("id") is not None else None

    def fetch_receipts(self, numbers: list[str]) -> list[ReceiptLine]:
        """Received-so-far per line of our POs (by external id), from the PO lines themselves:
        ``transactionline.quantityshiprecv`` is what item receipts booked against each line.
        The header row (``mainline = 'T'``) carries no item and is skipped."""
        wanted = sorted({external_id(number, "PO number") for number in numbers})
        if not wanted:
            return []
        query = ("SELECT t.externalid AS po, item.itemid AS sku, ABS(tl.quantity) AS ordered, "
                 "ABS(COALESCE(tl.quantityshiprecv, 0)) AS received FROM transaction t "
                 "INNER JOIN transactionline tl ON tl.transaction = t.id INNER JOIN item ON item.id = tl.item "
                 f"WHERE t.type = 'PurchOrd' AND tl.mainline = 'F' AND t.externalid IN "
                 f"({', '.join(suiteql_literal(n) for n in wanted)}) ORDER BY t.id, tl.linesequencenumber")
        return [ReceiptLine(po_number=str(row["po"]), sku=str(row["sku"]), ordered=int(float(row["ordered"])),
                            received=int(float(row.get("received", 0)))) for row in self.suiteql(query)]

    def purchase_order_body(self, po: PurchaseOrderRequest) -> dict[str, Any]:
        """The record body; vendor and items resolved to internal ids first (refused if unknown)."""
        vendor_id = self.vendor_id(po.vendor_ref)
        item_ids = self.item_ids([line.sku for line in po.lines])
        body: dict[str, Any] = {
            "entity": {"id": vendor_id}, "memo": po.memo or po.number,
            "item": {"items": [{"item": {"id": item_ids[line.sku]}, "quantity": line.quantity,
                                "rate": line.unit_cost_cents / 100} for line in po.lines]},
        }
        for option, field in (("po_location_id", "location"), ("po_subsidiary_id", "subsidiary")):
            if self.options.get(option) is not None:
                body[field] = {"id": str(self.options[option])}
        return body

    def vendor_id(self, vendor_ref: str) -> str:
        key = suiteql_literal(external_id(vendor_ref, "vendor key"))
        for row in self.suiteql(f"SELECT id FROM vendor WHERE externalid = {key}"):
            return str(row["id"])
        raise PermanentError(f"netsuite: no vendor with external id {vendor_ref!r}; set the vendor's "
                             f"External ID in NetSuite to our vendor key", platform=self.platform)

    def item_ids(self, skus: list[str]) -> dict[str, str]:
        """SKU → item internal id (``item.itemid`` is the SKU, as the stock query assumes)."""
        wanted = sorted(set(skus))
        if not wanted:
            raise PermanentError("netsuite: a purchase order needs at least one line", platform=self.platform)
        codes = ", ".join(map(suiteql_literal, wanted))
        rows = self.suiteql(f"SELECT id, itemid FROM item WHERE itemid IN ({codes}) ORDER BY id")
        return all_found(wanted, ((str(row["itemid"]), str(row["id"])) for row in rows),
                         lambda missing: PermanentError(f"netsuite: no item for SKU(s) {', '.join(missing)}",
                                                        platform=self.platform))
