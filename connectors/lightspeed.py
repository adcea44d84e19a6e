"""Lightspeed Retail X-Series (ex-Vend) connector: stock, sales, write-back and webhooks for one retailer.

Public docs this follows:

* API 2.0 collections and version-cursor pagination (``?after=<version.max>&page_size=N``, response
  ``{"data": [...], "version": {"min", "max"}}``, stop on an empty page):
  https://x-series-api.lightspeedhq.com/docs/pagination
* Products ``GET /api/2.0/products`` and inventory ``GET /api/2.0/inventory``, API 2.0 reference at
  https://x-series-api.lightspeedhq.com/reference ; the inventory row fields (``id, product_id,
  outlet_id, inventory_level, current_amount, reorder_point, reorder_amount, version, deleted_at``)
  were confirmed only in a secondary source (Fivetran's ERD,
  https://fivetran.com/docs/connectors/applications/lightspeed-retail-xseries/connector-schema ),
  and the ``page_size`` ceiling for 2.0 was not found (the 0.x docs cap at 200; we cap at 10000 and
  default to 1000: set ``page_size`` lower if the API objects).
* Reorder levels: the same inventory row carries the outlet's ``reorder_point`` (the level at which
  the product goes on the retailer's automatic stock order) and ``reorder_amount`` (how much that
  stock order adds: the *restock level*, as the API 1.0 shape the webhooks carry names it,
  ``restock_level``); the date-versioned API documents the pair as "FIXED: reorder_target =
  reorder_point + reorder_amount"
  (https://x-series-api.lightspeedhq.com/changelog/2026-05-reorder-points-2026-04). Both are imported
  for the outlet's location (0 means none set): the reorder point as its threshold, the restock
  level beside it; the TOML file's ``location_thresholds`` override the threshold.
* Sales ``GET /api/2.0/sales``, the same version walk; each sale has a ``status``
  (https://x-series-api.lightspeedhq.com/docs/sales_statuses; marked for deprecation in favour of
  ``state`` + attributes, https://x-series-api.lightspeedhq.com/docs/sales_states_and_attributes,
  read when ``status`` is absent) and ``line_items`` (``id, product_id, quantity, price``); the
  ``sale.update`` webhook carries the API 1.0 sale, its lines under ``register_sale_products``.
* Inventory write-back: https://x-series-api.lightspeedhq.com/docs/inventory_updates
* Webhooks (form-encoded POST with a ``payload`` JSON field in the API 1.0 shape; 5 s to answer;
  ``X-Signature: signature=…,algorithm=HMAC-SHA256`` keyed with the app's client secret):
  https://x-series-api.lightspeedhq.com/docs/webhooks
* Rate limits (429 with ``Retry-After`` as an HTTP-date, body ``{"error", "message"}``):
  https://x-series-api.lightspeedhq.com/docs/rate_limiting

Sales are demand. X-Series takes a sale's units out of its inventory when it is rung up, below zero
if need be, so a sale never waits for stock here: what it says is how much sold. The statuses page
says a CLOSED sale decreases the inventory and an ONACCOUNT one reduces it; a layby "removes the
product from your inventory"
(https://x-series-support.lightspeedhq.com/hc/en-us/articles/25533693114011-Creating-and-managing-layby-sales).
So a sale maps to an order whose status says where it stands, never to an open order that would
take the same units from stock a second time:

* ``CLOSED`` and every ``…_CLOSED`` (on account, layby, dispatched, picked up, service paid off):
  ``closed``;
* ``ONACCOUNT``, ``LAYBY``, ``AWAITING_DISPATCH``, ``AWAITING_PICKUP``, ``SERVICE`` (still open at
  the till): kept under their own names (``onaccount``, ``layby``, …);
* ``VOIDED`` (or a deleted sale): ``cancelled``; its demand no longer counts and X-Series returns
  the units to inventory, which the next stock read carries;
* ``SAVED`` / ``OPEN`` (parked): not kept, nothing has left the inventory yet.

Sale lines name ``product_id`` only: the domain finds the SKU through the listing stored on the
last full stock read. A line with a quantity under 1 (a return) is not demand.

Why ``PUT /api/2.1/products/{id}`` with ``{"details": {"inventory": [{"outlet_id", "current_amount"}]}}``
for write-back: it is the only write the public docs describe for setting one product's count at one
outlet. The docs prefer sales, stock orders (consignments) and inventory counts when Lightspeed is
the source of truth for stock and cost, because the direct update writes non-specific history and
affects attributed cost. This product syncs a *sellable quantity* to a channel, which is not a
physical movement: a consignment would invent a supplier delivery and an inventory count would
invent a stocktake. So a store whose Lightspeed is its stock master should not be configured as a
write-back channel; for a store where Lightspeed is a selling channel fed from elsewhere the direct
update is the documented tool. X-Series has no backorder state to write: neither that update nor
the product resource documents a per-product "sell when out of stock" flag (the till sells below
zero), so ``backorder`` is recorded in the audit request but not sent.

Cursors: ``version`` is a global, monotonic integer and each page is ordered by it, so every page's
``version.max`` is safe to save as soon as that page is stored (unlike time cursors, no boundary
second to re-read). Incremental pages key on ``product_id`` with ``sku`` None; the domain resolves
the SKU through the listing stored on the last full fetch (which walks ``/products`` first).

Webhook signature: the docs name the header, the algorithm and the key (client secret) and say the
HMAC is over "the webhook request body"; they do not say whether the digest is hex or base64. We
verify over the raw form-encoded bytes as received and accept either encoding (both compared in
constant time). Ids are UUID strings and stay strings. The dedupe key is the topic, the payload's
``id`` and its ``version`` (a hash of the payload when it has none: the API 1.0 sale).

How it is built: ``/products``, ``/inventory`` and ``/sales`` are declared streams of one
:class:`~connectors.streams.Collections` (the version walk) read by ``connectors.streams``; the
webhooks are a :class:`~connectors.hooks.FormWebhooks` declaration; retries, pacing and error
classification come from ``connectors.http``.

Options (``ConnectorConfig.options``): ``page_size`` (≤ 10000, default 1000), ``outlet_ids`` (list:
keep only these outlets' stock; sales of every outlet are the SKU's demand), ``default_outlet_id``
(write-back when the listing names none). Credentials: ``access_token`` (OAuth 2 or personal token);
``webhook_secret`` is the client secret.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar, Iterator, Mapping

from connectors.base import (
    Capability, Collections, FormWebhookConnector, FormWebhooks, LevelWrites, LineFields, ListingRef, OrderPage,
    OrderReads, OrderRecord, PageCursor, PushResult, StockPage, StockRecord, VersionCursorPaginator, WebhookRecords,
    bearer_auth, money_cents, nonblank_id_str, parse_timestamp, verify_keyed_hmac, whole_units,
)
from connectors.types import WebhookKind

MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 1_000
#: Sales that have not touched the inventory yet: not demand, not kept.
PARKED = frozenset({"SAVED", "OPEN"})
LINES = LineFields(title="name", variant=("product_id",))

VERSIONS = VersionCursorPaginator("after")
#: Every API 2.0 collection: ``{"data": [...]}`` after a version, each page's ``version.max`` its cursor.
API = Collections(VERSIONS, page_size_param="page_size", records="data", params={"after": 0}, since_param="after",
                  cursor=PageCursor(VERSIONS.page_version), stop_on_empty_page=True)
PRODUCTS, INVENTORY = API("products"), API("inventory", page=StockPage)


def infer_topic(payload: Mapping[str, Any]) -> str:
    """The ``type`` form field is not guaranteed by the docs; the payload's shape tells."""
    if "register_sale_products" in payload or "line_items" in payload:
        return "sale.update"
    if "outlet_id" in payload and "product_id" in payload:
        return "inventory.update"
    return "product.update" if "sku" in payload or "handle" in payload else "unknown"


