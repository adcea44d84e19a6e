"""A reply draft posted to the ticket's helpdesk as an internal note (an agent reads it there and
sends it: we never write to the customer), as a row a sweeper finds again.

One ``support_notes`` row per draft, written in the draft's transaction. The post itself happens
between two transactions (``flows.support_notes``): :func:`claim` leases the row, the helpdesk
connector of the ticket's source is called with no transaction open, :func:`record_done` or
:func:`record_failure` writes the answer. A ticket whose source has no helpdesk connector (the
command line, email) keeps its note ``pending`` — the sweeper sends only notes of sources a
connector serves — and the draft is read with ``backorders tickets draft N`` and ``why ticket``.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from domain.core.models import SupportDraft, SupportNote, SupportTicket

#: Longer than a helpdesk call with its retries; a row in flight longer had its worker die.
LEASE = timedelta(minutes=5)
#: Posts that failed (or died) before the sweeper stops sending one; ``last_error`` says why.
MAX_ATTEMPTS = 8


def _money(cents: int | None) -> str:
    return f"{(cents or 0) / 100:,.2f}"


def facts_lines(facts: dict[str, Any]) -> list[str]:
    """The facts a draft used, one line each, for the note and ``why ticket``."""
    lines = []
    for order in facts.get("orders", []):
        lines.append(f"order {order['number']}: {order['status']}, total {_money(order['total_cents'])} "
                     f"{order['currency']}")
        for b in order["backorders"]:
            options = ", ".join(b["options"]) or "none"
            subs = ", ".join(s["sku"] for s in b["substitutes"])
            lines.append(f"  backorder {b['id']} {b['item']} ×{b['quantity']}: {b['state']}, ETA {b['eta'] or 'unknown'}"
                         f", options {options}" + (f" (substitutes {subs})" if subs else ""))
        for s in order["shipments"]:
            scan = s["last_scan"]
            lines.append(f"  parcel {s['carrier']} {s['tracking_number']}: {s['status']}"
                         + (f", last scan {scan['at'][:16]} {scan['description']}" if scan else ""))
        rma = order.get("return")
        if rma:
            label = rma["label"] or {}
            lines.append(f"  return {rma['rma']}: {rma['state']}" + (f", label {label.get('carrier') or ''} "
                                                                   f"{label.get('tracking_number') or ''}".rstrip()
                                                                   if label else ", no label yet"))
        for r in order["refunds"]:
            lines.append(f"  refund {r['decision']} {_money(r['amount_cents'])} {r['currency']} ({r['rule']}): "
                         f"{r['status']}")
    return lines


def body_for(draft: SupportDraft) -> str:
    """The internal note: the draft, what an answer applied, and the facts it used."""
    head = (f"Reply draft v{draft.version} ({draft.template}) for an agent to send"
            + ("; tier-1 macro" if draft.auto_answer else "") + ("; it asks the customer" if draft.asks else ""))
    parts = [head, "", draft.body.strip(), ""]
    if draft.applied:
        a = draft.applied
        parts.append(f"Applied from this ticket: {a['choice']} on backorder {a['backorder_id']}"
                     + (f" (substitute {a['substitute']})" if a.get("substitute") else "") + f": {a['result']}")
    parts.append("Facts used:")
    parts += [f"  - {line.strip()}" if line.startswith(" ") else f"- {line}" for line in facts_lines(draft.facts)] \
        or ["- no order found for this customer"]
    return "\n".join(parts)


def request(session: Session, draft: SupportDraft, ticket: SupportTicket, now: datetime) -> SupportNote:
    note = SupportNote(draft_id=draft.id, ticket_id=ticket.id, source=ticket.source, body=body_for(draft),
                       state="pending", created_at=now, updated_at=now)
    session.add(note)
    session.flush()
    return note


def claim(session: Session, note_id: int, now: datetime) -> SupportNote | None:
    """Take the note for posting, or None: posted, failed, held by another worker, or superseded
    by a newer draft of the same ticket (only the newest is posted)."""
    note = session.scalar(select(SupportNote).where(SupportNote.id == note_id).with_for_update(skip_locked=True))
    if note is None or note.state not in ("pending", "in_flight"):
        return None
    if note.state == "in_flight" and note.lease_until is not None and note.lease_until > now:
        return None
    newest = session.scalar(select(SupportNote.id).where(SupportNote.ticket_id == note.ticket_id)
                            .order_by(SupportNote.id.desc()).limit(1))
    if newest != note.id:
        note.state, note.last_error, note.lease_until, note.updated_at = "failed", "superseded by a newer draft", None, now
        return None
    note.state, note.lease_until, note.updated_at = "in_flight", now + LEASE, now
    note.attempts += 1
    return note


def record_done(session: Session, note_id: int, external_ref: str | None, now: datetime) -> None:
    note = session.scalar(select(SupportNote).where(SupportNote.id == note_id).with_for_update())
    if note is None or note.state == "posted":
        return
    note.state, note.external_ref, note.posted_at = "posted", external_ref, now
    note.lease_until, note.last_error, note.updated_at = None, None, now


def record_failure(session: Session, note_id: int, error: str, now: datetime, *, permanent: bool) -> None:
    """Transient: back to pending (the task retries, the sweeper re-sends); permanent or too many
    attempts: failed, with the reason."""
    note = session.scalar(select(SupportNote).where(SupportNote.id == note_id).with_for_update())
    if note is None or note.state not in ("pending", "in_flight"):
        return
    note.last_error, note.lease_until, note.updated_at = error[:2000], None, now
    note.state = "failed" if permanent or note.attempts >= MAX_ATTEMPTS else "pending"


def stranded(session: Session, sources: Iterable[str], now: datetime, older_than: timedelta,
             limit: int = 200) -> list[int]:
    """Notes of these sources nobody is posting: pending longer than ``older_than`` (their message
    was lost, or their connector arrived since) or in flight past their lease."""
    names = sorted(set(sources))
    if not names:
        return []
    return list(session.scalars(select(SupportNote.id).where(SupportNote.source.in_(names), or_(
        (SupportNote.state == "pending") & (SupportNote.updated_at < now - older_than),
        (SupportNote.state == "in_flight") & (SupportNote.lease_until < now)))
        .order_by(SupportNote.id).limit(limit)))


def of_ticket(session: Session, ticket_id: int) -> dict[int, SupportNote]:
    """Each draft's note, by draft id."""
    return {n.draft_id: n for n in session.scalars(select(SupportNote).where(SupportNote.ticket_id == ticket_id))}
