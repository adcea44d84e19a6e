"""A dispute's outcome (won, lost, accepted): a finance note, a note on the customer's case, the
case closed, the clock stopped and nothing more sent.

A later outcome replaces an earlier one (an Adyen ``CHARGEBACK_REVERSED`` after a
``SECOND_CHARGEBACK``): each is noted for finance under its own kind, once.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from domain.chargebacks import calls, deadlines, finance
from domain.cases import lifecycle
from domain.core.models import Dispute

WORDS = {"won": "won", "lost": "lost", "accepted": "accepted (not contested)"}


def record(session: Session, dispute: Dispute, outcome: str, now: datetime) -> None:
    """Close the dispute with ``outcome`` (the caller holds its lock); nothing when it is already so."""
    if outcome not in WORDS or dispute.state == outcome:
        return
    before = dispute.state
    dispute.state, dispute.outcome_at, dispute.updated_at = outcome, now, now
    note = finance.post(session, dispute, outcome, before, now)
    deadlines.cancel(session, dispute.id)
    calls.close_open_calls(session, dispute.id, f"the dispute was {outcome}", now)
    case = calls.case_of(session, dispute)
    if case is None:
        return
    submitted = "after the evidence was submitted" if dispute.submitted_at else "without evidence submitted"
    text = f"chargeback {WORDS[outcome]} {submitted} (was {before.replace('_', ' ')}); finance: {note.gl_note}"
    lifecycle.record(session, case, calls.ACTOR, "note", note=text, now=now, dispute_id=dispute.id, outcome=outcome,
                     finance_note_id=note.id, amount_cents=note.amount_cents)
    if case.state != "resolved":
        lifecycle.move(session, case, "resolved", actor=calls.ACTOR, note=f"chargeback {WORDS[outcome]}", now=now,
                       outcome=outcome)