def inventory_record(row: Mapping[str, Any], products: Mapping[str, Mapping[str, Any]] | None = None) -> StockRecord:
    """An inventory row (or ``inventory.update`` payload) is one product at one outlet; X-Series has
    no separate committed count.

    ``current_amount`` is the on-hand count the write-back sets; webhooks say ``count``, older
    payloads ``inventory_level``. Without ``products`` (an incremental read, a webhook) the record
    keys on ``product_id`` with ``sku`` None.
    """
    product_id = str(row["product_id"])
    product = (products or {}).get(product_id) or {}
    amount = next((whole_units(row[k]) for k in ("current_amount", "count", "inventory_level")
                   if whole_units(row.get(k)) is not None), None)
    return StockRecord(
        external_id=product_id, sku=(product.get("sku") or None) if products is not None else None,
        location_external_id=nonblank_id_str(row.get("outlet_id")), on_hand=amount, available=amount,
        inventory_item_id=nonblank_id_str(row.get("id")), updated_at=parse_timestamp(row.get("updated_at")),
        parent_external_id=nonblank_id_str(product.get("variant_parent_id")),
        reorder_point=whole_units(row.get("reorder_point")),
        restock_level=whole_units(row.get("reorder_amount", row.get("restock_level"))))


def product_records(product: Mapping[str, Any]) -> list[StockRecord]:
    """``product.update``: the product's SKU and its count per outlet (no count: the SKU alone)."""
    sku = StockRecord(external_id=str(product["id"]), sku=product.get("sku") or None,
                      updated_at=parse_timestamp(product.get("updated_at") or product.get("created_at")))
    return [replace(sku, location_external_id=nonblank_id_str(level.get("outlet_id")),
                    on_hand=whole_units(level.get("count")), available=whole_units(level.get("count")))
            for level in product.get("inventory") or []] or [sku]


