"""OAuth 2.0 client credentials (RFC 6749 §4.4, https://www.rfc-editor.org/rfc/rfc6749#section-4.4)
as a ``requests`` auth: a bearer token fetched once and kept until shortly before it expires.

One class, :class:`ClientCredentials`, serves every platform; what differs between them is a
parameter:

* how the token request carries the credentials: a JSON body ``{client_id, client_secret,
  grant_type, audience}`` (Flexport: ``POST https://api.flexport.com/oauth/token`` with
  ``audience: "https://api.flexport.com"``, https://developers.flexport.com/tutorials/using-api-credentials/)
  or HTTP Basic ``client_id:secret`` with the form ``grant_type=client_credentials`` (``basic_auth=True``;
  PayPal's REST APIs, https://developer.paypal.com/api/rest/authentication/, whose other settings
  :meth:`ClientCredentials.over_basic_auth` presets);
* where the token is kept: per process, keyed by token URL and client id (``per_process=True``;
  Flexport allows ten token requests a day and connectors are built per task, so a worker running a
  hundred polls a day still asks for one token a day), or per connector;
  Salesforce B2C Commerce's Account Manager uses the Basic flavour kept per process: it answers
  ``expires_in: 1799`` and rate-limits its token endpoint
  (https://help.salesforce.com/s/articleView?id=000927357&type=1);
* whether a 401 with a kept token (revoked or expired early) drops it and sends that call once more
  with a fresh one (``retry_on_401=True``, PayPal);
* the ``scope`` the token is asked for, sent in the form and part of the key a token is kept under
  (Account Manager tokens for the B2C Commerce API name the tenant and the API families,
  ``SALESFORCE_COMMERCE_API:{tenant} sfcc.inventory.availability.rw``:
  https://developer.salesforce.com/docs/commerce/commerce-api/guide/authorization-for-admin-apis.html );
* how early a token is renewed and how long one lives when its answer names no ``expires_in``.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import requests
from requests.auth import AuthBase

from connectors.errors import AuthError, TransientError
from connectors.http import classify_response
from connectors.values import ClockFn

#: A token is renewed this long before the expiry its answer announced (Flexport's preset).
RENEW_EARLY_S = 300.0
DEFAULT_LIFETIME_S = 24 * 3600.0
#: A token is renewed this many seconds before the provider says it expires (PayPal's preset).
BASIC_RENEW_EARLY_S = 60.0


@dataclass
class _Kept:
    token: str
    expires_at: float


_KEPT: dict[tuple[str, str], _Kept] = {}
_LOCK = threading.Lock()


def forget_tokens() -> None:
    """Drop every token kept per process (tests; an operator rotating credentials restarts the process)."""
    with _LOCK:
        _KEPT.clear()


class ClientCredentials(AuthBase):
    """``Authorization: Bearer <token>`` from the token endpoint, fetched when none is kept or it
    is about to expire; the variations between platforms are the keyword parameters (module doc)."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, *, basic_auth: bool = False,
                 audience: str | None = None, per_process: bool = False, retry_on_401: bool = False,
                 renew_early_s: float = RENEW_EARLY_S, default_lifetime_s: float = DEFAULT_LIFETIME_S,
                 platform: str = "", timeout_s: float = 10.0, clock: ClockFn = time.time,
                 scope: str | None = None) -> None:
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.scope = scope
        self.basic_auth, self.audience, self.retry_on_401 = basic_auth, audience, retry_on_401
        self.renew_early_s, self.default_lifetime_s = renew_early_s, default_lifetime_s
        self.platform, self.timeout_s, self.clock = platform, timeout_s, clock
        self._kept: dict[tuple[str, str], _Kept] = _KEPT if per_process else {}
        self._lock = _LOCK if per_process else threading.Lock()

    @classmethod
    def over_basic_auth(cls, token_url: str, client_id: str, client_secret: str, **options: Any) -> ClientCredentials:
        """HTTP Basic credentials, the token kept per connector, renewed a minute early and a call
        answered 401 sent once more with a fresh token (PayPal's flavour); ``options`` override."""
        preset: dict[str, Any] = {"retry_on_401": True, "renew_early_s": BASIC_RENEW_EARLY_S, "default_lifetime_s": 0.0}
        return cls(token_url, client_id, client_secret, basic_auth=True, **{**preset, **options})

    @property
    def _key(self) -> tuple[str, str]:
        return (self.token_url, f"{self.client_id} {self.scope}" if self.scope else self.client_id)

    def token(self) -> str:
        """The kept token, or a new one when none is kept or it is about to expire."""
        with self._lock:
            kept = self._kept.get(self._key)
            if kept is not None and kept.expires_at - self.renew_early_s > self.clock():
                return kept.token
            fresh = self._fetch()
            self._kept[self._key] = fresh
            return fresh.token

    def drop(self, token: str) -> None:
        """Forget ``token`` if it is still the kept one (the platform no longer takes it)."""
        with self._lock:
            kept = self._kept.get(self._key)
            if kept is not None and kept.token == token:
                del self._kept[self._key]

    def _fetch(self) -> _Kept:
        try:
            if self.basic_auth:
                form = {"grant_type": "client_credentials", **({"scope": self.scope} if self.scope else {})}
                response = requests.post(self.token_url, auth=(self.client_id, self.client_secret), data=form,
                                         headers={"Accept": "application/json"}, timeout=self.timeout_s)
            else:
                body: dict[str, Any] = {"client_id": self.client_id, "client_secret": self.client_secret,
                                        "grant_type": "client_credentials"}
                if self.audience:
                    body["audience"] = self.audience
                response = requests.post(self.token_url, json=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise TransientError(f"{self.platform} token request to {self.token_url} failed: "
                                 f"{exc.__class__.__name__}: {exc}", platform=self.platform) from exc
        error = classify_response(response, platform=self.platform)
        if isinstance(error, TransientError):
            raise error
        if error is not None:
            raise AuthError(f"{self.platform} token request refused ({response.status_code}): {response.text[:200]}",
                            status_code=response.status_code, platform=self.platform, body=response.text[:500])
        answer = response.json()
        lifetime = float(answer.get("expires_in") or self.default_lifetime_s)
        return _Kept(str(answer["access_token"]), self.clock() + lifetime)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        if self.retry_on_401:
            request.register_hook("response", self._retry_once(token))
        return request

    def _retry_once(self, token: str) -> Callable[..., Any]:
        def handle(response: requests.Response, **kwargs: Any) -> requests.Response:
            if response.status_code != 401 or getattr(response.request, "_retried_auth", False):
                return response
            self.drop(token)
            again = response.request.copy()
            again.headers["Authorization"] = f"Bearer {self.token()}"
            again._retried_auth = True  # type: ignore[attr-defined]
            again.hooks["response"] = []
            response.content  # noqa: B018  (read, so the connection is released)
            retried = response.connection.send(again, **kwargs)
            retried.history.append(response)
            retried.request = again
            return retried
        return handle


class RefreshTokenGrant(AuthBase):
    """An access token from an OAuth 2.0 refresh-token grant (RFC 6749 §6,
    https://www.rfc-editor.org/rfc/rfc6749#section-6), sent as ``Authorization: {scheme} <token>``.

    Zoho's accounts server takes the grant as query parameters, ``POST
    {accounts host}/oauth/v2/token?refresh_token=…&client_id=…&client_secret=…&grant_type=refresh_token``,
    and answers ``{"access_token", "expires_in": 3600, "api_domain", "token_type": "Bearer"}``; the
    API then wants ``Authorization: Zoho-oauthtoken <token>``
    (https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html). The token is
    kept per process (the token URL, client and a digest of the refresh token), renewed
    :data:`BASIC_RENEW_EARLY_S` before its expiry, and :meth:`refresh` drops the one a 401 answered
    so ``RestConnector.request`` sends the call once more with a new one (``Refreshable``).
    """

    _kept: ClassVar[dict[tuple[str, str, str], _Kept]] = {}

    def __init__(self, token_url: str, client_id: str, client_secret: str, refresh_token: str, *,
                 scheme: str = "Bearer", platform: str = "", timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.token_url, self.scheme, self.platform, self.timeout_s, self.clock = \
            token_url, scheme, platform, timeout_s, clock
        self.params = {"refresh_token": refresh_token, "client_id": client_id, "client_secret": client_secret,
                       "grant_type": "refresh_token"}
        self.key = (token_url, client_id, hashlib.sha256(refresh_token.encode()).hexdigest())
        self.used: str | None = None

    def token(self) -> str:
        with _LOCK:
            kept = self._kept.get(self.key)
            if kept is None or kept.expires_at - BASIC_RENEW_EARLY_S <= self.clock():
                kept = self._kept[self.key] = self._fetch()
            return kept.token

    def _fetch(self) -> _Kept:
        try:
            answer = requests.post(self.token_url, params=self.params, timeout=self.timeout_s,
                                   headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise TransientError(f"{self.platform} token: {exc.__class__.__name__}", platform=self.platform) from exc
        error = classify_response(answer, platform=self.platform)
        if error is not None:
            raise error
        body = answer.json()
        if not body.get("access_token"):  # Zoho answers a refused grant 200 {"error": "invalid_code"}
            raise AuthError(f"{self.platform} token refused: {body.get('error') or body}", platform=self.platform,
                            status_code=answer.status_code, body=answer.text[:500])
        return _Kept(str(body["access_token"]), self.clock() + float(body.get("expires_in") or 3600))

    def refresh(self) -> bool:
        """Drop the token a refused request carried (another connector may have replaced it already)."""
        if self.used is None:
            return False
        with _LOCK:
            kept = self._kept.get(self.key)
            if kept is not None and kept.token == self.used:
                self._kept.pop(self.key, None)
        return True

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.used = None
        self.used = self.token()
        request.headers["Authorization"] = f"{self.scheme} {self.used}"
        return request
