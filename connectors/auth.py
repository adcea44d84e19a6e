"""Auth schemes as ``requests.auth.AuthBase`` subclasses: a connector names one in ``build_auth``.

* :class:`HeaderToken` / :class:`BearerToken`: a static secret in a header;
* :class:`BasicAuth`: HTTP Basic (RFC 7617);
* :class:`OAuth1`: RFC 5849 one-legged / token-based signing, https://www.rfc-editor.org/rfc/rfc5849
* :class:`LoginToken`: a bearer token a login call hands out and a 401 takes again, e.g. Magento's
  admin token (``POST /V1/integration/admin/token``, four hours by default,
  https://developer.adobe.com/commerce/webapi/get-started/authentication/gs-authentication-token/).
* :class:`SessionCookies`: a login answered with session cookies (RFC 6265), sent back on every
  call, renewed before the session's timeout and once on a 401 (SAP Business One's Service Layer:
  ``POST /b1s/v1/Login`` → ``B1SESSION`` and ``ROUTEID``).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Hashable, Iterable, Mapping, Protocol, runtime_checkable
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from connectors.values import ClockFn


class HeaderToken(AuthBase):
    """A static secret in a named header, e.g. Shopify's ``X-Shopify-Access-Token``."""

    def __init__(self, header: str, token: str, prefix: str = "") -> None:
        self.header = header
        self.token = token
        self.prefix = prefix

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = f"{self.prefix}{self.token}"
        return request


class BearerToken(HeaderToken):
    """``Authorization: Bearer <token>`` (OAuth 2 access tokens, Business Central, Zoho, …)."""

    def __init__(self, token: str) -> None:
        super().__init__("Authorization", token, prefix="Bearer ")


class BasicAuth(HTTPBasicAuth):
    """HTTP Basic, e.g. WooCommerce ``consumer_key:consumer_secret`` over HTTPS."""


def oauth_percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8, then percent-encode everything but ALPHA / DIGIT / ``-._~``."""
    return quote(value.encode("utf-8"), safe="-._~")


def oauth_base_string_uri(url: str) -> str:
    """RFC 5849 §3.4.1.2: lower-case scheme and host, default port dropped, no query/fragment."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", "", ""))


