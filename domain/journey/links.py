"""Signed, expiring links for a customer's choice (wait, substitute, cancel for a refund or for
store credit) — no login needed.

A token is ``base64url(json) . base64url(HMAC-SHA256(secret, json))``. Changing any character
breaks the signature; a token past its expiry is refused even with a good signature. The secret
is ``SECRET_KEY``; rotating it invalidates every link already sent.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

CHOICES = ("wait", "substitute", "cancel", "credit")


class BadLink(ValueError):
    """Tampered, malformed or unknown: the page says the link is not valid."""


class ExpiredLink(BadLink):
    """Genuine but too old: the page says so and how to reach the store."""


@dataclass(frozen=True)
class LinkClaim:
    backorder_id: int
    choice: str
    expires_at: int
    substitute: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Strict: base64 ignores the spare low bits of a segment's last character, so several
    spellings decode to the same bytes; only the one ``_b64`` writes is accepted, so changing
    any character of a link breaks it."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the canonical encoding")
    return data


CUSTOMER_PURPOSE = b"backorder-link:"
PO_PURPOSE = b"po-link:"


def _mac(secret: str, payload: bytes, purpose: bytes = CUSTOMER_PURPOSE) -> bytes:
    """The purpose is part of what is signed, so a vendor's PO link never works as a customer's."""
    return hmac.new(secret.encode(), purpose + payload, hashlib.sha256).digest()


def _seal(secret: str, body: dict[str, Any], purpose: bytes = CUSTOMER_PURPOSE) -> str:
    """``base64url(json) . base64url(mac)`` of ``body``, signed for ``purpose``."""
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload, purpose))}"


def _opened(secret: str, token: str, purpose: bytes = CUSTOMER_PURPOSE) -> bytes:
    """The signed JSON of a genuine token for ``purpose``; :class:`BadLink` for anything else."""
    try:
        payload_part, mac_part = token.split(".")
        payload, mac = _unb64(payload_part), _unb64(mac_part)
    except (ValueError, TypeError) as exc:
        raise BadLink("malformed link") from exc
    if not hmac.compare_digest(mac, _mac(secret, payload, purpose)):
        raise BadLink("signature does not match")
    return payload


def sign(secret: str, claim: LinkClaim) -> str:
    body: dict[str, Any] = {"b": claim.backorder_id, "c": claim.choice, "e": claim.expires_at}
    if claim.substitute:
        body["s"] = claim.substitute
    return _seal(secret, body)


def verify(secret: str, token: str, now: datetime) -> LinkClaim:
    payload = _opened(secret, token)
    try:
        body = json.loads(payload)
        claim = LinkClaim(int(body["b"]), str(body["c"]), int(body["e"]), body.get("s"))
    except (ValueError, KeyError, TypeError) as exc:
        raise BadLink("malformed link") from exc
    if claim.choice not in CHOICES:
        raise BadLink("unknown choice")
    if now.timestamp() > claim.expires_at:
        raise ExpiredLink("link expired")
    return claim


def sign_po_link(secret: str, po_id: int, expires_at: int) -> str:
    """A vendor's link to confirm or change a purchase order's dates (no login)."""
    return _seal(secret, {"p": po_id, "e": expires_at}, PO_PURPOSE)


def verify_po_link(secret: str, token: str, now: datetime) -> int:
    """The purchase order id a genuine, unexpired vendor link names."""
    payload = _opened(secret, token, PO_PURPOSE)
    try:
        body = json.loads(payload)
        po_id, expires_at = int(body["p"]), int(body["e"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadLink("malformed link") from exc
    if now.timestamp() > expires_at:
        raise ExpiredLink("link expired")
    return po_id


CSAT_PURPOSE = b"csat-link:"


def sign_csat_link(secret: str, request_id: int, expires_at: int) -> str:
    """A customer's satisfaction-survey link (``/csat/{token}``); the score is picked on the page
    (or carried as ``?score=N`` by the email's five buttons, which is no secret)."""
    return _seal(secret, {"q": request_id, "e": expires_at}, CSAT_PURPOSE)


def verify_csat_link(secret: str, token: str, now: datetime) -> int:
    """The survey id a genuine, unexpired survey link names; a backorder or PO link never passes."""
    payload = _opened(secret, token, CSAT_PURPOSE)
    try:
        body = json.loads(payload)
        request_id, expires_at = int(body["q"]), int(body["e"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadLink("malformed link") from exc
    if now.timestamp() > expires_at:
        raise ExpiredLink("link expired")
    return request_id
