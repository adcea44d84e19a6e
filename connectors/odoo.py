"""Odoo connector: purchase orders through the external API over JSON-RPC.

Public docs this follows:

* External API (``POST /jsonrpc`` with ``{"jsonrpc": "2.0", "method": "call", "params":
  {"service": "common", "method": "authenticate", "args": [db, login, api_key, {}]}}`` for the uid,
  then ``{"service": "object", "method": "execute_kw", "args": [db, uid, api_key, model, method,
  args, kwargs]}``); an API key stands in for the password:
  https://www.odoo.com/documentation/18.0/developer/reference/external_api.html
  https://github.com/odoo/documentation/blob/18.0/content/developer/reference/external_rpc_api.rst
  (legacy RPC is deprecated in 19.0 in favour of ``/json/2``; ``common``/``object`` are removed in
  Odoo 22, fall 2028 — this module speaks the protocol 17, 18 and 19 all serve.)
* ``purchase.order`` create with ``order_line: [[0, 0, {product_id, product_qty, price_unit,
  date_planned}]]`` (the ``(0, 0, values)`` command creates a line), then ``button_confirm``:
  https://www.odoo.com/documentation/18.0/developer/reference/backend/orm.html#odoo.fields.Command
* Errors: the answer is HTTP 200 with ``{"error": {"code": 200, "message": "Odoo Server Error",
  "data": {"name": "odoo.exceptions.UserError", "message", "arguments", "debug", "context"}}}``
  (``odoo/http.py`` ``serialize_exception``); a refused API key on ``execute_kw`` is
  ``odoo.exceptions.AccessDenied``, while ``authenticate`` answers ``false``.

Idempotency: our PO number is written as the vendor reference (``partner_ref``) and as ``origin``;
:meth:`OdooConnector.create_purchase_order` searches ``purchase.order`` by ``partner_ref`` first and
creates only when nothing matches. That search-then-create is not atomic in Odoo, so the caller
must not run two sends of one PO at once (``tasks.po_send`` holds the PO row lock); a create whose
answer was lost (:class:`OutcomeUnknownError`) is found by the search on the retry.

A PO takes two writes, ``create`` then ``button_confirm``, and the answer to either may be lost (a
probe dropped the reply to ``create``: the retry found the PO by ``partner_ref`` and returned, so
it was marked sent here while Odoo kept a draft RFQ the vendor never received as an order). So the
retry finishes what the first attempt began: a PO found in ``draft`` or ``sent`` (RFQ states) is
confirmed before it is returned; one in ``to approve`` (Odoo's own approval step), ``purchase`` or
``done`` is left as it is, and a ``cancel``-led one is refused (someone cancelled it in Odoo).

Mapping assumptions (documented in docs/sandbox.md too): the vendor is the ``res.partner`` whose
``ref`` (the "Reference" field) is our vendor key; products are ``product.product`` with
``default_code`` (the "Internal Reference") = our SKU.

Credentials: ``database``, ``login``, ``api_key``. Options: ``confirm_purchase_orders`` (default
true: the PO is approved on our side, so it is confirmed in Odoo rather than left as an RFQ).

Stock polling from Odoo (``stock.quant``) is not part of this module yet: :meth:`fetch_stock`
refuses clearly, and so do the channel methods (Odoo is a back office here, not a sales channel).

How it is built: the calls go through :class:`~connectors.rpc.JsonRpcConnector` (the JSON-RPC
envelope and error object, on the shared request, retry and pacing of ``connectors.http``);
refusals are declared (``refusals``). None of them is a declared stream, on purpose: JSON-RPC is not
REST paging (``offset``/``limit`` would travel inside ``execute_kw``'s arguments, not in a query
string), and no call here walks a collection — each ``search_read`` is bounded by our own PO numbers,
their lines or their products, and Odoo answers it whole when no ``limit`` is given.
"""
from __future__ import annotations

from typing import Any, ClassVar, Mapping

from connectors.base import Capability, all_found
from connectors.errors import AuthError, PermanentError, TransientError
from connectors.rpc import JsonRpcConnector
from connectors.types import ErpResult, PurchaseOrderRequest, ReceiptLine

#: Odoo's request-for-quotation states: a PO in one of them has not been confirmed yet.
RFQ_STATES = frozenset({"draft", "sent"})
AUTH_ERRORS = frozenset({"odoo.exceptions.AccessDenied", "odoo.exceptions.AccessError"})
TRANSIENT_ERROR_NAMES = frozenset({
    "psycopg2.errors.SerializationFailure", "psycopg2.errors.LockNotAvailable",
    "psycopg.errors.SerializationFailure", "psycopg.errors.LockNotAvailable",
    "werkzeug.exceptions.ServiceUnavailable",
})
"""Server-side conditions a later attempt can pass (concurrent-update conflicts). Not
``psycopg2.OperationalError``: that is also what an unknown database name answers, which no retry
fixes. HTTP 5xx from a proxy or a restarting worker is transient through the shared classifier."""


