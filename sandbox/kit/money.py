"""Money as the platforms write it (decimal strings) and as the stand-ins keep it (integer cents)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def to_cents(value: Any) -> int:
    """Platform money (``"199.00"`` or a number) to integer cents; ValueError when it is not an amount."""
    try:
        return int((Decimal(str(value)) * 100).quantize(Decimal(1)))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def to_money(amount_cents: int) -> str:
    """Integer cents as the platforms write money (``1999`` → ``"19.99"``)."""
    return f"{Decimal(amount_cents) / 100:.2f}"


def cents_or(value: Any, default: int) -> int:
    """:func:`to_cents`, or ``default`` when the value is not an amount (a request's bad field)."""
    try:
        return to_cents(value)
    except ValueError:
        return default


def whole_or(value: Any, default: int) -> int:
    """A whole number as a request sends it (``3``, ``"3"``), or ``default`` when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
