"""Finance notes for chargeback outcomes, and the rows a finance export lists beside refunds.

A dispute's outcome moves money no refund decision covers: lost or accepted, the disputed amount
stays with the cardholder (a chargeback loss); won, the provider reinstates it (no loss). Each
outcome is one ``finance_notes`` row, once per dispute and kind, with the amount signed in the
merchant's favour, the provider's reference, a GL note and the rule that wrote it, so the number
is explainable (``backorders why dispute ID``).

:func:`rows` is the seam the refund finance export reads: the same columns a refund row has
(kind, order, amount, currency, provider, provider reference, rule, GL note, time).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.chargebacks.order_sources import money
from domain.core.models import Dispute, FinanceNote, Order

RULE = "chargeback outcome: won → 0 (the disputed amount is reinstated), lost or accepted → minus the disputed amount"
PROVIDER_NAMES = {"stripe": "Stripe", "adyen": "Adyen", "paypal": "PayPal"}


def _gl_note(dispute: Dispute, outcome: str, order_number: str | None) -> str:
    amount = money(dispute.amount_cents, dispute.currency)
    where = f" on order {order_number}" if order_number else ""
    ref = f"{PROVIDER_NAMES.get(dispute.provider, dispute.provider)} dispute {dispute.dispute_ref}"
    reason = ", ".join(r for r in (dispute.reason_code, dispute.network_code and f"network {dispute.network_code}") if r)
    about = f" ({ref}" + (f", reason {reason}" if reason else "") + ")"
    if outcome == "won":
        return f"Chargeback won{where}: the disputed {amount} is reinstated{about}; no loss to book."
    if outcome == "accepted":
        return f"Chargeback accepted{where}: {amount} returned to the cardholder{about}; book as a chargeback loss."
    return f"Chargeback lost{where}: {amount} stays with the cardholder{about}; book as a chargeback loss."


def post(session: Session, dispute: Dispute, outcome: str, state_before: str, now: datetime) -> FinanceNote:
    """The note for this outcome, written once (a redelivered outcome finds it)."""
    order_number = session.scalar(select(Order.number).where(Order.id == dispute.order_id)) if dispute.order_id else None
    amount = 0 if outcome == "won" else -dispute.amount_cents
    kind = f"chargeback_{outcome}"
    session.execute(insert(FinanceNote).values(
        kind=kind, subject_type="dispute", subject_id=dispute.id, order_id=dispute.order_id, amount_cents=amount,
        currency=dispute.currency, provider=dispute.provider, reference=dispute.dispute_ref,
        gl_note=_gl_note(dispute, outcome, order_number), rule=RULE, created_at=now,
        figures={"disputed_cents": dispute.amount_cents, "state_before": state_before,
                 "evidence_submitted": dispute.submitted_at is not None, "provider_status": dispute.provider_status,
                 "payment_ref": dispute.payment_ref},
    ).on_conflict_do_nothing(index_elements=["subject_type", "subject_id", "kind"]))
    note = session.scalar(select(FinanceNote).where(FinanceNote.subject_type == "dispute",
                                                    FinanceNote.subject_id == dispute.id, FinanceNote.kind == kind))
    assert note is not None
    return note


def rows(session: Session, since: datetime | None = None, until: datetime | None = None) -> list[dict[str, Any]]:
    """Finance notes in time order, in the refund export's columns."""
    query = (select(FinanceNote, Order.number).outerjoin(Order, Order.id == FinanceNote.order_id)
             .order_by(FinanceNote.created_at, FinanceNote.id))
    if since is not None:
        query = query.where(FinanceNote.created_at >= since)
    if until is not None:
        query = query.where(FinanceNote.created_at < until)
    return [{"kind": note.kind, "order": number or "", "amount_cents": note.amount_cents, "currency": note.currency,
             "provider": note.provider, "provider_ref": note.reference, "rule": note.rule, "gl_note": note.gl_note,
             "at": note.created_at.isoformat(), "subject": f"{note.subject_type} {note.subject_id}"}
            for note, number in session.execute(query).tuples()]
