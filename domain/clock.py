"""The one place the code asks what time it is, so tests can move it (freezegun patches this too)."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
