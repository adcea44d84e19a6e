"""Odoo's JSON-RPC endpoints: the external API ``POST /jsonrpc`` and the web client's login.

``/jsonrpc`` takes ``{"jsonrpc": "2.0", "method": "call", "params": {"service", "method", "args"},
"id"}`` (https://www.odoo.com/documentation/18.0/developer/reference/external_api.html):
``common.version()``; ``common.authenticate(db, login, api_key, user_agent_env)`` → the uid, or
``false`` for a wrong login or key; ``object.execute_kw(db, uid, api_key, model, method, args,
kwargs)``, which re-checks the key on every call (``odoo.exceptions.AccessDenied``).

``/web/session/authenticate`` takes ``params: {"db", "login", "password"}`` and answers the session
info with a ``session_id`` cookie; a wrong password is ``AccessDenied`` and an unknown database
``AccessError`` "Database not found." (``addons/web/controllers/session.py``). The external API is
stateless, so nothing here takes the session back; it is served so a login can be checked. The
envelope is the kit's (``sandbox.kit.jsonrpc``); Odoo's parse error names werkzeug's exception.
"""
from __future__ import annotations

import secrets
from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.jsonrpc import answer
from sandbox.odoo.database import SERVER_VERSION, UID, OdooState, RpcError, access_denied, kit
from sandbox.odoo.orm import execute

#: JSON-RPC's own answer to a body that is not a call (https://www.jsonrpc.org/specification#error_object).
PARSE_ERROR = {"code": -32700, "message": "Parse error",
               "data": {"name": "werkzeug.exceptions.BadRequest", "message": "Invalid JSON-RPC request"}}


def dispatch(state: OdooState, params: dict[str, Any]) -> Any:
    """One external API call: ``common`` (version, authenticate) or ``object`` (execute_kw)."""
    service, method, args = params.get("service"), params.get("method"), list(params.get("args") or [])
    creds = state.credentials
    if service == "common" and method == "version":
        return {"server_version": SERVER_VERSION, "server_serie": SERVER_VERSION, "protocol_version": 1}
    if (service, method) not in (("common", "authenticate"), ("common", "login"), ("object", "execute_kw")):
        raise RpcError("builtins.KeyError", repr(method))
    database, who, key = (args + [None, None, None])[:3]
    if database != creds["database"]:  # what a multi-database server answers
        raise RpcError("psycopg2.OperationalError",
                       f'connection to server failed: FATAL:  database "{database}" does not exist')
    if service == "common":
        return UID if (who == creds["login"] and key == creds["api_key"]) else False
    if len(args) < 6:
        raise RpcError("builtins.TypeError", "execute_kw() missing required positional arguments")
    if who != UID or key != creds["api_key"]:
        raise access_denied()
    kwargs = args[6] if len(args) > 6 and isinstance(args[6], dict) else {}
    return execute(state, str(args[3]), str(args[4]), list(args[5] or []), kwargs)


def login(state: OdooState, params: dict[str, Any]) -> dict[str, Any]:
    """The web client's login: the session info (``ir.http.session_info``) of the seeded user."""
    creds = state.credentials
    if params.get("db") != creds["database"]:
        raise RpcError("odoo.exceptions.AccessError", "Database not found.")
    if params.get("login") != creds["login"] or params.get("password") != state.password:
        raise access_denied()
    return {"uid": UID, "db": creds["database"], "username": creds["login"], "name": creds["login"],
            "user_context": {"lang": "en_US", "tz": "UTC", "uid": UID}, "server_version": SERVER_VERSION}


@kit.api.post("/jsonrpc")
def jsonrpc(call: Call[OdooState] = kit.call) -> Response:
    return call.reply(answer(call, dispatch, PARSE_ERROR))


@kit.api.post("/web/session/authenticate")
def web_session_authenticate(call: Call[OdooState] = kit.call) -> Response:
    body = answer(call, login, PARSE_ERROR)
    session = f"session_id={secrets.token_hex(20)}; HttpOnly; Path=/"
    return call.reply(body, headers=None if "error" in body else {"Set-Cookie": session})
