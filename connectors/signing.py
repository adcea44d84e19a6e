"""Webhook signature helpers shared by the platforms that sign with HMAC-SHA256.

Shopify (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries) and WooCommerce sign the
raw body with base64 HMAC-SHA256; comparisons are constant-time (``hmac.compare_digest``).
BigCommerce signs nothing: a subscription carries custom ``headers`` that every delivery sends
back (https://developer.bigcommerce.com/docs/integrations/webhooks#security), so a secret of ours
in one of them is the check (:func:`verify_shared_secret`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Mapping

from connectors.errors import SignatureError


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup over any mapping (Starlette, requests, a plain dict)."""
    getter = getattr(headers, "get", None)
    if getter is not None:
        value = getter(name)
        if value is not None:
            return value
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


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