def oauth_normalized_parameters(params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1.3.2: encode each name and value, sort by name then value, join."""
    encoded = sorted((oauth_percent_encode(k), oauth_percent_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def oauth_signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1: ``METHOD&enc(base-uri)&enc(normalized-params)``."""
    return "&".join((
        method.upper(),
        oauth_percent_encode(oauth_base_string_uri(url)),
        oauth_percent_encode(oauth_normalized_parameters(params)),
    ))


class OAuth1(AuthBase):
    """OAuth 1.0a one-legged / token-based signing (RFC 5849), as NetSuite TBA requires.

    NetSuite wants ``HMAC-SHA256`` and ``realm`` = the account id; the realm goes in the header
    but never into the signature base string (RFC 5849 §3.4.1.3.1). Query parameters and
    form-encoded body parameters are signed; JSON bodies are not (they are not parameters).
    ``nonce_fn`` and ``clock`` are injectable so a known test vector can be reproduced.
    """

    _DIGESTS: ClassVar[dict[str, Any]] = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}

    def __init__(self, consumer_key: str, consumer_secret: str, token: str = "", token_secret: str = "",
                 *, realm: str | None = None, signature_method: str = "HMAC-SHA256",
                 nonce_fn: Callable[[], str] | None = None, clock: ClockFn = time.time,
                 version: str | None = "1.0") -> None:
        if signature_method not in self._DIGESTS:
            raise ValueError(f"unsupported OAuth signature method {signature_method!r}")
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.token = token
        self.token_secret = token_secret
        self.realm = realm
        self.signature_method = signature_method
        self.nonce_fn = nonce_fn or (lambda: secrets.token_hex(16))
        self.clock = clock
        self.version = version

    def oauth_params(self) -> list[tuple[str, str]]:
        params = [
            ("oauth_consumer_key", self.consumer_key),
            ("oauth_nonce", self.nonce_fn()),
            ("oauth_signature_method", self.signature_method),
            ("oauth_timestamp", str(int(self.clock()))),
        ]
        if self.token:
            params.append(("oauth_token", self.token))
        if self.version:
            params.append(("oauth_version", self.version))
        return params

    def sign(self, method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
        """Base64 signature of the base string, keyed ``enc(consumer_secret)&enc(token_secret)``."""
        base = oauth_signature_base_string(method, url, params)
        key = f"{oauth_percent_encode(self.consumer_secret)}&{oauth_percent_encode(self.token_secret)}"
        digest = hmac.new(key.encode(), base.encode(), self._DIGESTS[self.signature_method]).digest()
        return base64.b64encode(digest).decode()

    def authorization_header(self, method: str, url: str, body_params: Iterable[tuple[str, str]] = ()) -> str:
        oauth = self.oauth_params()
        query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        signature = self.sign(method, url, [*query, *body_params, *oauth])
        fields = []
        if self.realm is not None:
            fields.append(f'realm="{oauth_percent_encode(self.realm)}"')
        fields += [f'{k}="{oauth_percent_encode(v)}"' for k, v in [*oauth, ("oauth_signature", signature)]]
        return "OAuth " + ", ".join(fields)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body_params: list[tuple[str, str]] = []
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("application/x-www-form-urlencoded") and request.body:
            raw = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
            body_params = parse_qsl(raw, keep_blank_values=True)
        request.headers["Authorization"] = self.authorization_header(
            request.method or "GET", request.url or "", body_params)
        return request


@runtime_checkable
class Refreshable(Protocol):
    """An auth scheme whose credential may lapse: ``refresh`` forgets it so the next request takes a
    new one; ``connectors.http.RestConnector.request`` calls it once when a request is refused 401."""

    def refresh(self) -> bool: ...


class LoginToken(AuthBase):
    """``Authorization: Bearer`` with a token ``login()`` obtains on the first request.

    The token is kept for the process under ``key`` (the login URL and user), so the connectors a
    worker builds task after task share one login instead of each making its own; a platform that
    answers 401 (the token expired or was revoked) makes :meth:`refresh` drop it, and the request
    is sent once more with a new one. A token another connector has already replaced is not
    dropped again, so a burst of 401s costs one login, not one each.
    """

    _tokens: ClassVar[dict[Hashable, str]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, key: Hashable, login: Callable[[], str]) -> None:
        self.key = key
        self.login = login
        self.used: str | None = None

    def token(self) -> str:
        with self._lock:
            token = self._tokens.get(self.key)
        if token is None:
            token = self.login()
            with self._lock:
                self._tokens[self.key] = token
        return token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.used = None  # a login refused here is not retried: wrong credentials stay wrong
        self.used = self.token()
        request.headers["Authorization"] = f"Bearer {self.used}"
        return request

    def refresh(self) -> bool:
        """Drop the token a refused request carried; False when that request carried none (its
        login was refused, and logging in again would only count one more failed attempt)."""
        if self.used is None:
            return False
        with self._lock:
            if self._tokens.get(self.key) == self.used:
                self._tokens.pop(self.key, None)
        return True


@dataclass(frozen=True)
class AuthFrom:
    """A declared auth scheme: builds the ``AuthBase`` from a store's resolved credentials."""

    make: Callable[[Mapping[str, str]], AuthBase]


def header_auth(header: str, credential: str, prefix: str = "") -> AuthFrom:
    """The ``credential`` secret in ``header`` (Shopify: ``X-Shopify-Access-Token`` ← ``access_token``)."""
    return AuthFrom(lambda creds: HeaderToken(header, creds.get(credential, ""), prefix))


class HeaderTokens(AuthBase):
    """Several static secrets, each in its own header (Cin7 Core's ``api-auth-accountid`` and
    ``api-auth-applicationkey``, https://help.core.cin7.com/hc/en-us/articles/9982480315407)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = dict(headers)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self.headers)
        return request


def headers_auth(**credentials: str) -> AuthFrom:
    """Each header (keyword, ``_`` for ``-``) ← the credential named: ``headers_auth(api_auth_accountid="account_id")``."""
    return AuthFrom(lambda creds: HeaderTokens({header.replace("_", "-"): creds.get(credential, "")
                                                for header, credential in credentials.items()}))


def bearer_auth(credential: str = "access_token") -> AuthFrom:
    """``Authorization: Bearer`` with the ``credential`` secret (RFC 6750)."""
    return AuthFrom(lambda creds: BearerToken(creds.get(credential, "")))


def basic_auth(user: str, password: str) -> AuthFrom:
    """HTTP Basic from two credential keys (WooCommerce ``consumer_key`` / ``consumer_secret``)."""
    return AuthFrom(lambda creds: BasicAuth(creds.get(user, ""), creds.get(password, "")))


#: A login: the session's cookies (name → value) and how long the session lasts, in seconds.
Login = Callable[[], tuple[dict[str, str], float]]


@dataclass
class CookieSession:
    """One logged-in session: its cookies and when to log in again. Kept per process and login
    (:func:`shared_session`), so connectors built task after task in one worker reuse it instead
    of opening a session each (a server counts them, and each lives until its timeout)."""

    cookies: dict[str, str] = field(default_factory=dict)
    renew_at: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


_SESSIONS: dict[tuple[str, ...], CookieSession] = {}
_SESSIONS_LOCK = threading.Lock()


def shared_session(key: tuple[str, ...]) -> CookieSession:
    """This process's session for ``key`` (service root, company, user, a digest of the password)."""
    with _SESSIONS_LOCK:
        return _SESSIONS.setdefault(key, CookieSession())


class SessionCookies(AuthBase):
    """Cookie-session auth: log in on first use, send the session's cookies on every other call.

    The session is renewed before it times out (``timeout − min(margin_s, timeout / 10)`` after
    the login: right whether the server counts the timeout from the login or from the last call),
    and a 401 — the server dropped the session (a restart, an administrator, an idle timeout we
    could not see) — logs in again and sends the same request once more, as ``requests``' digest
    auth answers its challenge (a 401 means the request was refused unprocessed, so a write is
    safe to repeat). A second 401 is the answer: the credentials themselves are refused. Calls to
    ``login_path`` (the login itself) pass untouched.
    """

    def __init__(self, login: Login, *, login_path: str, session: CookieSession | None = None,
                 clock: ClockFn = time.monotonic, margin_s: float = 60.0) -> None:
        self.login = login
        self.login_path = "/" + login_path.strip("/")
        self.session = session or CookieSession()
        self.clock = clock
        self.margin_s = margin_s

    def cookie_header(self, stale: str | None = None) -> str:
        """The cookies to send, logging in first when there is no session, it is about to time
        out, or ``stale`` (the header a 401 answered) is still the current one."""
        session = self.session
        with session.lock:
            if not session.cookies or self.clock() >= session.renew_at or stale == session.header:
                cookies, timeout_s = self.login()
                session.cookies = dict(cookies)
                session.renew_at = self.clock() + timeout_s - min(self.margin_s, timeout_s / 10)
            return session.header

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlsplit(request.url or "").path.endswith(self.login_path):
            return request
        request.headers["Cookie"] = self.cookie_header()
        request.register_hook("response", self.again_after_401)
        return request

    def again_after_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """On a 401: log in again and send the request once more; the second answer stands."""
        if response.status_code != 401 or getattr(response.request, "relogged", False):
            return response
        stale = response.request.headers.get("Cookie")
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        again = response.request.copy()
        again.headers["Cookie"] = self.cookie_header(stale=stale)
        again.relogged = True  # type: ignore[attr-defined]
        answer: requests.Response = response.connection.send(again, **kwargs)
        answer.history.append(response)
        answer.request = again
        return answer
