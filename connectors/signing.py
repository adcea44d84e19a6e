"""Webhook signature helpers shared by the platforms that sign with HMAC-SHA256.

Shopify (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries) and WooCommerce sign the
raw body with base64 HMAC-SHA256; comparisons are constant-time (``hmac.compare_digest``).
BigCommerce signs nothing: a subscription carries custom ``headers`` that every delivery sends
back (https://developer.bigcommerce.com/docs/integrations/webhooks#security), so a secret of ours
in one of them is the check (:func:`verify_shared_secret`). A platform that can add neither a
header nor a signature (Odoo's "Send Webhook Notification" action posts to a URL and nothing else)
carries the secret in the address's query string: the receiver hands the query to the connector
as the pseudo-header :data:`QUERY_HEADER` (:func:`query_value`), set by the receiver itself, so a
sender cannot supply it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Mapping
from urllib.parse import parse_qs

from connectors.errors import SignatureError

#: The delivery's query string, as the receiver (``workers.webhooks``) passes it beside the headers;
#: it replaces any header of that name the sender sent, and it is never stored with the event.
QUERY_HEADER = "x-backorders-query"


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup over any mapping (Starlette, requests, a plain dict)."""
    getter = getattr(headers, "get", None)
    lowered = name.lower()
    if getter is not None:
        # exact, then lower case (how ASGI servers and the receiver hand headers over) before a
        # scan lowering every key: declared names are mixed case, and three scans of a dozen
        # headers were 3 µs of every webhook (measured)
        value = getter(name)
        if value is None and lowered != name:
            value = getter(lowered)
        if value is not None:
            return value
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def query_value(headers: Mapping[str, str], name: str) -> str | None:
    """The first value of query parameter ``name`` of the delivery's address (:data:`QUERY_HEADER`)."""
    values = parse_qs(header_value(headers, QUERY_HEADER) or "", keep_blank_values=True).get(name)
    return values[0] if values else None


def hmac_sha256_base64(secret: str | bytes, body: bytes) -> str:
    """``base64(HMAC-SHA256(secret, raw body))``: the Shopify and WooCommerce webhook signature."""
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    """Compare secrets without leaking how many leading bytes matched."""
    a_b = a.encode() if isinstance(a, str) else a
    b_b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_b, b_b)


def verify_base64_hmac(secret: str | None, body: bytes, signature: str | None) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is the base64 HMAC-SHA256 of ``body``."""
    if not secret:
        raise SignatureError("no webhook secret configured for this store")
    if not signature:
        raise SignatureError("signature header missing")
    if not constant_time_equals(hmac_sha256_base64(secret, body), signature.strip()):
        raise SignatureError("signature does not match the body")


def hmac_sha256_matches(secret: str | bytes, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is HMAC-SHA256 of ``body`` as hex (any case) or base64, for platforms
    whose docs do not say which (Lightspeed X-Series); both compared in constant time."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, body, hashlib.sha256).digest()
    return constant_time_equals(digest.hex(), signature.lower()) or \
        constant_time_equals(base64.b64encode(digest).decode(), signature)


def verify_shared_secret(secret: str | None, body: bytes, value: str | None) -> None:
    """Raise :class:`SignatureError` unless the header ``value`` is the store's secret itself (a
    platform that echoes a header we set at subscription instead of signing the body)."""
    if not secret:
        raise SignatureError("no webhook secret configured for this store")
    if not value:
        raise SignatureError("secret header missing")
    if not constant_time_equals(secret, value.strip()):
        raise SignatureError("secret header does not match")


def keyed_fields(value: str | None) -> dict[str, str]:
    """A header of ``key=value`` pairs (``signature=abc,algorithm=HMAC-SHA256``, Lightspeed
    X-Series' ``X-Signature``) as a dict with lower-case keys. Only the first ``=`` of each pair
    splits it, so base64 padding inside a value survives."""
    fields: dict[str, str] = {}
    for part in (value or "").split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key.strip().lower()] = val.strip()
    return fields


def verify_keyed_hmac(secret: str | None, body: bytes, header: str | None) -> None:
    """Raise :class:`SignatureError` unless ``header`` (``signature=…,algorithm=HMAC-SHA256``) holds
    the HMAC-SHA256 of ``body``, hex or base64 (:func:`hmac_sha256_matches`); an algorithm other
    than HMAC-SHA256 is refused rather than guessed at."""
    if not secret:
        raise SignatureError("no client secret configured for this store")
    fields = keyed_fields(header)
    if not fields.get("signature"):
        raise SignatureError("signature header missing or has no signature")
    if (algorithm := fields.get("algorithm", "HMAC-SHA256").upper()) != "HMAC-SHA256":
        raise SignatureError(f"unsupported signature algorithm {algorithm}")
    if not hmac_sha256_matches(secret, body, fields["signature"]):
        raise SignatureError("signature does not match the body")
