"""Flower's credentials, also asked by the ops console and ``/metrics``: one reading, one check."""
from __future__ import annotations

import base64
import binascii
import secrets


def configured_credentials() -> list[tuple[str, str]]:
    """The accepted ``(user, password)`` pairs: Flower's, from the environment or the embedded set-up."""
    from domain.core.env_settings import get_settings
    from workers.embedded import flower_credentials

    raw = get_settings().flower_basic_auth or flower_credentials() or ""
    pairs = []
    for item in raw.split(","):
        user, _, password = item.strip().partition(":")
        if user and password:
            pairs.append((user, password))
    return pairs


def authorised(header: str | None, accepted: list[tuple[str, str]]) -> bool:
    """``Authorization: Basic …`` names one of ``accepted``; compared in constant time, every pair tried."""
    if not header or not accepted:
        return False
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    if not sep:
        return False
    found = False
    for want_user, want_password in accepted:
        same = secrets.compare_digest(user.encode(), want_user.encode())
        same &= secrets.compare_digest(password.encode(), want_password.encode())
        found |= same
    return found
