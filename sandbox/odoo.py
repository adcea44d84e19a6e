"""Odoo external API stand-in (legacy JSON-RPC), served at ``/odoo/{instance}/jsonrpc``.

Follows the docs the connector follows (connectors/odoo.py lists them):

* ``POST /jsonrpc`` with ``{"jsonrpc": "2.0", "method": "call", "params": {"service", "method",
  "args"}, "id"}``; answers HTTP 200 with ``{"jsonrpc": "2.0", "id", "result"}`` or ``"error"``;
* ``common.authenticate(db, login, api_key, user_agent_env)`` → the uid, or ``false`` when the
  login or key is wrong; ``common.version()``; an unknown database is a ``psycopg2.OperationalError``
  (what a multi-database server answers);
* ``object.execute_kw(db, uid, api_key, model, method, args, kwargs)`` re-checks the key on every
  call (a wrong one → ``odoo.exceptions.AccessDenied`` "Access Denied"), for ``res.partner``,
  ``product.product``, ``purchase.order`` and ``purchase.order.line``: ``search``, ``search_read``,
  ``search_count``, ``read``; ``purchase.order`` also ``create`` (``order_line`` ``(0, 0, vals)``
  commands; a dict argument returns the id, a list returns ids), ``button_confirm`` (an RFQ in
  ``draft``/``sent`` becomes ``purchase``) and ``button_cancel``;
* errors use Odoo's envelope ``{"code": 200, "message": "Odoo Server Error", "data": {"name",
  "debug", "message", "arguments", "context"}}`` (``odoo/http.py`` ``serialize_exception``);
  many2one fields read as ``[id, display_name]``; domains are lists of ``[field, op, value]``
  (``=``, ``!=``, ``in``, ``not in``, ``ilike``, ``>``, ``<``) joined by AND.

Admin endpoints (``/odoo/{instance}/_admin/…``) are documented in ``docs/sandbox.md``.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from sandbox.common import Fault, Instances, PlatformState, add_fault_routes, add_request_log_routes

DEFAULTS = {"database": "odoo_sandbox", "login": "purchasing@example.com", "api_key": "odoo_sandbox_api_key"}
UID = 2
SERVER_VERSION = "18.0"
MODELS = ("res.partner", "product.product", "purchase.order", "purchase.order.line")
MANY2ONE = {"partner_id": "res.partner", "product_id": "product.product", "order_id": "purchase.order"}
#: What a proxy in front of Odoo answers when a worker is down: the body of every injected fault.
UNAVAILABLE_PAGE = "<html><body><h1>503 Service Unavailable</h1></body></html>"


class RpcError(Exception):
    """An exception Odoo would serialize into the JSON-RPC ``error`` object."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"code": 200, "message": "Odoo Server Error",
                "data": {"name": self.name, "debug": f"Traceback (most recent call last):\n{self.name}: {self.message}",
                         "message": self.message, "arguments": [self.message], "context": {}}}


def access_denied() -> RpcError:
    return RpcError("odoo.exceptions.AccessDenied", "Access Denied")


def missing(model: str, ids: list[int]) -> RpcError:
    return RpcError("odoo.exceptions.MissingError", "Record does not exist or has been deleted.\n"
                    f"(Record: {model}({', '.join(str(i) for i in ids)},), User: {UID})")


@dataclass
class OdooState(PlatformState):
    """One Odoo database: credentials, records per model, faults and a request log."""

    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=lambda: {m: {} for m in MODELS})
    sequence: int = 0

    def reset(self) -> None:
        self.records = {m: {} for m in MODELS}
        self.sequence = 0

    def add(self, model: str, values: dict[str, Any]) -> dict[str, Any]:
        table = self.records[model]
        record = {"id": max(table, default=0) + 1, **values}
        table[record["id"]] = record
        return record

    def display_name(self, model: str, record_id: int) -> str:
        record = self.records[model].get(record_id) or {}
        return str(record.get("display_name") or record.get("name") or f"{model},{record_id}")


