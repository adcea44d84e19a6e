"""OAuth 1.0a request signatures verified for real, as NetSuite's token-based authentication needs.

The ``Authorization: OAuth realm=…, oauth_…`` header is parsed, the signature base string built
from the method, the normalised URL and every oauth, query and form parameter (RFC 5849 §3.4.1:
https://www.rfc-editor.org/rfc/rfc5849#section-3.4.1), and the HMAC recomputed from the consumer
and token secrets the instance holds. NetSuite accepts ``HMAC-SHA256`` only and wants a realm equal
to the account id, a recent timestamp and an unused nonce
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1534941088.html).
This implementation is independent of the connector's signer, so each checks the other.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from fastapi.responses import JSONResponse

from sandbox.kit.standin import Call

#: Shortest nonce accepted.
MIN_NONCE = 6


def pct(value: str) -> str:
    """RFC 5849 §3.6 percent-encoding."""
    return quote(value, safe="-._~")


def base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.port and not ((parts.scheme == "http" and parts.port == 80) or
                           (parts.scheme == "https" and parts.port == 443)):
        host = f"{host}:{parts.port}"
    uri = f"{parts.scheme.lower()}://{host}{parts.path}"
    normalized = "&".join(f"{k}={v}" for k, v in sorted((pct(k), pct(v)) for k, v in params))
    return "&".join((method.upper(), pct(uri), pct(normalized)))


def parse_oauth_header(value: str) -> dict[str, str] | None:
    if not value.startswith("OAuth "):
        return None
    return {k: unquote(v) for k, v in re.findall(r'([A-Za-z_]+)="([^"]*)"', value[6:])}


def same_realm(given: str, account: str) -> bool:
    """NetSuite realms compare upper-case with ``-`` written ``_`` (sandbox accounts: ``123_SB1``)."""
    return given.upper().replace("-", "_") == account.upper().replace("-", "_")


def signature(method: str, url: str, params: list[tuple[str, str]], consumer_secret: str,
              token_secret: str) -> str:
    key = f"{pct(consumer_secret)}&{pct(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), base_string(method, url, params).encode(),
                                     hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class OAuth1:
    """Verifies the call against ``state.credentials`` (``consumer_key``, ``consumer_secret``,
    ``token_id``, ``token_secret``), ``state.timestamp_tolerance_s`` and ``state.nonces``; the
    instance name is the realm. ``refusal(call, reason)`` is the platform's 401."""

    refusal: Callable[[Call[Any], str], JSONResponse]

    def __call__(self, call: Call[Any]) -> JSONResponse | None:
        reason = self.problem(call)
        return None if reason is None else self.refusal(call, reason)

    def problem(self, call: Call[Any]) -> str | None:
        """Why the header is refused, or None when it is valid (the nonce is then used up)."""
        request, state = call.request, call.state
        fields = parse_oauth_header(request.headers.get("Authorization", ""))
        if fields is None:
            return "no OAuth Authorization header"
        if not same_realm(fields.get("realm", ""), state.name):
            return f"realm {fields.get('realm')!r} is not this account"
        if fields.get("oauth_signature_method") != "HMAC-SHA256":
            return f"signature method {fields.get('oauth_signature_method')!r} is not HMAC-SHA256"
        creds = state.credentials
        if fields.get("oauth_consumer_key") != creds["consumer_key"]:
            return "unknown consumer key"
        if fields.get("oauth_token") != creds["token_id"]:
            return "unknown token"
        try:
            stamp = int(fields.get("oauth_timestamp", ""))
        except ValueError:
            return "timestamp missing"
        if abs(time.time() - stamp) > state.timestamp_tolerance_s:
            return "timestamp outside the allowed window"
        nonce = fields.get("oauth_nonce", "")
        if len(nonce) < MIN_NONCE:
            return f"nonce shorter than {MIN_NONCE} characters"
        params = [(k, v) for k, v in fields.items() if k.startswith("oauth_") and k != "oauth_signature"]
        params += parse_qsl(request.url.query, keep_blank_values=True)
        if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            params += parse_qsl(call.raw.decode(), keep_blank_values=True)
        expected = signature(request.method, str(request.url), params, creds["consumer_secret"], creds["token_secret"])
        if not hmac.compare_digest(expected, fields.get("oauth_signature", "")):
            return "signature does not match"
        with state.lock:
            if nonce in state.nonces:
                return "nonce already used"
            state.nonces.add(nonce)
        return None
