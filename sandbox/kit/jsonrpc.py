"""JSON-RPC 2.0 answered as a platform's one endpoint answers it (Odoo's ``/jsonrpc``).

A call is ``{"jsonrpc": "2.0", "method", "params", "id"}``; the answer is HTTP 200 with
``result``, or with an ``error`` object ``{"code", "message", "data"}``
(https://www.jsonrpc.org/specification); a body that is not a call with ``params`` is the
``-32700 Parse error``. The stand-in's handler runs under the instance's lock and raises
:class:`RpcFault` (whose ``body()`` is the platform's error object) to answer an error. Every call
goes to one path, so an injected fault names the called method instead (:func:`method_fault`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.kit.faults import Fault, any_fault
from sandbox.kit.standin import Call

PARSE_ERROR = {"code": -32700, "message": "Parse error"}


class RpcFault(Exception):
    """An error the platform answers inside the envelope; ``name`` (set by the subclass) is kept in
    the request log, ``body()`` is the error object."""

    name: str

    def body(self) -> dict[str, Any]:
        return {"code": -32603, "message": "Internal error"}


def answer(call: Call[Any], handle: Callable[[Any, dict[str, Any]], Any],
           parse_error: dict[str, Any] = PARSE_ERROR) -> dict[str, Any]:
    """The JSON-RPC answer to the call, ``handle(state, params)`` giving its result."""
    payload = call.body
    if not isinstance(payload, dict) or not isinstance(payload.get("params"), dict):
        return {"jsonrpc": "2.0", "id": None, "error": parse_error}
    reply = {"jsonrpc": "2.0", "id": payload.get("id")}
    with call.state.lock:
        try:
            return {**reply, "result": handle(call.state, payload["params"])}
        except RpcFault as exc:
            call.entry["error"] = exc.name
            return {**reply, "error": exc.body()}


def method_fault(payload: dict[str, Any]) -> Fault:
    """The next ``count`` calls answer HTTP ``status`` (a proxy or worker failure). ``call`` limits
    the fault to one method (what the stand-in's ``fault_target`` names, e.g. ``purchase.order.create``);
    ``after_apply`` lets the call be made and only spoils the answer — ``status`` and/or ``delay_s``
    (a read timeout): the lost-reply case a retry must finish."""
    options = {key: payload[key] for key in ("status", "count", "delay_s", "after_apply") if key in payload}
    return any_fault({**options, "path_contains": payload.get("call")})
