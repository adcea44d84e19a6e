"""Calling a server's models by name: ``execute_kw`` over JSON-RPC, or JSON-2 with a bearer key.

The protocol of Odoo's external API (and of the servers that speak it), not one platform's data:

* JSON-RPC (``POST /jsonrpc``): ``{"service": "common", "method": "authenticate", "args": [db,
  login, api_key, {}]}`` gives the uid (``false`` when refused), then every model method is
  ``{"service": "object", "method": "execute_kw", "args": [db, uid, api_key, model, method, args,
  kwargs]}``; an error is an HTTP 200 ``error`` object whose ``data`` names the server's exception
  class (``name``) and its ``message``:
  https://www.odoo.com/documentation/18.0/developer/reference/external_api.html
* JSON-2 (``POST /json/2/{model}/{method}``) with ``Authorization: bearer <api key>`` and
  ``X-Odoo-Database``, the method's first positional argument sent named (``domain`` for searches,
  ``vals_list`` for ``create``, else ``ids``) beside its keyword arguments; the answer is the
  result itself, an error a 4xx/5xx classified like any REST answer:
  https://www.odoo.com/documentation/19.0/developer/reference/external_api.html

Which one a store speaks: its ``api`` option (``jsonrpc`` or ``json2``), else JSON-2 from the
``version`` option's major number ``json2_from`` on (a class that leaves it None never picks JSON-2
itself). Credentials: ``database``, ``login``, ``api_key`` (``username`` and ``password`` accepted).
"""
from __future__ import annotations

from typing import Any, ClassVar, Mapping

from connectors.errors import AuthError, PermanentError, TransientError
from connectors.options import Choice, OptionRule
from connectors.rpc import JsonRpcConnector
from connectors.types import ConnectorConfig

#: JSON-2 takes named parameters: the name of each method's first positional argument (else ``ids``).
NAMED = {"search_read": "domain", "search": "domain", "search_count": "domain", "create": "vals_list"}


class ModelRpcConnector(JsonRpcConnector):
    """A :class:`JsonRpcConnector` whose calls are model methods (:meth:`execute_kw`), over JSON-RPC
    or JSON-2; ``auth_error_names`` and ``transient_error_names`` classify an error object by the
    exception class its ``data.name`` names (anything else is permanent)."""

    option_rules: ClassVar[tuple[OptionRule, ...]] = (Choice("api", ("jsonrpc", "json2")),)
    #: The ``version`` major number from which a store speaks JSON-2 unless ``api`` says otherwise.
    json2_from: ClassVar[int | None] = None
    auth_error_names: ClassVar[frozenset[str]] = frozenset()
    transient_error_names: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: ConnectorConfig, **kwargs: Any) -> None:
        creds = config.credentials
        self.database = creds.get("database") or config.options.get("database") or ""
        self.login = creds.get("login") or creds.get("username") or ""
        self.api_key = creds.get("api_key") or creds.get("password") or ""
        if not (self.database and self.login and self.api_key):
            raise ValueError(f"{self.platform} credentials need database, login and api_key")
        self._uid: int | None = None
        super().__init__(config, **kwargs)
        major = int(str(self.options.get("version") or 0).split("~")[-1].split(".")[0])
        by_version = self.json2_from is not None and major >= self.json2_from
        self.json2 = self.options.get("api", "json2" if by_version else "jsonrpc") == "json2"
        if self.json2:
            self.session.headers.update({"Authorization": f"bearer {self.api_key}", "X-Odoo-Database": self.database})

    def rpc_error(self, error: Mapping[str, Any], what: str) -> Exception:
        """Auth, transient or permanent by ``data.name``; the message is the server's own
        ``data.message`` (``"Access Denied"``, a ``UserError`` text …), not the generic one around it."""
        data: Mapping[str, Any] = error["data"] if isinstance(error.get("data"), Mapping) else {}
        name = str(data.get("name") or "")
        message = str(data.get("message") or error.get("message") or "unknown error")
        detail = f"{self.platform} {what}: {message}" + (f" ({name})" if name else "")
        kind = AuthError if name in self.auth_error_names else TransientError if name in self.transient_error_names \
            else PermanentError
        return kind(detail, platform=self.platform, body=str(error)[:2000])

    def call(self, service: str, method: str, args: list[Any], *, safe: bool = True) -> Any:
        """One ``call`` of a service method; ``safe`` reads are retried on 5xx/timeouts, writes only on 429."""
        what = f"{args[3]}.{args[4]}" if service == "object" and len(args) > 4 else f"{service}.{method}"
        return self.rpc("call", {"service": service, "method": method, "args": args}, safe=safe, what=what)

    def uid(self) -> int:
        """The user id for the API key, fetched once per connector (``authenticate`` → false on refusal)."""
        if self._uid is None:
            result = self.call("common", "authenticate", [self.database, self.login, self.api_key, {}])
            if not isinstance(result, int) or isinstance(result, bool) or result <= 0:
                raise AuthError(f"{self.platform}: authentication refused for login {self.login!r} on database "
                                f"{self.database!r} (wrong database, login or API key)", platform=self.platform)
            self._uid = result
        return self._uid

    def execute_kw(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None,
                   *, safe: bool = True) -> Any:
        """One model method: ``execute_kw`` over JSON-RPC, or ``/json/2/{model}/{method}`` with the
        positional argument named (``domain``, ``vals_list`` as a list, else ``ids``)."""
        if not self.json2:
            return self.call("object", "execute_kw",
                             [self.database, self.uid(), self.api_key, model, method, args, kwargs or {}], safe=safe)
        first = ([args[0]] if method == "create" and isinstance(args[0], dict) else args[0]) if args else None
        body = {**({NAMED.get(method, "ids"): first} if args else {}), **(kwargs or {})}
        return self.decode(self.request("POST", f"json/2/{model}/{method}", json_body=body, retry=safe))

    def search_read(self, model: str, domain: list[Any], fields: list[str], **kwargs: Any) -> list[dict[str, Any]]:
        """``search_read`` (a read: retried on 5xx/timeouts); ``kwargs`` are ``limit``, ``order`` …"""
        return list(self.execute_kw(model, "search_read", [domain], {"fields": fields, **kwargs}) or [])

    def read_records(self, model: str, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        """``read`` of the records ``ids`` (nothing asked when there are none)."""
        return list(self.execute_kw(model, "read", [ids], {"fields": fields}) or []) if ids else []

    def create(self, model: str, values: dict[str, Any]) -> int:
        """``create`` of one record (a write: not retried on 5xx/timeouts): its id, which JSON-2
        answers inside a list (its ``vals_list`` is one)."""
        new_id = self.execute_kw(model, "create", [values], safe=False)
        return int(new_id[0] if isinstance(new_id, list) else new_id)
