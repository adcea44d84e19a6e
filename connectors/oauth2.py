"""OAuth 2.0 client credentials (RFC 6749 §4.4, https://www.rfc-editor.org/rfc/rfc6749#section-4.4)
as a ``requests`` auth: a bearer token fetched once and kept until shortly before it expires.

Flexport's API credentials work this way: ``POST https://api.flexport.com/oauth/token`` with
``{client_id, client_secret, audience: "https://api.flexport.com", grant_type: "client_credentials"}``
answers a JWT valid for 24 hours, and a client may ask for at most 10 tokens a day
(https://developers.flexport.com/tutorials/using-api-credentials/). Connectors are built per task, so
the token is kept per process (keyed by token URL and client id), not per connector: a worker
running a hundred polls a day still asks for one token a day.

Two token requests are in use: :class:`ClientCredentialsToken` posts the credentials as a JSON
body with an ``audience`` and keeps the token per process (Flexport, which allows ten token
requests a day); :class:`ClientCredentials` authenticates the token request with HTTP Basic
``client_id:secret`` and form ``grant_type=client_credentials``, keeps the token per connector and,
on a 401 with a kept token (revoked or expired early), drops it and sends that call once more
with a fresh one (PayPal's REST APIs, https://developer.paypal.com/api/rest/authentication/). With
``shared=True`` that token is kept per process instead (keyed by token URL and client id, like the
first), so the connectors built for each task reuse it until shortly before its expiry: Salesforce
B2C Commerce's Account Manager answers ``expires_in: 1799`` and rate-limits its token endpoint
(https://help.salesforce.com/s/articleView?id=000927357&type=1).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import requests
from requests.auth import AuthBase

from connectors.errors import AuthError, TransientError
from connectors.http import classify_response
from connectors.values import ClockFn

#: A token is renewed this long before the expiry its answer announced.
RENEW_EARLY_S = 300.0
DEFAULT_LIFETIME_S = 24 * 3600.0


@dataclass
class _Kept:
    token: str
    expires_at: float


_KEPT: dict[tuple[str, str], _Kept] = {}
_LOCK = threading.Lock()


def forget_tokens() -> None:
    """Drop every kept token (tests; an operator rotating credentials restarts the process)."""
    with _LOCK:
        _KEPT.clear()


class ClientCredentialsToken(AuthBase):
    """``Authorization: Bearer <token>`` from the token endpoint, fetched when none is kept or it
    is about to expire. ``post`` is injectable so the token request uses the connector's session."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, *, audience: str | None = None,
                 post: Callable[..., requests.Response] | None = None, clock: ClockFn = time.time,
                 timeout_s: float = 10.0) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.audience = audience
        self.post = post or requests.post
        self.clock = clock
        self.timeout_s = timeout_s

    def token(self) -> str:
        key = (self.token_url, self.client_id)
        with _LOCK:
            kept = _KEPT.get(key)
            if kept is not None and kept.expires_at - RENEW_EARLY_S > self.clock():
                return kept.token
            fresh = self._fetch()
            _KEPT[key] = fresh
            return fresh.token

    def _fetch(self) -> _Kept:
        body: dict[str, Any] = {"client_id": self.client_id, "client_secret": self.client_secret,
                                "grant_type": "client_credentials"}
        if self.audience:
            body["audience"] = self.audience
        try:
            response = self.post(self.token_url, json=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise TransientError(f"token request to {self.token_url} failed: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"token request answered {response.status_code}",
                                 status_code=response.status_code, body=response.text[:500])
        if not response.ok:
            raise AuthError(f"token request refused ({response.status_code}): {response.text[:200]}",
                            status_code=response.status_code, body=response.text[:500])
        answer = response.json()
        lifetime = float(answer.get("expires_in") or DEFAULT_LIFETIME_S)
        return _Kept(str(answer["access_token"]), self.clock() + lifetime)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request


#: A token is renewed this many seconds before the provider says it expires.
BASIC_RENEW_EARLY_S = 60.0


class ClientCredentials(AuthBase):
    """A bearer token fetched with HTTP Basic credentials, kept per connector, refreshed once on a 401."""

    def __init__(self, token_url: str, client_id: str, secret: str, *, platform: str = "", timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, shared: bool = False) -> None:
        self.token_url, self.client_id, self.secret = token_url, client_id, secret
        self.platform, self.timeout_s, self.clock, self.shared = platform, timeout_s, clock, shared
        self.token: str | None = None
        self.expires_at = 0.0
        self.fetched = 0
        self._lock = _LOCK if shared else threading.Lock()

    def current(self) -> str:
        """The kept token, or a new one when none is kept or it is about to expire."""
        with self._lock:
            kept = _KEPT.get((self.token_url, self.client_id)) if self.shared else None
            if kept is not None:
                self.token, self.expires_at = kept.token, kept.expires_at
            if self.token is None or self.clock() >= self.expires_at - BASIC_RENEW_EARLY_S:
                self._fetch()
                if self.shared:
                    _KEPT[(self.token_url, self.client_id)] = _Kept(str(self.token), self.expires_at)
            assert self.token is not None
            return self.token

    def _fetch(self) -> None:
        try:
            answer = requests.post(self.token_url, auth=(self.client_id, self.secret), timeout=self.timeout_s,
                                   data={"grant_type": "client_credentials"}, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise TransientError(f"{self.platform} token: {exc.__class__.__name__}", platform=self.platform) from exc
        error = classify_response(answer, platform=self.platform)
        if error is not None:
            raise error
        body = answer.json()
        self.token, self.fetched = str(body["access_token"]), self.fetched + 1
        self.expires_at = self.clock() + float(body.get("expires_in", 0))

    def drop(self, token: str) -> None:
        with self._lock:
            if self.token == token:
                self.token = None
            if self.shared and getattr(_KEPT.get((self.token_url, self.client_id)), "token", None) == token:
                del _KEPT[(self.token_url, self.client_id)]

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.current()
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", self._retry_once(token))
        return request

    def _retry_once(self, token: str) -> Callable[..., Any]:
        def handle(response: requests.Response, **kwargs: Any) -> requests.Response:
            if response.status_code != 401 or getattr(response.request, "_retried_auth", False):
                return response
            self.drop(token)
            again = response.request.copy()
            again.headers["Authorization"] = f"Bearer {self.current()}"
            again._retried_auth = True  # type: ignore[attr-defined]
            again.hooks["response"] = []
            response.content  # noqa: B018  (read, so the connection is released)
            retried = response.connection.send(again, **kwargs)
            retried.history.append(response)
            retried.request = again
            return retried
        return handle
