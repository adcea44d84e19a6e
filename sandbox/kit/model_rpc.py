"""Model methods called by name, served as Odoo-style servers serve them: JSON-RPC ``execute_kw``
and JSON-2, searches by domain, and an automation rule's field notifications.

The server side of ``connectors.model_rpc``:

* ``POST /jsonrpc`` with ``params: {"service", "method", "args"}`` (:func:`external_api`):
  ``common.version()``; ``common.authenticate(db, login, api_key, {})`` → the uid or ``false``;
  ``object.execute_kw(db, uid, api_key, model, method, args, kwargs)``, the key re-checked on every
  call; an unknown database is ``psycopg2.OperationalError``, as a multi-database server answers
  (https://www.odoo.com/documentation/18.0/developer/reference/external_api.html);
* ``POST /json/2/{model}/{method}`` (:func:`json2`) from version 19 on (404 before):
  ``Authorization: bearer <api key>``, optional ``X-Odoo-Database``, the first positional argument
  named in the body (:data:`FIRST`); the answer is the result itself, an error
  ``{"name", "message", "arguments", "context", "debug"}`` with the status its exception maps to
  (https://www.odoo.com/documentation/19.0/developer/reference/external_api.html);
* errors are :class:`ServerError`: the JSON-RPC ``error`` object of ``odoo/http.py``
  ``serialize_exception`` (``{"code": 200, "message": "Odoo Server Error", "data": {…}}``);
* :class:`Domains`: ``search`` over records per model (``sandbox.kit.records.ModelRecords``), a
  domain's ``[field, op, value]`` terms joined by AND, dotted paths through many2one fields,
  ``order`` / ``offset`` / ``limit``
  (https://www.odoo.com/documentation/18.0/developer/reference/backend/orm.html#search-domains);
* :func:`field_notification`: the body an automation rule's "Send Webhook Notification" action
  posts (``_run_action_webhook``: the chosen fields beside ``_action``, ``_id``, ``_model``,
  ``json.dumps(sort_keys=True)``, many2one fields as bare ids, no signature), kept as a delivery.

A stand-in provides ``execute(state, model, method, args, kwargs)`` and a state with
``credentials`` (``database``, ``login``, ``api_key``), ``version`` and the kit's lock and deliveries.
"""
from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.responses import Response

from sandbox.kit.jsonrpc import RpcFault
from sandbox.kit.standin import Call, KitState

Record = dict[str, Any]
Execute = Callable[[Any, str, str, list[Any], dict[str, Any]], Any]
#: JSON-2's name for each method's first positional argument (else ``ids``).
FIRST = {"search_read": "domain", "search": "domain", "search_count": "domain", "create": "vals_list"}
#: JSON-2's status for an exception (else 500).
STATUS = {"odoo.exceptions.AccessDenied": 401, "werkzeug.exceptions.Unauthorized": 401,
          "odoo.exceptions.AccessError": 403, "odoo.exceptions.MissingError": 404,
          "werkzeug.exceptions.NotFound": 404, "odoo.exceptions.ValidationError": 422, "builtins.ValueError": 422,
          "odoo.exceptions.UserError": 422}


@dataclass
class ServerError(RpcFault):
    """An exception the server serializes: ``name`` is its class, ``message`` its text."""

    name: str
    message: str

    def body(self) -> dict[str, Any]:
        return {"code": 200, "message": "Odoo Server Error", "data": self.json2()}

    def json2(self) -> dict[str, Any]:
        return {"name": self.name, "message": self.message, "arguments": [self.message], "context": {},
                "debug": f"Traceback (most recent call last):\n{self.name}: {self.message}"}


def access_denied() -> ServerError:
    return ServerError("odoo.exceptions.AccessDenied", "Access Denied")


def external_api(state: Any, params: dict[str, Any], execute: Execute, uid: int, version: str) -> Any:
    """One JSON-RPC ``call``: ``common`` (version, authenticate) or ``object`` (execute_kw)."""
    service, method, args = params.get("service"), params.get("method"), list(params.get("args") or [])
    creds = state.credentials
    if service == "common" and method == "version":
        return {"server_version": version, "server_serie": version, "protocol_version": 1}
    if (service, method) not in (("common", "authenticate"), ("common", "login"), ("object", "execute_kw")):
        raise ServerError("builtins.KeyError", repr(method))
    database, who, key = (args + [None, None, None])[:3]
    if database != creds["database"]:  # what a multi-database server answers
        raise ServerError("psycopg2.OperationalError",
                          f'connection to server failed: FATAL:  database "{database}" does not exist')
    if service == "common":
        return uid if (who == creds["login"] and key == creds["api_key"]) else False
    if len(args) < 6:
        raise ServerError("builtins.TypeError", "execute_kw() missing required positional arguments")
    if who != uid or key != creds["api_key"]:
        raise access_denied()
    kwargs = args[6] if len(args) > 6 and isinstance(args[6], dict) else {}
    return execute(state, str(args[3]), str(args[4]), list(args[5] or []), kwargs)


