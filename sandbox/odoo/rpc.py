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
envelope is the kit's (``sandbox.kit.jsonrpc``), the calls its ``model_rpc``; Odoo's parse error names
werkzeug's exception.
"""
from __future__ import annotations

import secrets
from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.jsonrpc import answer
from sandbox.kit.model_rpc import access_denied, external_api
from sandbox.odoo.database import SERVER_VERSION, UID, OdooState, RpcError, kit
from sandbox.odoo.orm import execute

#: JSON-RPC's own answer to a body that is not a call (https://www.jsonrpc.org/specification#error_object).
PARSE_ERROR = {"code": -32700, "message": "Parse error",
               "data": {"name": "werkzeug.exceptions.BadRequest", "message": "Invalid JSON-RPC request"}}


def dispatch(state: OdooState, params: dict[str, Any]) -> Any:
    """One external API call: ``common`` (version, authenticate) or ``object`` (execute_kw)."""
    return external_api(state, params, execute, UID, SERVER_VERSION)


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
