"""The Odoo stand-in's declarations: one database's records and credentials, Odoo's errors, the kit.

Credentials are not a header here: every JSON-RPC call carries them in its arguments, so the kit's
``auth`` lets every request in and :mod:`sandbox.odoo.rpc` checks them per call, as Odoo does.
Errors use Odoo's JSON-RPC envelope (``odoo/http.py`` ``serialize_exception``), answered with HTTP
200 (the kit's :class:`~sandbox.kit.model_rpc.ServerError`). An injected fault is what a proxy in front of Odoo answers when a worker is down: an HTML
page with that status; its ``call`` option matches the ``model.method`` a request calls.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import HTMLResponse

from sandbox.kit import KitState, StandIn
from sandbox.kit.jsonrpc import method_fault
from sandbox.kit.model_rpc import ServerError, called
from sandbox.kit.records import ModelRecords

DEFAULTS = {"database": "odoo_sandbox", "login": "purchasing@example.com", "api_key": "odoo_sandbox_api_key"}
#: The login's password: what ``/web/session/authenticate`` takes (Odoo refuses API keys there).
DEFAULT_PASSWORD = "odoo_sandbox_password"
UID = 2
SERVER_VERSION = "18.0"
MODELS = ("res.partner", "product.product", "purchase.order", "purchase.order.line", "stock.warehouse",
          "stock.location", "stock.quant")
MANY2ONE = {"partner_id": "res.partner", "product_id": "product.product", "order_id": "purchase.order",
            "warehouse_id": "stock.warehouse", "lot_stock_id": "stock.location", "location_id": "stock.location"}
#: ``ir.model``'s name of a model (Odoo shows the technical name where it has none), and the group
#: that may read a model, by its module: the AccessError of a user without it names both
#: (``ir.model.access`` ``check``, https://github.com/odoo/odoo/blob/18.0/odoo/addons/base/models/ir_model.py).
KINDS = {"product.product": "Product Variant", "stock.quant": "Quants", "stock.warehouse": "Warehouse",
         "stock.location": "Inventory Locations", "purchase.order": "Purchase Order", "res.partner": "Contact"}
READERS = {"stock": "Inventory / User", "purchase": "Purchase / User"}


#: Odoo's serialized exception (``sandbox.kit.model_rpc``).
RpcError = ServerError


def access_error(model: str) -> RpcError:
    """What reading ``model`` answers to a user whose groups have no access right on it."""
    kind, group = KINDS.get(model, model), READERS.get(model.split(".")[0], "User types / Internal User")
    return RpcError("odoo.exceptions.AccessError", f"You are not allowed to access '{kind}' ({model}) records.\n\n"
                    f"This operation is allowed for the following groups:\n\t- {group}\n\n"
                    "Contact your administrator to request access if necessary.")


def missing(model: str, ids: list[int]) -> RpcError:
    return RpcError("odoo.exceptions.MissingError", "Record does not exist or has been deleted.\n"
                    f"(Record: {model}({', '.join(str(i) for i in ids)},), User: {UID})")


@dataclass
class OdooState(KitState, ModelRecords):
    """One Odoo database: credentials, records per model (``add`` is the kit's), the purchase order sequence."""

    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    password: str = DEFAULT_PASSWORD
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=lambda: {m: {} for m in MODELS})
    sequence: int = 0
    #: Models the API user's groups may not read (``_admin/seed`` ``denied_models``).
    denied: set[str] = field(default_factory=set)
    #: The server's version (``_admin/seed`` ``version``): 19 and later also serve ``/json/2``.
    version: str = SERVER_VERSION
    #: The automation rule on ``stock.quant`` whose "Send Webhook Notification" action posts each
    #: quantity change: ``{"url", "fields"}`` (``_admin/automation``), None when there is none.
    automation: dict[str, Any] | None = None

    def display_name(self, model: str, record_id: int) -> str:
        record = self.records[model].get(record_id, {})
        return str(record.get("complete_name") or record.get("name") or f"{model},{record_id}")

    def add_warehouse(self, name: str, code: str) -> dict[str, Any]:
        """A warehouse as Odoo makes one: a ``view`` location named by its code, and under it the
        ``internal`` location ``CODE/Stock`` that its ``lot_stock_id`` points at."""
        warehouse = self.add("stock.warehouse", {"name": name, "code": code})
        place = {"warehouse_id": warehouse["id"], "complete_name": code, "name": code, "location_id": False}
        view = self.add("stock.location", {**place, "usage": "view"})
        stock = self.add("stock.location", {**place, "usage": "internal", "location_id": view["id"], "name": "Stock",
                                            "complete_name": f"{code}/Stock"})
        warehouse.update(view_location_id=view["id"], lot_stock_id=stock["id"])
        return warehouse


#: An injected fault's body is what a proxy in front of Odoo answers when a worker is down.
kit: StandIn[OdooState] = StandIn(
    "odoo", "", OdooState, auth=lambda call: None,
    error_body=lambda status: HTMLResponse("<html><body><h1>503 Service Unavailable</h1></body></html>", status),
    parse_fault=method_fault, fault_target=called)
