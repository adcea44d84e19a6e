"""OAuth 2.0 refresh-token grant with rotation (RFC 6749 §6, https://www.rfc-editor.org/rfc/rfc6749#section-6),
the grant kept sealed in a durable vault so that a restart uses the newest refresh token.

Intuit (QuickBooks Online) answers every refresh with a ``refresh_token`` that may differ from the
one sent, and a client must keep the latest one
(https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0#refresh-the-token ,
https://blogs.intuit.com/2024/06/03/oauth-token-management-done-the-right-way/): the token request is
``POST https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer`` with HTTP Basic
``client_id:client_secret`` and the form ``grant_type=refresh_token&refresh_token=…``; the answer has
``access_token`` (valid one hour, ``expires_in``) and ``refresh_token``. An app that loses the rotated
token and sends the older one is refused ``400 {"error": "invalid_grant"}`` and needs the customer
to connect it again. So the grant is not kept in memory only:

* :class:`TokenVault` is where the grant lives between processes (the database in production:
  ``domain.core.oauth_grants``, handed to the connector as ``ConnectorConfig.token_vault``). Its
  :meth:`TokenVault.hold` renews under an exclusive lock of the key, so two workers never spend one
  refresh token twice: the second finds the first one's fresh access token and uses it.
* The vault holds the grant **sealed** (Fernet: AES-128-CBC + HMAC-SHA256, ``cryptography``) with a key
  derived from the app's client secret, which lives in the environment, never in the database: a
  copy of the table alone opens nothing, and no token is ever logged or shown (:class:`Grant`'s
  ``repr`` hides them; refusals carry the platform's error text, never the request).
* The grant remembers a fingerprint of the refresh token it descends from (the ``refresh_token``
  credential). When the operator connects the app again and sets a new credential, the stored
  chain is dropped for the new one; otherwise the stored (newest) token wins over the credential.

A grant that cannot be opened (the client secret changed) counts as none: the credential is used.
A stored refresh token the platform refuses (a database restored to an older point, a company
reset) is followed by one try with the credential before the refusal is raised.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import requests
from cryptography.fernet import Fernet, InvalidToken
from requests.auth import AuthBase

from connectors.errors import AuthError, TransientError
from connectors.http import classify_response

#: An access token is renewed this long before the expiry its answer announced.
RENEW_EARLY_S = 120.0


class TokenVault(Protocol):
    """Durable storage for one sealed grant per key."""

    def peek(self, key: str) -> str | None:
        """The sealed grant stored under ``key``, None when there is none."""

    def hold(self, key: str, renew: Callable[[str | None], str | None]) -> str | None:
        """Lock ``key``, call ``renew(stored)`` and store what it returns (None: keep what is
        stored); what is stored afterwards. An error from ``renew`` stores nothing."""


class MemoryVault:
    """A vault for one process (tests; a connector given none): the grant survives new connector
    instances, not a restart."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self.lock = threading.RLock()

    def peek(self, key: str) -> str | None:
        return self.rows.get(key)

    def hold(self, key: str, renew: Callable[[str | None], str | None]) -> str | None:
        with self.lock:
            new = renew(self.rows.get(key))
            if new is not None:
                self.rows[key] = new
            return self.rows.get(key)


PROCESS_VAULT = MemoryVault()


@dataclass(frozen=True)
class Grant:
    """What the vault keeps: the newest refresh token, the access token and when it expires."""

    refresh_token: str = field(repr=False)
    seed: str
    access_token: str | None = field(default=None, repr=False)
    expires_at: float = 0.0

    def usable(self, now: float) -> bool:
        return bool(self.access_token) and self.expires_at - RENEW_EARLY_S > now


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class Sealer:
    """Seals a :class:`Grant` with a key derived from the client secret."""

    def __init__(self, client_secret: str) -> None:
        digest = hashlib.sha256(b"backorders oauth grant\0" + client_secret.encode()).digest()
        self.fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, grant: Grant) -> str:
        plain = {"refresh_token": grant.refresh_token, "seed": grant.seed, "access_token": grant.access_token,
                 "expires_at": grant.expires_at}
        return self.fernet.encrypt(json.dumps(plain).encode()).decode()

    def open(self, sealed: str | None) -> Grant | None:
        if not sealed:
            return None
        try:
            return Grant(**json.loads(self.fernet.decrypt(sealed.encode())))
        except (InvalidToken, ValueError, TypeError):
            return None


