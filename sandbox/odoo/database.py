"""The Odoo stand-in's declarations: one database's records and credentials, Odoo's errors, the kit.

Credentials are not a header here: every JSON-RPC call carries them in its arguments, so the kit's
``auth`` lets every request in and :mod:`sandbox.odoo.rpc` checks them per call, as Odoo does.
Errors use Odoo's JSON-RPC envelope (``odoo/http.py`` ``serialize_exception``), answered with HTTP
200. An injected fault is what a proxy in front of Odoo answers when a worker is down: an HTML
page with that status; its ``call`` option matches the ``model.method`` a request calls.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import HTMLResponse

from sandbox.kit import Call, Fault, KitState, StandIn, any_fault

DEFAULTS = {"database": "odoo_sandbox", "login": "purchasing@example.com", "api_key": "odoo_sandbox_api_key"}
#: The login's password: what ``/web/session/authenticate`` takes (Odoo refuses API keys there).
DEFAULT_PASSWORD = "odoo_sandbox_password"
UID = 2
SERVER_VERSION = "18.0"
MODELS = ("res.partner", "product.product", "purchase.order", "purchase.order.line")
MANY2ONE = {"partner_id": "res.partner", "product_id": "product.product", "order_id": "purchase.order"}
#: What a proxy in front of Odoo answers when a worker is down: the body of every injected fault.
UNAVAILABLE_PAGE = "<html><body><h1>503 Service Unavailable</h1></body></html>"


@dataclass
class RpcError(Exception):
    """An exception Odoo would serialize into the JSON-RPC ``error`` object."""

    name: str
    message: str

    def body(self) -> dict[str, Any]:
        return {"code": 200, "message": "Odoo Server Error",
                "data": {"name": self.name, "message": self.message, "arguments": [self.message], "context": {},
                         "debug": f"Traceback (most recent call last):\n{self.name}: {self.message}"}}


def access_denied() -> RpcError:
    return RpcError("odoo.exceptions.AccessDenied", "Access Denied")


def missing(model: str, ids: list[int]) -> RpcError:
    return RpcError("odoo.exceptions.MissingError", "Record does not exist or has been deleted.\n"
                    f"(Record: {model}({', '.join(str(i) for i in ids)},), User: {UID})")


@dataclass
class OdooState(KitState):
    """One Odoo database: credentials, records per model, the purchase order sequence."""

    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    password: str = DEFAULT_PASSWORD
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=lambda: {m: {} for m in MODELS})
    sequence: int = 0

    def add(self, model: str, values: dict[str, Any]) -> dict[str, Any]:
        table = self.records[model]
        record = {"id": max(table, default=0) + 1, **values}
        table[record["id"]] = record
        return record

    def display_name(self, model: str, record_id: int) -> str:
        return str(self.records[model].get(record_id, {}).get("name") or f"{model},{record_id}")


def parse_fault(payload: dict[str, Any]) -> Fault:
    """The next ``count`` JSON-RPC requests answer HTTP ``status`` (a proxy or worker failure).

    ``call`` (``"purchase.order.create"``) limits the fault to one model method; ``after_apply``
    lets Odoo perform the call and only spoils the answer — ``status`` (a proxy's 502 after the
    worker committed) and/or ``delay_s`` (a read timeout): the lost-reply case a retry must finish.
    """
    return any_fault({"status": payload.get("status"), "count": payload.get("count", 1), "delay_s":
                      payload.get("delay_s", 0), "path_contains": payload.get("call"),
                      "after_apply": payload.get("after_apply")})


def rpc_call(call: Call[Any]) -> str:
    """``model.method`` of an ``execute_kw`` request (``service.method`` for the others)."""
    params = call.body.get("params") if isinstance(call.body, dict) else None
    if not isinstance(params, dict):
        return ""
    args = params.get("args") or []
    object_call = params.get("service") == "object" and len(args) > 4
    return f"{args[3]}.{args[4]}" if object_call else f"{params.get('service')}.{params.get('method')}"


kit: StandIn[OdooState] = StandIn(
    "odoo", "", OdooState, auth=lambda call: None,
    error_body=lambda status: HTMLResponse(UNAVAILABLE_PAGE, status_code=status),
    parse_fault=parse_fault, fault_target=rpc_call)
