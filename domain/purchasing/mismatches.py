"""Quantity mismatches between what was ordered, what the vendor said it shipped, and what arrived.

Two checks, each raising one staff alert per cause with every figure behind it:

- ``po.asn_mismatch``: an advance ship notice's quantity for a line differs from what the line
  still expected — the PO quantity less what earlier ASNs or receipts already covered (for the
  first ASN of a line that is the PO line's quantity).
- ``po.receipt_mismatch``: goods booked in against a line that has an ASN differ from what the
  ASN said was still on its way (ASN'd units not yet received).

Each check also stores its finding on the purchase-order event (``mismatches`` in the ``asn`` /
``received`` event data), which is what the vendor scorecard counts. Functions here return the
outbox ids of the alert messages; the caller delivers them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from domain.core.business_config import RouteConfig
from domain.messaging import alerts

ASN_MISMATCH, RECEIPT_MISMATCH = "po.asn_mismatch", "po.receipt_mismatch"
TEMPLATE = "po_mismatch"


@dataclass(frozen=True)
class Mismatch:
    """One line whose figures disagree. ``expected`` is what the rule compared against."""

    kind: str  # "asn" or "receipt"
    sku_id: int
    sku: str
    title: str
    po_qty: int
    asn_qty: int | None
    received_qty: int | None
    expected: int

    @property
    def actual(self) -> int:
        return int(self.asn_qty if self.kind == "asn" else self.received_qty or 0)

    @property
    def difference(self) -> int:
        """Actual minus expected: negative is short, positive is over."""
        return self.actual - self.expected

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "difference": self.difference}


def asn_expected(po_qty: int, shipped_before: int, received_before: int) -> int:
    """What an ASN for a line should say: the units no earlier ASN or receipt covered."""
    return max(0, po_qty - max(shipped_before, received_before))


def check_asn(sku_id: int, sku: str, title: str, po_qty: int, shipped_before: int, received_before: int,
              asn_qty: int) -> Mismatch | None:
    expected = asn_expected(po_qty, shipped_before, received_before)
    if asn_qty == expected:
        return None
    return Mismatch("asn", sku_id, sku, title, po_qty, asn_qty, None, expected)


def check_receipt(sku_id: int, sku: str, title: str, po_qty: int, shipped_qty: int, received_before: int,
                  received_qty: int) -> Mismatch | None:
    """A line nobody sent an ASN for has nothing to compare a receipt with: no finding."""
    if shipped_qty <= 0:
        return None
    expected = max(0, shipped_qty - received_before)
    if received_qty == expected:
        return None
    return Mismatch("receipt", sku_id, sku, title, po_qty, shipped_qty, received_qty, expected)


def _sentence(m: Mismatch, po_number: str, vendor: str) -> str:
    gap = f"{abs(m.difference)} {'short' if m.difference < 0 else 'over'}"
    if m.kind == "asn":
        return (f"{po_number} ({vendor}): the ship notice for {m.sku} says {m.asn_qty} units; the PO line is for "
                f"{m.po_qty} and {m.expected} were still expected ({gap}).")
    return (f"{po_number} ({vendor}): {m.received_qty} units of {m.sku} were received; the ship notice said "
            f"{m.asn_qty} and {m.expected} were still on their way ({gap}). The PO line is for {m.po_qty}.")


def raise_alerts(session: Session, mismatches: Sequence[Mismatch], *, po_id: int, po_number: str, vendor: str,
                 cause: str, routes: Sequence[RouteConfig]) -> list[int]:
    """One alert per mismatched line and cause (``cause`` names the ASN or receipt event, so the
    same finding processed twice alerts once); returns the outbox ids to deliver."""
    specs = []
    for m in mismatches:
        event = ASN_MISMATCH if m.kind == "asn" else RECEIPT_MISMATCH
        detail = _sentence(m, po_number, vendor)
        context = {"event": event, "kind": m.kind, "po_id": po_id, "po_number": po_number, "vendor": vendor,
                   "sku": m.sku, "title": m.title, "po_qty": m.po_qty, "asn_qty": m.asn_qty,
                   "received_qty": m.received_qty, "expected": m.expected, "difference": m.difference,
                   "detail": detail}
        specs.append(alerts.AlertSpec(event, f"{event}:{po_id}:{m.sku_id}:{cause}", detail, context,
                                      sku_id=m.sku_id, template=TEMPLATE))
    return alerts.raise_alerts(session, specs, routes)