def legacy_status(sale: Mapping[str, Any]) -> str:
    """The ``status`` a sale without one would have had, from its ``state`` and attributes
    (docs/sales_states_and_attributes): pending + ``layby`` is ``LAYBY``, pending alone ``OPEN``."""
    state = str(sale.get("state") or "closed").lower()
    attributes = sale.get("attributes") or sale.get("register_sale_attributes") or []
    if state == "pending":
        return str(attributes[0]).upper() if attributes else "OPEN"
    return "SAVED" if state == "parked" else state.upper()


def sale_record(sale: Mapping[str, Any]) -> OrderRecord | None:
    """A sale as an order whose status says where it stands (module docstring); None when parked."""
    status = str(sale.get("status") or "").upper() or legacy_status(sale)
    if status in PARKED:
        return None
    ours = "cancelled" if status == "VOIDED" or sale.get("deleted_at") else \
        "closed" if status.endswith("CLOSED") else status.lower()
    return OrderRecord(
        external_id=str(sale["id"]), number=str(sale.get("invoice_number") or sale["id"]), email=None, phone=None,
        placed_at=parse_timestamp(sale.get("sale_date") or sale.get("created_at")), customer_name="", status=ours,
        lines=LINES.records(sale.get("line_items") or sale.get("register_sale_products")),
        total_cents=money_cents(sale.get("total_price")), updated_at=parse_timestamp(sale.get("updated_at")))


class LightspeedConnector(LevelWrites, FormWebhookConnector, OrderReads):
    """One X-Series retailer (``https://{domain_prefix}.retail.lightspeed.app``) over API 2.0/2.1."""

    platform: ClassVar[str] = "lightspeed"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.STOCK_WRITE, Capability.ORDERS, Capability.WEBHOOKS})
    api_prefix: ClassVar[str] = "/api/2.0"
    auth = bearer_auth("access_token")
    max_page_size: ClassVar[int | None] = MAX_PAGE_SIZE
    default_page_size: ClassVar[int | None] = DEFAULT_PAGE_SIZE
    write_requests = (1, 0)  # one product update carries every outlet
    orders = API("sales", map=sale_record, page=OrderPage)
    webhooks = FormWebhooks(
        signature_headers=("X-Signature",), topic_headers=(), verify=verify_keyed_hmac, infer_topic=infer_topic,
        kinds={"inventory.update": "inventory_update", "product.update": "sku_modified", "sale.update": "order_created"},
        secret_credential="client_secret", order_record=sale_record,
        stock_records={"inventory_update": inventory_record, "sku_modified": product_records})

    def __init__(self, config: Any, **kwargs: Any) -> None:
        outlets = config.options.get("outlet_ids")
        self.outlet_ids: frozenset[str] | None = frozenset(str(o) for o in outlets) if outlets else None
        super().__init__(config, **kwargs)

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Full fetch learns SKUs from ``/products``, then streams ``/inventory`` from version 0.

        Incremental fetch streams ``/inventory`` after the saved version only. Each page's cursor is
        its ``version.max``: saving it and crashing before the next page loses nothing.
        """
        products = None if since else {str(p["id"]): p for p in self.records(PRODUCTS) if p.get("deleted_at") is None}
        yield from self.read(INVENTORY, since or None, map=lambda row: inventory_record(row, products)
                             if row.get("deleted_at") is None and self._outlet(row.get("outlet_id")) else None)

    def _outlet(self, outlet: Any) -> bool:
        return self.outlet_ids is None or str(outlet) in self.outlet_ids

    def webhook_records(self, kind: WebhookKind, payload: Mapping[str, Any]) -> WebhookRecords:
        """The declared mappings, keeping the configured outlets' figures only (as the polls do)."""
        stock, orders, resources = super().webhook_records(kind, payload)
        return [r for r in stock if r.location_external_id is None or self._outlet(r.location_external_id)], \
            orders, resources

    def push_levels(self, listing: ListingRef, levels: Mapping[str | None, int], backorder: bool) -> list[PushResult]:
        """One ``PUT /api/2.1/products/{id}`` per SKU: ``details.inventory`` is a list of outlets,
        so every outlet's ``current_amount`` travels in the same product update. The amount is
        absolute (a retry converges instead of drifting); ``push_availability`` is one outlet of it.
        ``backorder`` is not sent: X-Series has no such state (module docstring)."""
        written: dict[str | None, int] = {}
        for key, available in levels.items():
            if not (key or self.options.get("default_outlet_id")):
                raise ValueError(f"listing {listing.sku} has no outlet id and no default_outlet_id is configured")
            written[key] = max(0, int(available))
        body = {"details": {"inventory": [{"outlet_id": str(key or self.options["default_outlet_id"]),
                                           "current_amount": amount} for key, amount in written.items()]}}
        response = self.request("PUT", f"{self.base_url}/api/2.1/products/{listing.external_id}", json_body=body)
        return [self.push_result(response, {"product": body, "backorder_requested": backorder}, written)]