def rpc_error(error: Mapping[str, Any], *, what: str) -> Exception:
    """The error a JSON-RPC ``error`` object means: auth, transient (server trouble) or permanent.

    The message is Odoo's own ``data.message`` (``"Access Denied"``, a ``UserError`` text …), not
    the generic ``"Odoo Server Error"`` around it.
    """
    data: Mapping[str, Any] = error["data"] if isinstance(error.get("data"), Mapping) else {}
    name = str(data.get("name") or "")
    message = str(data.get("message") or error.get("message") or "unknown error")
    detail = f"odoo {what}: {message}" + (f" ({name})" if name else "")
    kind = AuthError if name in AUTH_ERRORS else TransientError if name in TRANSIENT_ERROR_NAMES \
        else PermanentError
    return kind(detail, platform="odoo", body=str(error)[:2000])


class OdooConnector(JsonRpcConnector):
    """One Odoo database over the legacy external API (JSON-RPC)."""

    platform: ClassVar[str] = "odoo"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.PURCHASE_ORDERS, Capability.RECEIPTS})
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.STOCK_READ: "stock polling from Odoo is not configured (this connector only creates "
                               "purchase orders)",
        Capability.STOCK_WRITE: "odoo is not a sales channel in this product",
        Capability.WEBHOOKS: "odoo webhooks are not configured for this product"}

    def __init__(self, config: Any, **kwargs: Any) -> None:
        creds = config.credentials
        self.database = creds.get("database") or config.options.get("database") or ""
        self.login = creds.get("login") or creds.get("username") or ""
        self.api_key = creds.get("api_key") or creds.get("password") or ""
        if not (self.database and self.login and self.api_key):
            raise ValueError("odoo credentials need database, login and api_key")
        self.confirm = bool(config.options.get("confirm_purchase_orders", True))
        self._uid: int | None = None
        super().__init__(config, **kwargs)

    # --- JSON-RPC ---------------------------------------------------------------------------

    def rpc_error(self, error: Mapping[str, Any], what: str) -> Exception:
        return rpc_error(error, what=what)

    def call(self, service: str, method: str, args: list[Any], *, safe: bool = True) -> Any:
        """One ``call`` of a service method; ``safe`` reads are retried on 5xx/timeouts, writes only on 429."""
        what = f"{args[3]}.{args[4]}" if service == "object" and len(args) > 4 else f"{service}.{method}"
        return self.rpc("call", {"service": service, "method": method, "args": args}, safe=safe, what=what)

    def uid(self) -> int:
        """The user id for the API key, fetched once per connector (``authenticate`` → false on refusal)."""
        if self._uid is None:
            result = self.call("common", "authenticate", [self.database, self.login, self.api_key, {}])
            if not isinstance(result, int) or isinstance(result, bool) or result <= 0:
                raise AuthError(f"odoo: authentication refused for login {self.login!r} on database "
                                f"{self.database!r} (wrong database, login or API key)", platform=self.platform)
            self._uid = result
        return self._uid

    def execute_kw(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None,
                   *, safe: bool = True) -> Any:
        return self.call("object", "execute_kw",
                         [self.database, self.uid(), self.api_key, model, method, args, kwargs or {}], safe=safe)

    def search_read(self, model: str, domain: list[Any], fields: list[str], **kwargs: Any) -> list[dict[str, Any]]:
        """``search_read`` (a read: retried on 5xx/timeouts); ``kwargs`` are ``limit``, ``order`` …"""
        return list(self.execute_kw(model, "search_read", [domain], {"fields": fields, **kwargs}) or [])

    # --- purchase orders --------------------------------------------------------------------

    def create_purchase_order(self, po: PurchaseOrderRequest) -> ErpResult:
        """Create (and confirm) the PO unless one with our number as ``partner_ref`` exists."""
        existing = self.find_purchase_order(po.number)
        if existing is not None:
            return self.finish_existing(existing)
        values = self.purchase_order_values(po)
        new_id = self.execute_kw("purchase.order", "create", [values], safe=False)
        if isinstance(new_id, list):
            new_id = new_id[0]
        if self.confirm:
            self.execute_kw("purchase.order", "button_confirm", [[new_id]], safe=False)
        return ErpResult(external_id=str(new_id), created=True, detail=f"purchase.order {new_id}", request=values)

    def finish_existing(self, existing: Mapping[str, Any]) -> ErpResult:
        """An earlier attempt's PO, confirmed now if that attempt stopped between its two writes."""
        po_id, name, state = int(existing["id"]), existing.get("name"), existing.get("state")
        if state == "cancel":
            raise PermanentError(f"odoo: purchase.order {name} for {existing.get('partner_ref')} was cancelled "
                                 f"in Odoo; not confirming it again", platform=self.platform)
        if self.confirm and state in RFQ_STATES:
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
        product_ids = sorted({int(line["product_id"][0]) for line in lines})
        codes = {int(row["id"]): str(row["default_code"]) for row in self.execute_kw(
            "product.product", "read", [product_ids], {"fields": ["default_code"]}) or []} if product_ids else {}
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