def _matches(record: dict[str, Any], domain: list[Any]) -> bool:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "in": lambda a, b: a in b,
        "not in": lambda a, b: a not in b, ">": lambda a, b: a is not None and a > b,
        "<": lambda a, b: a is not None and a < b,
        "ilike": lambda a, b: str(b).lower() in str(a or "").lower(),
    }
    for term in domain:
        if term in ("&",):
            continue
        if not isinstance(term, (list, tuple)) or len(term) != 3 or term[1] not in ops:
            raise RpcError("builtins.ValueError", f"Invalid leaf {term!r}")
        name, op, value = term
        current = record.get(name)
        if isinstance(current, list) and name in MANY2ONE:
            current = current[0]
        if not ops[op](current, value):
            return False
    return True


def read_view(state: OdooState, model: str, record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """A record as ``read`` shows it: many2one as ``[id, name]``, one2many as ids, internals hidden."""
    view = {}
    for name, value in record.items():
        if fields and name not in fields and name != "id":
            continue
        if name in MANY2ONE and isinstance(value, int):
            value = [value, state.display_name(MANY2ONE[name], value)]
        view[name] = value
    for name in fields or []:
        view.setdefault(name, False)
    return view


def search(state: OdooState, model: str, domain: list[Any], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [r for _, r in sorted(state.records[model].items()) if _matches(r, domain or [])]
    if str(kwargs.get("order") or "").strip().lower() == "id desc":
        rows.reverse()
    offset = int(kwargs.get("offset") or 0)
    limit = kwargs.get("limit")
    return rows[offset:offset + int(limit)] if limit else rows[offset:]


def create_purchase_order(state: OdooState, values: dict[str, Any]) -> int:
    """``purchase.order`` create: the vendor is mandatory, lines come as ``(0, 0, vals)`` commands."""
    partner_id = values.get("partner_id")
    if not partner_id:
        raise RpcError("odoo.exceptions.ValidationError",
                       "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n"
                       "- Delete: another model requires the record being deleted. If possible, archive it "
                       "instead.\n\nModel: Purchase Order (purchase.order)\nField: Vendor (partner_id)")
    if partner_id not in state.records["res.partner"]:
        raise missing("res.partner", [partner_id])
    commands = values.get("order_line") or []
    for command in commands:
        if not (isinstance(command, list) and len(command) == 3 and command[0] == 0):
            raise RpcError("builtins.ValueError", f"Unsupported one2many command {command!r} in the sandbox")
        product_id = command[2].get("product_id")
        if product_id not in state.records["product.product"]:
            raise missing("product.product", [product_id])
    state.sequence += 1
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    order = state.add("purchase.order", {
        "name": f"P{state.sequence:05d}", "partner_id": partner_id, "partner_ref": values.get("partner_ref") or False,
        "origin": values.get("origin") or False, "state": "draft", "date_order": now, "order_line": [],
        "amount_total": 0.0})
    for command in commands:
        line_values = command[2]
        product = state.records["product.product"][line_values["product_id"]]
        qty, price = float(line_values.get("product_qty", 1)), float(line_values.get("price_unit", 0))
        line = state.add("purchase.order.line", {
            "order_id": order["id"], "product_id": product["id"], "name": line_values.get("name") or product["name"],
            "product_qty": qty, "qty_received": 0.0, "price_unit": price, "price_subtotal": round(qty * price, 2),
            "date_planned": line_values.get("date_planned") or now})
        order["order_line"].append(line["id"])
        order["amount_total"] = round(order["amount_total"] + line["price_subtotal"], 2)
    return order["id"]


def execute(state: OdooState, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if model not in state.records:
        raise RpcError("builtins.KeyError", repr(model))
    if method == "search_read":
        return [read_view(state, model, r, kwargs.get("fields"))
                for r in search(state, model, args[0] if args else kwargs.get("domain", []), kwargs)]
    if method == "search":
        return [r["id"] for r in search(state, model, args[0] if args else kwargs.get("domain", []), kwargs)]
    if method == "search_count":
        return len(search(state, model, args[0] if args else kwargs.get("domain", []), {}))
    if method == "read":
        ids = args[0] if args else []
        absent = [i for i in ids if i not in state.records[model]]
        if absent:
            raise missing(model, absent)
        return [read_view(state, model, state.records[model][i], kwargs.get("fields")) for i in ids]
    if model == "purchase.order" and method == "create":
        values = args[0] if args else kwargs.get("vals_list")
        if isinstance(values, dict):
            return create_purchase_order(state, values)
        return [create_purchase_order(state, v) for v in values or []]
    if model == "purchase.order" and method == "button_confirm":
        ids = args[0] if args else []
        absent = [i for i in ids if i not in state.records[model]]
        if absent:
            raise missing(model, absent)
        for i in ids:
            if state.records[model][i]["state"] in ("draft", "sent"):
                state.records[model][i]["state"] = "purchase"
        return True
    if model == "purchase.order" and method == "button_cancel":
        ids = args[0] if args else []
        absent = [i for i in ids if i not in state.records[model]]
        if absent:
            raise missing(model, absent)
        for i in ids:
            state.records[model][i]["state"] = "cancel"
        return True
    raise RpcError("builtins.AttributeError", f"The method '{model}.{method}' does not exist")


def dispatch(state: OdooState, params: dict[str, Any]) -> Any:
    """One JSON-RPC call: ``common`` (version, authenticate) or ``object`` (execute_kw)."""
    service, method, args = params.get("service"), params.get("method"), list(params.get("args") or [])
    creds = state.credentials
    if service == "common" and method == "version":
        return {"server_version": SERVER_VERSION, "server_serie": SERVER_VERSION, "protocol_version": 1}
    if service == "common" and method in ("authenticate", "login"):
        database, login, key = (args + [None, None, None])[:3]
        if database != creds["database"]:
            raise RpcError("psycopg2.OperationalError",
                           f'connection to server failed: FATAL:  database "{database}" does not exist')
        return UID if (login == creds["login"] and key == creds["api_key"]) else False
    if service == "object" and method == "execute_kw":
        if len(args) < 6:
            raise RpcError("builtins.TypeError", "execute_kw() missing required positional arguments")
        database, uid, key, model, model_method, call_args = args[:6]
        kwargs = args[6] if len(args) > 6 and isinstance(args[6], dict) else {}
        if database != creds["database"]:
            raise RpcError("psycopg2.OperationalError",
                           f'connection to server failed: FATAL:  database "{database}" does not exist')
        if uid != UID or key != creds["api_key"]:
            raise access_denied()
        return execute(state, str(model), str(model_method), list(call_args or []), kwargs)
    raise RpcError("builtins.KeyError", repr(method))


def parse_fault(payload: dict[str, Any]) -> Fault:
    """The next ``count`` JSON-RPC requests answer HTTP ``status`` (a proxy or worker failure).

    ``call`` (``"purchase.order.create"``) limits the fault to one model method; ``after_apply``
    lets Odoo perform the call and only spoils the answer — ``status`` (a proxy's 502 after the
    worker committed) and/or ``delay_s`` (a read timeout): the lost-reply case a retry must finish.
    """
    return Fault(status=int(payload.get("status") or 0), remaining=int(payload.get("count", 1)),
                 body=UNAVAILABLE_PAGE, delay_s=float(payload.get("delay_s", 0)),
                 path_contains=payload.get("call"), after_apply=bool(payload.get("after_apply", False)))


def rpc_call(payload: Any) -> str:
    """``model.method`` of an ``execute_kw`` request (``common.authenticate`` for the others)."""
    params = payload.get("params") if isinstance(payload, dict) else None
    if not isinstance(params, dict):
        return ""
    args = params.get("args") or []
    if params.get("service") == "object" and len(args) > 4:
        return f"{args[3]}.{args[4]}"
    return f"{params.get('service')}.{params.get('method')}"


def take_fault(state: OdooState, call: str) -> Fault | None:
    """Consume one use of the first fault for this call (every call when the fault names none)."""
    with state.lock:
        for fault in state.faults:
            if fault.remaining > 0 and (not fault.path_contains or fault.path_contains == call):
                fault.remaining -= 1
                return fault
    return None


def install(app: FastAPI) -> None:
    sandbox = Instances(OdooState)
    app.state.odoo = sandbox
    api = APIRouter(prefix="/odoo/{instance}")
    admin = APIRouter(prefix="/odoo/{instance}/_admin")

    @api.post("/jsonrpc")
    async def jsonrpc(request: Request, instance: str) -> JSONResponse:
        state = sandbox.get(instance)
        raw = await request.body()
        entry: dict[str, Any] = {"method": request.method, "path": request.url.path, "body": None, "status": None,
                                 "at": time.time()}
        state.requests.append(entry)
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            payload = None
        entry["body"] = payload
        fault = take_fault(state, rpc_call(payload))
        if fault is not None and not fault.after_apply:
            await asyncio.sleep(fault.delay_s)
            entry["status"] = fault.status
            return HTMLResponse(UNAVAILABLE_PAGE, status_code=fault.status)
        if not isinstance(payload, dict) or not isinstance(payload.get("params"), dict):
            entry["status"] = 200
            return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32700, "message": "Parse error", "data": {"name": "werkzeug.exceptions.BadRequest",
                                                                   "message": "Invalid JSON-RPC request"}}})
        entry["status"] = 200
        with state.lock:
            try:
                result = dispatch(state, payload["params"])
            except RpcError as exc:
                entry["error"] = exc.name
                return JSONResponse({"jsonrpc": "2.0", "id": payload.get("id"), "error": exc.body()})
        if fault is not None:  # applied; the answer is lost on its way back
            entry["late_fault"] = fault.late_view()
            await asyncio.sleep(fault.delay_s)
            if fault.status:
                entry["status"] = fault.status
                return HTMLResponse(UNAVAILABLE_PAGE, status_code=fault.status)
        return JSONResponse({"jsonrpc": "2.0", "id": payload.get("id"), "result": result})

    @admin.post("/seed")
    def seed(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """``{"reset": true, "database", "login", "api_key", "partners": [{"name", "ref"}],
        "products": [{"default_code", "name"}]}`` → the records with their ids."""
        state = sandbox.get(instance)
        with state.lock:
            if payload.get("reset", True):
                state.reset()
            for key in DEFAULTS:
                if key in payload:
                    state.credentials[key] = str(payload[key])
            partners = [state.add("res.partner", {"name": p.get("name") or p.get("ref") or "Vendor",
                                                  "ref": p.get("ref") or False, "supplier_rank": 1,
                                                  "email": p.get("email") or False})
                        for p in payload.get("partners", [])]
            products = [state.add("product.product", {"name": p.get("name") or p["default_code"],
                                                      "default_code": p["default_code"], "type": "consu"})
                        for p in payload.get("products", [])]
            return {"credentials": state.credentials, "partners": partners, "products": products}

    @admin.get("/state/purchase_orders")
    def state_purchase_orders(instance: str) -> JSONResponse:
        state = sandbox.get(instance)
        with state.lock:
            lines = state.records["purchase.order.line"]
            orders = [{**read_view(state, "purchase.order", po, None),
                       "lines": [read_view(state, "purchase.order.line", lines[i], None) for i in po["order_line"]]}
                      for _, po in sorted(state.records["purchase.order"].items())]
        return JSONResponse({"purchase_orders": orders})

    @admin.post("/purchase_orders/receive")
    def receive(instance: str, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        """``{"partner_ref": "PO-…", "lines": {"SKU": qty}}``: validate a receipt (the incoming
        ``stock.picking``) against a confirmed order, raising each line's ``qty_received`` as Odoo
        does; without ``lines`` everything outstanding arrives."""
        state = sandbox.get(instance)
        with state.lock:
            order = next((po for po in state.records["purchase.order"].values()
                          if po.get("partner_ref") == payload.get("partner_ref")), None)
            if order is None:
                return JSONResponse({"error": f"no purchase.order with partner_ref {payload.get('partner_ref')!r}"},
                                    status_code=404)
            if order["state"] != "purchase":
                return JSONResponse({"error": f"{order['name']} is {order['state']}: confirm it before receiving"},
                                    status_code=409)
            wanted = payload.get("lines")
            for line_id in order["order_line"]:
                line = state.records["purchase.order.line"][line_id]
                code = state.records["product.product"][line["product_id"]]["default_code"]
                outstanding = line["product_qty"] - line["qty_received"]
                qty = outstanding if wanted is None else min(float(wanted.get(code, 0)), outstanding)
                line["qty_received"] = line["qty_received"] + qty
            return JSONResponse({"purchase_order": order["name"], "lines": [
                read_view(state, "purchase.order.line", state.records["purchase.order.line"][i], None)
                for i in order["order_line"]]})

    add_fault_routes(admin, sandbox, parse_fault)
    add_request_log_routes(admin, sandbox, filters=False)
    app.include_router(api)
    app.include_router(admin)
