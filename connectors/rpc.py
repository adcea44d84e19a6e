"""JSON-RPC 2.0 over the shared HTTP plumbing: one envelope, one id counter, the error object classified.

The envelope (``{"jsonrpc": "2.0", "method", "params", "id"}``) and the answer (``result``, or an
``error`` object ``{"code", "message", "data"}``) follow https://www.jsonrpc.org/specification .
Transport trouble — 429, 5xx, timeouts, a refused connection — is classified and retried by
:meth:`connectors.http.RestConnector.request` like any other call (``safe`` says whether a call
only reads, so a 5xx or a timeout may repeat it); an ``error`` object comes back as HTTP 200, so
it is turned into an error class here, by :meth:`JsonRpcConnector.rpc_error`, which a platform
overrides to read its own ``data`` (Odoo names the server's exception class there).

RPC calls are not paged collections, so they are not declared streams: each call is explicit.
"""
from __future__ import annotations

import itertools
from typing import Any, ClassVar, Mapping

from connectors.errors import PermanentError
from connectors.http import RestConnector
from connectors.types import ConnectorConfig


class JsonRpcConnector(RestConnector):
    """A :class:`RestConnector` whose calls POST JSON-RPC 2.0 envelopes to ``rpc_path``."""

    rpc_path: ClassVar[str] = "jsonrpc"

    def __init__(self, config: ConnectorConfig, **kwargs: Any) -> None:
        self.rpc_ids = itertools.count(1)
        super().__init__(config, **kwargs)

    def rpc(self, method: str, params: Any, *, safe: bool = True, what: str = "") -> Any:
        """One call's ``result``; ``safe`` reads are retried on 5xx/timeouts, writes only on 429.

        ``what`` names the call in error messages (default: ``method``)."""
        payload = {"jsonrpc": "2.0", "method": method, "params": params, "id": next(self.rpc_ids)}
        response = self.request("POST", self.rpc_path, json_body=payload, retry=safe)
        body = self.decode(response)
        if not isinstance(body, Mapping):
            raise PermanentError(f"{self.platform} {what or method}: answer is not a JSON-RPC object",
                                 status_code=response.status_code, platform=self.platform)
        if isinstance(body.get("error"), Mapping):
            raise self.rpc_error(body["error"], what or method)
        return body.get("result")

    def rpc_error(self, error: Mapping[str, Any], what: str) -> Exception:
        """The error an ``error`` object means; by default permanent, with its code and message."""
        return PermanentError(f"{self.platform} {what}: {error.get('code')}: {error.get('message')}",
                              platform=self.platform, body=str(error)[:2000])