def json2(call: Call[Any], model: str, method: str, execute: Execute, since: int = 19) -> Response:
    """One ``/json/2/{model}/{method}`` call, answered as a server of ``state.version`` answers it."""
    state, body = call.state, call.body if isinstance(call.body, dict) else {}
    if int(state.version.split(".")[0]) < since:
        return call.reply({"name": "werkzeug.exceptions.NotFound", "message": "Not Found"}, 404)
    scheme, _, key = call.request.headers.get("authorization", "").partition(" ")
    database = call.request.headers.get("x-odoo-database", state.credentials["database"])
    try:
        if scheme.lower() != "bearer" or key != state.credentials["api_key"]:
            raise ServerError("werkzeug.exceptions.Unauthorized", "Invalid apikey")
        if database != state.credentials["database"]:
            raise ServerError("werkzeug.exceptions.NotFound", f"database {database!r} not found")
        first = FIRST.get(method, "ids")
        kwargs = {k: v for k, v in body.items() if k not in (first, "context")}
        with state.lock:
            return call.reply(execute(state, model, method, [body.get(first, [])], kwargs))
    except ServerError as exc:
        return call.reply({**exc.json2(), "debug": f"{exc.name}: {exc.message}"}, STATUS.get(exc.name, 500))


def called(call: Call[Any]) -> str:
    """``model.method`` of an ``execute_kw`` or JSON-2 request (``service.method`` for the others):
    what an injected fault's ``call`` option names."""
    if "model" in call.request.path_params:
        return f"{call.path_param('model')}.{call.path_param('method')}"
    params = call.body.get("params") if isinstance(call.body, dict) else None
    if not isinstance(params, dict):
        return ""
    args = params.get("args") or []
    object_call = params.get("service") == "object" and len(args) > 4
    return f"{args[3]}.{args[4]}" if object_call else f"{params.get('service')}.{params.get('method')}"


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
    ">": lambda a, b: a is not None and a > b, "<": lambda a, b: a is not None and a < b,
    ">=": lambda a, b: a is not None and a >= b, "<=": lambda a, b: a is not None and a <= b,
    "ilike": lambda a, b: str(b).lower() in str(a or "").lower(),
}


@dataclass(frozen=True)
class Domains:
    """Searching records per model; ``many2one`` names the model each reference field points at."""

    many2one: Mapping[str, str]

    def matches(self, tables: Mapping[str, Mapping[int, Record]], record: Record, domain: list[Any]) -> bool:
        """Whether the record satisfies every term (the server refuses the whole domain if one term is invalid)."""
        terms = [term for term in domain if term != "&"]
        for term in terms:
            if not isinstance(term, (list, tuple)) or len(term) != 3 or term[1] not in OPERATORS:
                raise ServerError("builtins.ValueError", f"Invalid leaf {term!r}")
        return all(OPERATORS[op](self.value_of(tables, record, name), value) for name, op, value in terms)

    def value_of(self, tables: Mapping[str, Mapping[int, Record]], record: Record, path: str) -> Any:
        """A field, or a dotted path through many2one fields (``location_id.usage``) as domains allow."""
        name, _, rest = path.partition(".")
        value = record.get(name)
        if not rest:
            return value
        target = tables[self.many2one[name]].get(value) if name in self.many2one and value else None
        return self.value_of(tables, target, rest) if target else None

    def search(self, tables: Mapping[str, Mapping[int, Record]], model: str, domain: list[Any],
               kwargs: Mapping[str, Any]) -> list[Record]:
        """The matching records of ``model`` by ``order`` (``"write_date desc"``; default ``id``),
        ``offset``, ``limit``."""
        rows = [r for _, r in sorted(tables[model].items()) if self.matches(tables, r, domain or [])]
        field, _, direction = str(kwargs.get("order") or "id").strip().partition(" ")
        rows.sort(key=lambda r: (r.get(field) is None, r.get(field) or 0), reverse=direction.lower() == "desc")
        offset, limit = int(kwargs.get("offset") or 0), kwargs.get("limit")
        return rows[offset:offset + int(limit)] if limit else rows[offset:]


def field_notification(state: KitState, rule: Mapping[str, Any], model: str, record: Record,
                       action: str = "Send Webhook Notification(#41)") -> bytes:
    """The body the rule's webhook action posts for ``record`` (``rule``: ``{"url", "fields"}``), kept
    as a delivery; post it with :func:`sandbox.kit.webhooks.post` once the instance's lock is released."""
    values = {"_action": action, "_id": record["id"], "_model": model,
              **{name: record.get(name, False) for name in rule.get("fields") or []}}
    body = json.dumps(values, sort_keys=True, default=str).encode()
    state.deliveries.append({"address": rule["url"], "body": body.decode(),
                             "headers": {"Content-Type": "application/json"}})
    return body
