"""Microsoft Entra ID app-only tokens for the stand-in of any Microsoft API (Business Central,
Graph, Dataverse): the two endpoints MSAL calls, and the bearer check of the API itself.

Served under ``/{platform}/{instance}/login/{tenant}`` (the connector's authority host is
``…/{platform}/{instance}/login``):

* ``GET v2.0/.well-known/openid-configuration``: the tenant's OpenID configuration, from which MSAL
  takes ``token_endpoint`` (and needs ``authorization_endpoint``)
  (https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc#fetch-the-openid-configuration-document);
  an unknown tenant is 400 ``invalid_tenant`` / ``AADSTS90002``. The endpoints are advertised with
  ``https``, as Entra's always are (MSAL refuses any other).
* ``POST oauth2/v2.0/token`` form-encoded ``grant_type=client_credentials, client_id, client_secret,
  scope`` → ``{"token_type": "Bearer", "expires_in", "ext_expires_in", "access_token"}``; an unknown
  app is 400 ``unauthorized_client`` (AADSTS700016), a wrong secret 401 ``invalid_client``
  (AADSTS7000215), a scope other than the API's ``…/.default`` 400 ``invalid_scope`` (AADSTS70011)
  (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow).

A state mixes in :class:`EntraApp` (the app registration, the tokens issued, every token request
kept so a test sees how often one was asked); the stand-in declares an :class:`Entra` and uses
:meth:`Entra.bearer` as its ``auth``.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.kit.standin import Call, StandIn


@dataclass
class EntraApp:
    """The one app registration a tenant knows, and the tokens it was given."""

    tenant: str = ""
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    token_lifetime_s: int = 3599
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)


def entra_error(code: str, aadsts: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": f"{aadsts}: {message}",
                         "error_codes": [int(aadsts[6:])], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ")},
                        status_code=status)


@dataclass(frozen=True)
class Entra:
    """The token endpoints of ``kit``'s instances, for the API whose scope is ``scope``."""

    kit: StandIn[Any]
    scope: str

    def router(self) -> APIRouter:
        login = APIRouter(prefix=f"/{self.kit.platform}/{{instance}}/login/{{tenant}}")
        login.get("/v2.0/.well-known/openid-configuration")(self.configuration)
        login.post("/oauth2/v2.0/token")(self.token)
        return login

    def configuration(self, tenant: str, request: Request) -> JSONResponse:
        state = self.kit.instances(request.app).get(request.path_params["instance"])
        if tenant != state.tenant:
            return entra_error("invalid_tenant", "AADSTS90002", f"Tenant '{tenant}' not found.", 400)
        base = f"https://{request.url.netloc}/{self.kit.platform}/{state.name}/login/{tenant}"
        return JSONResponse({"token_endpoint": f"{base}/oauth2/v2.0/token",
                             "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                             "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
                             "jwks_uri": f"{base}/discovery/v2.0/keys", "response_types_supported": ["code", "token"],
                             "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"]})

    async def token(self, tenant: str, request: Request) -> JSONResponse:
        state = self.kit.instances(request.app).get(request.path_params["instance"])
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        with state.lock:
            state.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
            if tenant != state.tenant:
                return entra_error("invalid_tenant", "AADSTS90002", f"Tenant '{tenant}' not found.", 400)
            if form.get("grant_type") != "client_credentials" or form.get("client_id") != state.client_id:
                return entra_error("unauthorized_client", "AADSTS700016", f"Application with identifier "
                                   f"'{form.get('client_id')}' was not found in the directory '{tenant}'.", 400)
            if form.get("client_secret") != state.client_secret:
                return entra_error("invalid_client", "AADSTS7000215", "Invalid client secret provided. Ensure the "
                                   "secret being sent in the request is the client secret value, not the client "
                                   "secret ID.", 401)
            if self.scope not in (form.get("scope") or "").split():
                return entra_error("invalid_scope", "AADSTS70011", f"The provided value for the input parameter "
                                   f"'scope' is not valid: {form.get('scope')!r}.", 400)
            issued = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(32)
            state.tokens[issued] = (tenant, time.time() + state.token_lifetime_s)
            lifetime = state.token_lifetime_s
        return JSONResponse({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                             "access_token": issued})

    @staticmethod
    def bearer(refusal: Callable[[], JSONResponse]) -> Callable[[Call[Any]], JSONResponse | None]:
        """The API's auth: a token this tenant issued, unexpired, used on a path naming the tenant."""
        def check(call: Call[Any]) -> JSONResponse | None:
            token = call.request.headers.get("Authorization", "").removeprefix("Bearer ")
            tenant, expires = call.state.tokens.get(token, ("", 0.0))
            ok = tenant == call.state.tenant == call.request.path_params.get("tenant") and expires >= time.time()
            return None if ok else refusal()
        return check
