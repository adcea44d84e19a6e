"""OAuth 2.0 client credentials (RFC 6749 §4.4, https://www.rfc-editor.org/rfc/rfc6749#section-4.4)
as a ``requests`` auth: one token, fetched with HTTP Basic ``client_id:secret`` and
``grant_type=client_credentials``, kept until shortly before ``expires_in`` runs out, then
fetched again. A 401 on a call made with a kept token (revoked or expired early) drops it and
sends that call once more with a fresh one, as ``requests``' digest auth re-sends after its
challenge. PayPal's REST APIs authenticate this way
(https://developer.paypal.com/api/rest/authentication/).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import requests
from requests.auth import AuthBase

from connectors.errors import TransientError
from connectors.http import classify_response

#: A token is renewed this many seconds before the provider says it expires.
EARLY_S = 60.0


class ClientCredentials(AuthBase):
    def __init__(self, token_url: str, client_id: str, secret: str, *, platform: str = "", timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url, self.client_id, self.secret = token_url, client_id, secret
        self.platform, self.timeout_s, self.clock = platform, timeout_s, clock
        self.token: str | None = None
        self.expires_at = 0.0
        self.fetched = 0
        self._lock = threading.Lock()

    def current(self) -> str:
        """The kept token, or a new one when none is kept or it is about to expire."""
        with self._lock:
            if self.token is None or self.clock() >= self.expires_at - EARLY_S:
                self._fetch()
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
