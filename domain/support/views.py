"""Tickets read back for the command line and ``why ticket N``: the list, one ticket with its links
and every decision (figures and reasons), and its trail. Nothing is recomputed."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Case, Order, SupportDecision, SupportTicket, SupportTicketLink


def row(ticket: SupportTicket) -> dict[str, Any]:
    return {"id": ticket.id, "source": ticket.source, "external_id": ticket.external_id,
            "customer_email": ticket.customer_email, "subject": ticket.subject, "channel": ticket.channel,
            "language": ticket.language, "received_at": ticket.received_at.isoformat(), "state": ticket.state,
            "intent": ticket.intent, "confidence": ticket.confidence, "sentiment": ticket.sentiment,
            "legal_threat": ticket.legal_threat, "priority": ticket.priority, "clv_cents": ticket.clv_cents,
            "clv_tier": ticket.clv_tier, "queue": ticket.queue, "owner": ticket.owner,
            "needs_human": ticket.needs_human, "auto_answer": ticket.auto_answer, "qa_sampled": ticket.qa_sampled}


def list_tickets(session: Session, *, queue: str | None = None, state: str | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:
    query = select(SupportTicket).order_by(SupportTicket.received_at.desc(), SupportTicket.id.desc()).limit(limit)
    if queue:
        query = query.where(SupportTicket.queue == queue)
    if state:
        query = query.where(SupportTicket.state == state)
    return [row(t) for t in session.scalars(query)]


def decisions(session: Session, ticket_id: int) -> list[SupportDecision]:
    return list(session.scalars(select(SupportDecision).where(SupportDecision.ticket_id == ticket_id)
                                .order_by(SupportDecision.id)))


def decision_dict(decision: SupportDecision) -> dict[str, Any]:
    return {"id": decision.id, "kind": decision.kind, "outcome": decision.outcome, "rule": decision.rule,
            "model": decision.model, "at": decision.created_at.isoformat(), "figures": decision.figures,
            "reasons": decision.reasons}


def links(session: Session, ticket_id: int) -> dict[str, list[dict[str, Any]]]:
    found = list(session.scalars(select(SupportTicketLink).where(SupportTicketLink.ticket_id == ticket_id)
                                 .order_by(SupportTicketLink.id)))
    order_ids = [link.ref_id for link in found if link.kind == "order"]
    case_ids = [link.ref_id for link in found if link.kind == "case"]
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)))} if order_ids else {}
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids)))} if case_ids else {}
    return {
        "orders": [{"id": link.ref_id, "number": orders[link.ref_id].number, "matched_by": link.matched_by,
                    "total_cents": orders[link.ref_id].total_cents, "status": orders[link.ref_id].status}
                   for link in found if link.kind == "order" and link.ref_id in orders],
        "cases": [{"id": link.ref_id, "kind": cases[link.ref_id].kind, "state": cases[link.ref_id].state,
                   "queue": cases[link.ref_id].queue} for link in found if link.kind == "case" and link.ref_id in cases],
    }


def find(session: Session, reference: str) -> SupportTicket | None:
    """A ticket by its id, else by a source's external id (``zendesk:123`` or ``123``)."""
    ref = reference.strip()
    if ref.isdigit():
        found = session.get(SupportTicket, int(ref))
        if found is not None:
            return found
    source, _, external = ref.partition(":")
    query = select(SupportTicket).where(SupportTicket.external_id == (external or ref))
    if external:
        query = query.where(SupportTicket.source == source)
    return session.scalars(query.order_by(SupportTicket.id)).first()


def resolution(session: Session, ticket: SupportTicket) -> str | None:
    """How a resolved ticket was resolved, in words: ``resolved in zendesk by agent 3721 (solved)``
    when its helpdesk reported it (``domain.helpdesks.statuses``), ``resolved by maria: <note>``
    from the command line; None while it is not resolved."""
    if ticket.state != "resolved":
        return None
    figures = session.scalar(select(SupportDecision.figures).where(
        SupportDecision.ticket_id == ticket.id, SupportDecision.kind == "qa").order_by(SupportDecision.id.desc())
        .limit(1)) or {}
    if figures.get("platform"):
        agent = figures.get("agent")
        who = (f" by agent {agent}" + (", the assignee" if figures.get("agent_from") == "assignee" else "")
               if agent else "")
        return f"resolved in {figures['platform']}{who} ({figures.get('status')})"
    return f"resolved by {figures.get('resolved_by') or 'someone'}: {ticket.resolution_note or ''}".rstrip(": ")


