"""Credential checks a stand-in declares as its ``auth``: each returns None or the refusal.

* :class:`HeaderToken`: one header carries the instance's token, e.g. Shopify's
  ``X-Shopify-Access-Token`` (https://shopify.dev/docs/api/admin-rest#authentication).
* :class:`BearerToken`: ``Authorization: Bearer <token>``, e.g. Lightspeed Retail X-Series
  (https://x-series-api.lightspeedhq.com/reference).
* :class:`KeyAndSecret`: HTTP Basic with a key and secret, or the same two as query parameters,
  as WooCommerce accepts over HTTPS
  (https://developer.woocommerce.com/docs/apis/rest-api/authentication/).
* :class:`RouteGrants`: bearer tokens holding grants, each route needing one, e.g. Magento's ACL
  resource per ``webapi.xml`` route
  (https://developer.adobe.com/commerce/webapi/get-started/authentication/gs-authentication-token/).
"""
from __future__ import annotations

import base64
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from sandbox.kit.standin import Call

Refusal = Callable[[], JSONResponse]


@dataclass(frozen=True)
class HeaderToken:
    """``header`` must equal the state's ``attr``; anything else gets ``refusal()``."""

    header: str
    refusal: Refusal
    attr: str = "token"

    def __call__(self, call: Call[Any]) -> JSONResponse | None:
        return None if call.request.headers.get(self.header) == getattr(call.state, self.attr) else self.refusal()


@dataclass(frozen=True)
class BearerToken:
    """``Authorization: Bearer`` must carry the state's ``attr``; anything else gets ``refusal()``."""

    refusal: Refusal
    attr: str = "token"

    def __call__(self, call: Call[Any]) -> JSONResponse | None:
        expected = f"Bearer {getattr(call.state, self.attr)}"
        return None if call.request.headers.get("Authorization") == expected else self.refusal()


def basic_credentials(request: Request, query_keys: tuple[str, str] | None = None
                      ) -> tuple[str | None, str | None]:
    """(user, password) from ``Authorization: Basic``, else from the two ``query_keys``, else Nones."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return user, password
        except (ValueError, UnicodeDecodeError):
            return None, None
    if query_keys and request.query_params.get(query_keys[0]):
        return request.query_params.get(query_keys[0]), request.query_params.get(query_keys[1])
    return None, None


@dataclass(frozen=True)
class KeyAndSecret:
    """Basic auth (or ``query_keys``) checked against the state's ``key_attr`` / ``secret_attr``,
    with a refusal for each way it can fail: nothing sent, wrong key, wrong secret."""

    missing: Callable[[Request], JSONResponse]
    bad_key: Refusal
    bad_secret: Refusal
    key_attr: str = "consumer_key"
    secret_attr: str = "consumer_secret"
    query_keys: tuple[str, str] | None = ("consumer_key", "consumer_secret")

    def __call__(self, call: Call[Any]) -> JSONResponse | None:
        key, secret = basic_credentials(call.request, self.query_keys)
        if key is None:
            return self.missing(call.request)
        if key != getattr(call.state, self.key_attr):
            return self.bad_key()
        if secret != getattr(call.state, self.secret_attr):
            return self.bad_secret()
        return None


@dataclass(frozen=True)
class RouteGrants:
    """Each route declared through :meth:`route` needs one grant (None: anonymous); the bearer
    token's grants are ``grants(state, token)`` (empty for a token the instance does not know or
    that has lapsed), ``everything`` is the grant that holds every other. A route the token may
    not use gets ``refusal(needed)``."""

    grants: Callable[[Any, str], Collection[str]]
    refusal: Callable[[str], JSONResponse]
    everything: str | None = None
    needs: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def route(self, kit: Any, method: str, path: str, need: str | None) -> Callable[[Any], Any]:
        """Serve ``method path`` on ``kit.api``, needing ``need``."""
        self.needs[(method, kit.api.prefix + path)] = need
        return kit.api.api_route(path, methods=[method])  # type: ignore[no-any-return]

    def __call__(self, call: Call[Any]) -> JSONResponse | None:
        need = self.needs.get((call.request.method, call.request.scope["route"].path))
        if need is None:
            return None
        held = self.grants(call.state, call.request.headers.get("Authorization", "").removeprefix("Bearer "))
        return None if need in held or (self.everything is not None and self.everything in held) else self.refusal(need)