class RotatingRefreshToken(AuthBase):
    """``Authorization: Bearer`` from a refresh-token grant whose refresh token rotates."""

    def __init__(self, *, token_url: str, client_id: str, client_secret: str, refresh_token: str, vault: TokenVault,
                 key: str, platform: str, timeout_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.token_url, self.client_id, self.secret = token_url, client_id, client_secret
        self.initial, self.seed = refresh_token, fingerprint(refresh_token)
        self.vault, self.key, self.platform, self.timeout_s, self.clock = vault, key, platform, timeout_s, clock
        self.sealer = Sealer(client_secret)
        self.kept: Grant | None = None
        self.refused: str | None = None
        self.exchanges = 0

    def current(self) -> str:
        """The kept access token while it is good, else the vault's, else one renewed now. Missing
        credentials are refused here, not when built: the web process checks webhooks without them."""
        if not (self.client_id and self.secret and self.initial):
            raise AuthError(f"{self.platform} credentials need client_id, client_secret and refresh_token",
                            platform=self.platform)
        for look in (lambda: self.kept, self.stored):  # the vault is asked only when nothing good is kept
            grant = look()
            if grant is not None and grant.usable(self.clock()) and grant.access_token != self.refused:
                self.kept = grant
                return str(grant.access_token)
        self.kept = self.sealer.open(self.vault.hold(self.key, self.renew))
        if self.kept is None or not self.kept.access_token:
            raise AuthError(f"{self.platform}: no access token could be obtained", platform=self.platform)
        return self.kept.access_token

    def stored(self) -> Grant | None:
        grant = self.sealer.open(self.vault.peek(self.key))
        return grant if grant is not None and grant.seed == self.seed else None

    def renew(self, sealed: str | None) -> str | None:
        """Under the vault's lock: keep a grant another process renewed meanwhile, else exchange
        the newest refresh token (the credential when the vault holds none of its chain)."""
        held = self.sealer.open(sealed)
        held = held if held is not None and held.seed == self.seed else None
        if held is not None and held.usable(self.clock()) and held.access_token != self.refused:
            return None
        try:
            return self.sealer.seal(self.exchange(held.refresh_token if held else self.initial))
        except AuthError:
            if held is None:
                raise  # a database restored to an older point, or a reset sandbox: the credential may still be good
            return self.sealer.seal(self.exchange(self.initial))

    def exchange(self, refresh_token: str) -> Grant:
        try:
            answer = requests.post(self.token_url, auth=(self.client_id, self.secret), timeout=self.timeout_s,
                                   data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                                   headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise TransientError(f"{self.platform} token: {exc.__class__.__name__}", platform=self.platform) from exc
        error = classify_response(answer, platform=self.platform)
        if error is not None and answer.status_code == 400 and "invalid_grant" in answer.text:
            raise AuthError(f"{self.platform}: the refresh token was refused (invalid_grant): connect the app "
                            f"again and set the new refresh_token credential", status_code=400, platform=self.platform)
        if error is not None:
            raise error
        body = answer.json()
        self.exchanges += 1
        return Grant(refresh_token=str(body.get("refresh_token") or refresh_token), seed=self.seed,
                     access_token=str(body["access_token"]),
                     expires_at=self.clock() + float(body.get("expires_in") or 3600))

    def refresh(self) -> bool:
        """A 401: this access token is no good any more; the next request renews (``Refreshable``)."""
        self.refused, self.kept = (self.kept.access_token if self.kept else None), None
        return True

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.current()}"
        return request