def show(session: Session, ticket: SupportTicket) -> dict[str, Any]:
    return {**row(ticket), "customer_name": ticket.customer_name, "body": ticket.body,
            "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
            "resolution_note": ticket.resolution_note, "resolution": resolution(session, ticket),
            "source_status": ticket.source_status, **links(session, ticket.id),
            "decisions": [decision_dict(d) for d in decisions(session, ticket.id)]}


def order_entries(session: Session, order_id: int) -> list[tuple[Any, str, str, dict[str, Any]]]:
    """The tickets linked to an order, one line each for ``why order N``: (at, kind, text, data)."""
    linked = select(SupportTicketLink.ticket_id).where(SupportTicketLink.kind == "order",
                                                       SupportTicketLink.ref_id == order_id)
    out = []
    for ticket in session.scalars(select(SupportTicket).where(SupportTicket.id.in_(linked)).order_by(SupportTicket.id)):
        routing = session.scalars(select(SupportDecision).where(SupportDecision.ticket_id == ticket.id,
                                                                SupportDecision.kind == "routing")
                                  .order_by(SupportDecision.id.desc())).first()
        rule = f" by {routing.rule}" if routing is not None else ""
        resolved = resolution(session, ticket)
        out.append((ticket.received_at, "ticket", f"ticket {ticket.id} ({ticket.source} {ticket.external_id}) "
                    f"{ticket.subject!r}: intent {ticket.intent or '-'}, priority {ticket.priority or '-'} → queue "
                    f"{ticket.queue or '-'}{rule}" + (f"; {resolved}" if resolved else "")
                    + f" (backorders why ticket {ticket.id})",
                    {"ticket_id": ticket.id, "intent": ticket.intent, "queue": ticket.queue, "state": ticket.state,
                     "resolution": resolved}))
    return out


def drafts(session: Session, ticket_id: int) -> list[dict[str, Any]]:
    """The ticket's reply drafts, oldest first, each with its template, text, facts, what it applied
    and where its internal note stands."""
    from domain.core.models import SupportDraft
    from domain.support import notes

    from domain.core.models import HelpdeskWriteBack

    posted = notes.of_ticket(session, ticket_id)
    write_back = session.scalar(select(HelpdeskWriteBack).where(HelpdeskWriteBack.ticket_id == ticket_id,
                                                                HelpdeskWriteBack.kind == "triage"))
    out = []
    for draft in session.scalars(select(SupportDraft).where(SupportDraft.ticket_id == ticket_id)
                                 .order_by(SupportDraft.version)):
        note = posted.get(draft.id)
        carried = None
        if note is None and write_back is not None:
            carried = {"id": None, "state": f"with the triage write-back ({write_back.state})",
                       "source": write_back.helpdesk, "attempts": write_back.attempts,
                       "last_error": write_back.last_error, "external_ref": write_back.note_id or None,
                       "posted_at": write_back.done_at.isoformat() if write_back.done_at else None}
        out.append({"id": draft.id, "version": draft.version, "intent": draft.intent, "template": draft.template,
                    "at": draft.created_at.isoformat(), "by": draft.created_by, "auto_answer": draft.auto_answer,
                    "asks": draft.asks, "applied": draft.applied, "text": draft.body, "facts": draft.facts,
                    "facts_lines": notes.facts_lines(draft.facts),
                    "note": {"id": note.id, "state": note.state, "source": note.source, "attempts": note.attempts,
                             "last_error": note.last_error, "external_ref": note.external_ref,
                             "posted_at": note.posted_at.isoformat() if note.posted_at else None}
                    if note is not None else carried})
    return out
