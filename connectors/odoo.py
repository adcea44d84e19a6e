"""Odoo connector: stock per location, purchase orders and their receipts, over the external API
(JSON-RPC, or JSON-2 from Odoo 19), and quantity-on-hand webhooks from an automation rule.

Public docs this follows:

* External API (``POST /jsonrpc`` with ``{"jsonrpc": "2.0", "method": "call", "params":
  {"service": "common", "method": "authenticate", "args": [db, login, api_key, {}]}}`` for the uid,
  then ``{"service": "object", "method": "execute_kw", "args": [db, uid, api_key, model, method,
  args, kwargs]}``); an API key stands in for the password:
  https://www.odoo.com/documentation/18.0/developer/reference/external_api.html
  https://github.com/odoo/documentation/blob/18.0/content/developer/reference/external_rpc_api.rst
  (legacy RPC is deprecated in 19.0 in favour of ``/json/2``; ``common``/``object`` are removed in
  Odoo 22, fall 2028.)
* JSON-2 (new in 19.0): ``POST /json/2/{model}/{method}`` with ``Authorization: bearer <api key>``,
  ``X-Odoo-Database`` and a JSON object of the method's named parameters (``ids``, ``domain``,
  ``fields``, ``vals_list`` …); the answer is the result itself, an error is a 4xx/5xx whose body
  is ``{"name", "message", "arguments", "context", "debug"}``:
  https://www.odoo.com/documentation/19.0/developer/reference/external_api.html . The store's
  ``version`` option (default ``18.0``) picks it: 19 and later speak JSON-2 unless ``api =
  "jsonrpc"`` says otherwise, earlier versions JSON-RPC (they have no ``/json/2``).
* ``purchase.order`` create with ``order_line: [[0, 0, {product_id, product_qty, price_unit,
  date_planned}]]`` (the ``(0, 0, values)`` command creates a line), then ``button_confirm``:
  https://www.odoo.com/documentation/18.0/developer/reference/backend/orm.html#odoo.fields.Command
* Errors over JSON-RPC: HTTP 200 with ``{"error": {"code": 200, "message": "Odoo Server Error",
  "data": {"name": "odoo.exceptions.UserError", "message", "arguments", "debug", "context"}}}``
  (``odoo/http.py`` ``serialize_exception``); a refused API key on ``execute_kw`` is
  ``odoo.exceptions.AccessDenied``, while ``authenticate`` answers ``false``.
* Stock: ``stock.quant`` (``product_id``, ``location_id``, ``quantity``, ``reserved_quantity``,
  ``write_date``), one per product, location, lot, package and owner, in locations whose ``usage``
  is ``internal`` (a warehouse's ``WH/Stock`` and its sub-locations):
  https://github.com/odoo/odoo/blob/18.0/addons/stock/models/stock_quant.py
* Automation rules' "Send Webhook Notification" action POSTs the record's chosen fields with
  ``_id``, ``_model`` and ``_action`` as JSON to a URL, and signs nothing:
  https://www.odoo.com/documentation/18.0/applications/studio/automated_actions.html (the payload:
  ``_run_action_webhook``, https://github.com/odoo/odoo/blob/18.0/odoo/addons/base/models/ir_actions.py)

**Stock per location.** A product's quantity at a location is the sum of its quants there:
``quantity`` on hand, ``reserved_quantity`` committed, available = on hand − reserved. A read
first asks the newest ``write_date`` of the internal quants (the cursor it will leave: any later
change is at or after it), then the products it covers: every product with an Internal Reference
(``default_code`` = our SKU) for a full read, else those whose quants changed at or after the
cursor (``write_date >=``: the boundary second is read again, the upsert absorbs it). Each
product is reported at every internal location (``location_ids`` option, else all of them), 0
where it has no quant — a quant emptied and removed by Odoo leaves no trace an increment could
see, which is why the product is reported at all its locations and why a periodic full read
stays useful. ``write_date`` is the UTC text of the server's transaction start, so a long
transaction that commits late can fall behind the cursor; keep a ``full_sync_interval``.

**Webhooks** (seed §3.14): an automation rule on ``stock.quant`` (trigger: Quantity on hand is
updated) whose action is "Send Webhook Notification" to ``{PUBLIC_BASE_URL}/webhooks/{store}?token=…``
with the fields ``product_id``, ``location_id`` and ``quantity``. Odoo signs nothing and cannot add
a header, so the declarative scheme (``connectors.declarative``, defaults :data:`WEBHOOKS`, overridden
by the store's ``options.webhooks``) checks the store's secret in the address's ``token`` parameter
(``encoding = "secret"``); a proxy that adds a header may send it as ``X-Odoo-Webhook-Token``
instead (``signature_header``). A delivery names one quant; one quant is not the location's figure
(lots and packages split it), so the event names the product and location
(``thin_webhooks``) and the drain reads their quants (:meth:`OdooConnector.resolve_webhook`). The
dedupe key is the body's hash: a repeated delivery is the same body.

Idempotency: our PO number is written as the vendor reference (``partner_ref``) and as ``origin``;
:meth:`OdooConnector.create_purchase_order` searches ``purchase.order`` by ``partner_ref`` first and
creates only when nothing matches (``tasks.po_send`` holds the PO row lock, so two sends never
race). A PO takes two writes, ``create`` then ``button_confirm``, and the answer to either may be
lost, so a retry finishes what the first attempt began: a PO found in ``draft`` or ``sent`` (RFQ
states) is confirmed before it is returned; one in ``to approve``, ``purchase`` or ``done`` is left
as it is, and a ``cancel``-led one is refused (someone cancelled it in Odoo).

Mapping assumptions (docs/sandbox.md too): the vendor is the ``res.partner`` whose ``ref`` is our
vendor key; products are ``product.product`` with ``default_code`` (the "Internal Reference") = our
SKU; locations are ``stock.location`` ids (``stores discover`` maps the internal ones).

Credentials: ``database``, ``login``, ``api_key``. Options: ``version``, ``api``,
``confirm_purchase_orders`` (default true), ``page_size`` (products per page), ``location_ids``,
``webhooks``. JSON-RPC calls are not REST paging, so none is a declared stream. The protocol
(credentials, JSON-RPC or JSON-2, error objects classified by the exception they name) is
:class:`connectors.model_rpc.ModelRpcConnector`'s; the quants are summed per location by
:func:`connectors.records.located_stock`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar, Iterator, Mapping

from connectors.base import Capability, ModelRpcConnector, all_found, located_stock, with_last_flag
from connectors.declarative import DeclaredWebhooks
from connectors.errors import PermanentError
from connectors.streams import chunks
from connectors.types import ErpResult, PurchaseOrderRequest, ReceiptLine, StockPage, StockRecord, WebhookEvent

#: Odoo's request-for-quotation states: a PO in one of them has not been confirmed yet.
RFQ_STATES = frozenset({"draft", "sent"})
AUTH_ERRORS = frozenset({"odoo.exceptions.AccessDenied", "odoo.exceptions.AccessError"})
#: Server-side conditions a later attempt can pass (concurrent-update conflicts). Not
#: ``psycopg2.OperationalError``: that is also what an unknown database name answers, which no retry
#: fixes. HTTP 5xx from a proxy or a restarting worker is transient through the shared classifier.
TRANSIENT_ERROR_NAMES = frozenset({
    "psycopg2.errors.SerializationFailure", "psycopg2.errors.LockNotAvailable",
    "psycopg.errors.SerializationFailure", "psycopg.errors.LockNotAvailable",
    "werkzeug.exceptions.ServiceUnavailable",
})
INTERNAL = ["location_id.usage", "=", "internal"]
#: What the automation rule's webhook action sends unless ``options.webhooks`` says otherwise.
WEBHOOKS = {"encoding": "secret", "signature_param": "token", "signature_header": "X-Odoo-Webhook-Token",
            "topic_field": "_model", "topics": {"stock.quant": "inventory_update", "product.product": "sku_modified"}}


def ref(value: Any) -> int:
    """A many2one as ``read`` shows it (``[id, name]``) or as the webhook sends it (the id)."""
    return int(value[0] if isinstance(value, list) else value)


class OdooConnector(DeclaredWebhooks, ModelRpcConnector):
    """One Odoo database over the external API (JSON-RPC, or JSON-2 from version 19)."""

    platform: ClassVar[str] = "odoo"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.PURCHASE_ORDERS, Capability.RECEIPTS, Capability.WEBHOOKS})
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.STOCK_WRITE: "odoo is not a sales channel in this product"}
    option_defaults: ClassVar[Mapping[str, Any]] = {"version": "18.0", "confirm_purchase_orders": True}
    json2_from: ClassVar[int | None] = 19
    auth_error_names: ClassVar[frozenset[str]] = AUTH_ERRORS
    transient_error_names: ClassVar[frozenset[str]] = TRANSIENT_ERROR_NAMES
    max_page_size: ClassVar[int | None] = 500
    default_page_size: ClassVar[int | None] = 200
    thin_webhooks: ClassVar[bool] = True
    webhook_defaults: ClassVar[Mapping[str, Any] | None] = WEBHOOKS
    _places: list[int] | None = None

    def codes(self, products: list[int]) -> dict[int, str]:
        """Each product's Internal Reference (our SKU), for those that have one."""
        rows = self.read_records("product.product", products, ["default_code"])
        return {int(r["id"]): str(r["default_code"]) for r in rows if r.get("default_code")}

    # --- stock ------------------------------------------------------------------------------

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Every coded product (``since`` None) or those whose quants changed since the cursor, at
        every internal location, a page of products at a time; the last page moves the cursor."""
        newest = self.search_read("stock.quant", [INTERNAL], ["write_date"], limit=1, order="write_date desc")
        high = str(newest[0]["write_date"]) if newest else since
        if since:
            changed = self.search_read("stock.quant", [INTERNAL, ["write_date", ">=", since]], ["product_id"])
            products = sorted({ref(row["product_id"]) for row in changed})
        else:
            products = [int(row["id"]) for row in self.search_read(
                "product.product", [["default_code", "!=", False]], ["id"], order="id")]
        for page, last in with_last_flag(iter(list(chunks(products, self.page_size)) or [[]])):
            yield StockPage(self.stock_records(page, self.places()), high if last else since)

    def places(self) -> list[int]:
        """The ``location_ids`` option, else every internal location (read once)."""
        if self._places is None:
            self._places = [int(p) for p in self.options.get("location_ids") or []] or [int(row["id"]) for row in
                self.search_read("stock.location", [["usage", "=", "internal"]], ["id"], order="id")]
        return self._places

    def stock_records(self, products: list[int], places: list[int]) -> list[StockRecord]:
        """Each product at each of ``places``: its quants there summed (0 where it has none)."""
        if not products:
            return []
        codes = self.codes(products)
        domain = [INTERNAL, ["product_id", "in", products], ["location_id", "in", places]]
        quants = self.search_read("stock.quant", domain, ["product_id", "location_id", "quantity", "reserved_quantity"])
        return located_stock({p: codes[p] for p in products if p in codes}, places, quants,
                             lambda q: (ref(q["product_id"]), ref(q["location_id"])), "quantity", "reserved_quantity")

    # --- webhooks: the automation rule's notification, in the declarative scheme ------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """The product (and location) a quant or product notification names; its figures are read later."""
        event = super().parse_webhook(headers, body)
        named = [f"{r.inventory_item_id}@{r.location_external_id or ''}" for r in event.stock]
        return replace(event, stock=[], resource_ids=named)

    def webhook_stock(self, row: Mapping[str, Any]) -> StockRecord:
        product = ref(row["product_id"]) if row.get("_model") == "stock.quant" else int(row["_id"])
        place = str(ref(row["location_id"])) if row.get("location_id") else None
        return StockRecord(external_id=str(product), inventory_item_id=str(product), location_external_id=place)

    def resolve_webhook(self, event: WebhookEvent) -> WebhookEvent:
        """The named products at the named location (every one we read for a product notification);
        a quant elsewhere (a customer or vendor location a transfer also wrote) names nothing."""
        stock, places = [], self.places()
        for named in event.resource_ids:
            product, _, place = named.partition("@")
            wanted = [int(place)] if place else places
            stock += self.stock_records([int(product)], [p for p in wanted if p in places])
        return replace(event, stock=stock, resource_ids=event.resource_ids if stock else [])

    # --- purchase orders --------------------------------------------------------------------

    def create_purchase_order(self, po: PurchaseOrderRequest) -> ErpResult:
        """Create (and confirm) the PO unless one with our number as ``partner_ref`` exists."""
        existing = self.find_purchase_order(po.number)
        if existing is not None:
            return self.finish_existing(existing)
        values = self.purchase_order_values(po)
        new_id = self.create("purchase.order", values)
        if self.options["confirm_purchase_orders"]:
            self.execute_kw("purchase.order", "button_confirm", [[new_id]], safe=False)
        return ErpResult(external_id=str(new_id), created=True, detail=f"purchase.order {new_id}", request=values)

    def finish_existing(self, existing: Mapping[str, Any]) -> ErpResult:
        """An earlier attempt's PO, confirmed now if that attempt stopped between its two writes."""
        po_id, name, state = int(existing["id"]), existing.get("name"), existing.get("state")
        if state == "cancel":
            raise PermanentError(f"odoo: purchase.order {name} for {existing.get('partner_ref')} was cancelled "
                                 f"in Odoo; not confirming it again", platform=self.platform)
        if self.options["confirm_purchase_orders"] and state in RFQ_STATES:
            self.execute_kw("purchase.order", "button_confirm", [[po_id]], safe=False)
            return ErpResult(external_id=str(po_id), created=False,
                             detail=f"purchase.order {name} existed as an RFQ ({state}); confirmed it")
        return ErpResult(external_id=str(po_id), created=False, detail=f"purchase.order {name} exists ({state})")

    def find_purchase_order(self, number: str) -> dict[str, Any] | None:
        rows = self.search_read("purchase.order", [["partner_ref", "=", number]],
                                ["id", "name", "state", "partner_ref"], limit=1, order="id")
        return rows[0] if rows else None

    def fetch_receipts(self, numbers: list[str]) -> list[ReceiptLine]:
        """Received-so-far per line of our POs (found by ``partner_ref``): ``purchase.order.line``
        ``qty_received`` is what validated receipts moved in against each line."""
        wanted = sorted(set(numbers))
        orders = self.search_read("purchase.order", [["partner_ref", "in", wanted]], ["id", "partner_ref"],
                                  order="id") if wanted else []
        number_of = {int(row["id"]): str(row["partner_ref"]) for row in orders}
        if not number_of:
            return []
        lines = [line for line in self.search_read(
            "purchase.order.line", [["order_id", "in", sorted(number_of)]],
            ["order_id", "product_id", "product_qty", "qty_received"], order="id") if line.get("product_id")]
        codes = self.codes(sorted({int(line["product_id"][0]) for line in lines}))
        return [ReceiptLine(po_number=number_of[int(line["order_id"][0])], sku=codes[int(line["product_id"][0])],
                            ordered=int(float(line.get("product_qty") or 0)),
                            received=int(float(line.get("qty_received") or 0)))
                for line in lines if int(line["product_id"][0]) in codes]

    def purchase_order_values(self, po: PurchaseOrderRequest) -> dict[str, Any]:
        """``purchase.order`` create values; the partner and products must already exist in Odoo."""
        partner_id = self.partner_id(po.vendor_ref)
        products = self.product_ids([line.sku for line in po.lines])
        lines = []
        for line in po.lines:
            values: dict[str, Any] = {"product_id": products[line.sku], "product_qty": line.quantity,
                                      "price_unit": line.unit_cost_cents / 100,
                                      "name": f"[{line.sku}] {line.title}" if line.title else line.sku}
            planned = line.expected_date or po.expected_date
            if planned:
                values["date_planned"] = f"{planned} 00:00:00"
            lines.append([0, 0, values])
        return {"partner_id": partner_id, "partner_ref": po.number, "origin": po.number, "order_line": lines}

    def partner_id(self, vendor_ref: str) -> int:
        for row in self.search_read("res.partner", [["ref", "=", vendor_ref]], ["id", "name"], limit=1):
            return int(row["id"])
        raise PermanentError(f"odoo: no partner with reference {vendor_ref!r}; set the vendor's "
                             f"Reference in Odoo to our vendor key", platform=self.platform)

    def product_ids(self, skus: list[str]) -> dict[str, int]:
        wanted = sorted(set(skus))
        if not wanted:
            raise PermanentError("odoo: a purchase order needs at least one line", platform=self.platform)
        rows = self.search_read("product.product", [["default_code", "in", wanted]], ["id", "default_code"])
        return all_found(wanted, ((str(row["default_code"]), int(row["id"])) for row in rows),
                         lambda missing: PermanentError(f"odoo: no product with internal reference "
                                                        f"{', '.join(missing)}", platform=self.platform))
