"""Microsoft Entra ID client credentials through MSAL, as a ``requests`` auth scheme.

Any Microsoft API that takes an app-only token (Business Central, Microsoft Graph, Dataverse) is
called with ``Authorization: Bearer <token>``, the token got by the OAuth 2.0 client credentials
grant from ``{authority_host}/{tenant}/oauth2/v2.0/token`` for the scope ``<resource>/.default``:

* the grant and the ``.default`` scope:
  https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
* MSAL Python's ``ConfidentialClientApplication(client_id, client_credential=secret,
  authority=...)`` and ``acquire_token_for_client(scopes=[...])``, which since MSAL 1.23 answers
  from its token cache until the token is near its expiry (the result's ``token_source`` says
  ``cache`` or ``identity_provider``):
  https://learn.microsoft.com/en-us/entra/msal/python/getting-started/acquire-token-client-credentials
  https://msal-python.readthedocs.io/en/latest/#msal.ConfidentialClientApplication
* errors are an object ``{"error", "error_description", "error_codes"}`` (``invalid_client`` for a
  wrong secret, ``unauthorized_client`` for an unknown app, ``invalid_scope``):
  https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow#error-response

Why one MSAL application per (authority, app, secret) for the whole process: a connector is built
per task, and a token is good for an hour; keeping the application (and so its token cache) in
:data:`_APPS` means every task of the hour reuses one token instead of asking Entra each time.

The authority host is configurable (sovereign clouds use other hosts; tests use the sandbox).
MSAL validates an authority in two ways, and both are relaxed here only as its docs allow:
``instance_discovery=False`` skips asking ``login.microsoftonline.com`` whether the host is a known
cloud (a custom or sovereign host is the operator's choice), and ``validate_authority=False`` for a
host MSAL does not know. It still reads the tenant's OpenID configuration
(``{authority}/v2.0/.well-known/openid-configuration``) and takes the token endpoint from it.
MSAL also insists on ``https`` in the authority; a local stand-in serves plain ``http``, so for an
``http://`` authority host (and only then) MSAL is given the ``https`` spelling and an HTTP client
(:class:`_PlainHttp`) that sends exactly those requests over ``http`` to that host.
"""
from __future__ import annotations

import hashlib
import threading
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

import msal
import requests
from requests.auth import AuthBase

from connectors.errors import AuthError, TransientError

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
#: Errors a later attempt can pass (the token service's own trouble); any other is the credential's.
TRANSIENT = frozenset({"temporarily_unavailable", "server_error"})
_APPS: dict[tuple[str, str, str], msal.ConfidentialClientApplication] = {}
_LOCK = threading.Lock()


class _PlainHttp(requests.Session):
    """Sends MSAL's ``https://{host}`` requests over ``http`` to a local stand-in at that host."""

    def __init__(self, netloc: str, timeout_s: float) -> None:
        super().__init__()
        self.netloc, self.timeout_s = netloc, timeout_s

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(str(url))
        if parts.scheme == "https" and parts.netloc == self.netloc:
            url = urlunsplit(("http", *parts[1:]))
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)


def application(authority_host: str, tenant: str, client_id: str, secret: str,
                timeout_s: float = 10.0) -> msal.ConfidentialClientApplication:
    """The process's MSAL application for this app registration (built on first use)."""
    host = (authority_host or DEFAULT_AUTHORITY_HOST).rstrip("/")
    key = (f"{host}/{tenant}", client_id, hashlib.sha256(secret.encode()).hexdigest())
    with _LOCK:
        app = _APPS.get(key)
        if app is None:
            parts = urlsplit(host)
            client: requests.Session = _PlainHttp(parts.netloc, timeout_s) if parts.scheme == "http" \
                else requests.Session()
            authority = urlunsplit(("https", parts.netloc, f"{parts.path}/{tenant}", "", ""))
            try:
                app = msal.ConfidentialClientApplication(
                    client_id, client_credential=secret, authority=authority, http_client=client,
                    instance_discovery=False, validate_authority=host == DEFAULT_AUTHORITY_HOST, timeout=timeout_s)
            except ValueError as exc:  # the tenant's OpenID configuration could not be read
                raise AuthError(f"entra: authority {authority}: {exc}") from exc
            except requests.RequestException as exc:
                raise TransientError(f"entra: authority {authority} unreachable: {exc}") from exc
            _APPS[key] = app
        return app


def forget(authority_host: str, tenant: str, client_id: str) -> None:
    """Drop the cached application (and its token) of an app: its token was refused."""
    host = (authority_host or DEFAULT_AUTHORITY_HOST).rstrip("/")
    with _LOCK:
        for key in [k for k in _APPS if k[0] == f"{host}/{tenant}" and k[1] == client_id]:
            del _APPS[key]


def token_error(result: Mapping[str, Any], where: str) -> Exception:
    """The error an MSAL result without ``access_token`` means, with Entra's own description."""
    error = str(result.get("error") or "unknown_error")
    first = (str(result.get("error_description") or "").splitlines() or [""])[0]
    detail = f"entra {where}: {error}: {first}"
    return TransientError(detail) if error in TRANSIENT else AuthError(detail)


class ClientCredentials(AuthBase):
    """``Authorization: Bearer`` with an app-only token for ``scope``, from MSAL's cache when it
    holds a good one. The application is made on the first request, so a connector built only to
    check a webhook (no credentials set) never talks to Entra."""

    def __init__(self, authority_host: str, tenant: str, client_id: str, secret: str, scope: str,
                 timeout_s: float = 10.0) -> None:
        self.authority_host, self.tenant, self.client_id = authority_host, tenant, client_id
        self.secret, self.scope, self.timeout_s = secret, scope, timeout_s
        self.last_source = ""

    def token(self) -> str:
        if not (self.tenant and self.client_id and self.secret):
            raise AuthError("entra: tenant, client_id and client_secret are all needed for a token")
        app = application(self.authority_host, self.tenant, self.client_id, self.secret, self.timeout_s)
        result = app.acquire_token_for_client(scopes=[self.scope])
        if not isinstance(result, Mapping) or "access_token" not in result:
            raise token_error(result or {}, f"token for {self.client_id} in {self.tenant}")
        self.last_source = str(result.get("token_source", ""))
        return str(result["access_token"])

    def forget(self) -> None:
        forget(self.authority_host, self.tenant, self.client_id)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request
