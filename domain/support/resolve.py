"""Resolving a ticket, and the post-resolution QA sample (the ladder's last step): whether it was
picked is a ``qa`` decision with its draw and reason, stored once, when the ticket is resolved.

A ticket is resolved by a person on the command line (``backorders tickets resolve``) or by its
helpdesk reporting it solved or closed (``domain.helpdesks.statuses``: the actor names the helpdesk
and its agent, ``zendesk agent 3721``) — the same call either way, so the QA sample and the
satisfaction survey that follows (``domain.csat.sources``) do not depend on where it happened.
:func:`reopen` undoes a resolution (the helpdesk re-opened the ticket) with a ``reopen`` decision
saying why; the earlier ``qa`` decision stays as history, and a later resolution draws the same
sample again (the draw is a hash of the ticket's id).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import SupportDecision, SupportTicket
from domain.core.support_config import SupportConfig
from domain.support import qa


class TicketError(ValueError):
    """No such ticket, or it is resolved already (or not resolved, to re-open)."""


def _locked(session: Session, ticket_id: int) -> SupportTicket:
    ticket = session.scalar(select(SupportTicket).where(SupportTicket.id == ticket_id).with_for_update()
                            .execution_options(populate_existing=True))
    if ticket is None:
        raise TicketError(f"no ticket {ticket_id}")
    return ticket


def resolve(session: Session, config: SupportConfig, ticket_id: int, note: str, *, actor: str,
            now: datetime | None = None, figures: Mapping[str, Any] | None = None) -> SupportTicket:
    """Resolve the ticket and store its QA sample decision; ``figures`` adds to the decision's
    (a helpdesk resolution: the helpdesk, its status and agent)."""
    now = now or utcnow()
    ticket = _locked(session, ticket_id)
    if ticket.state == "resolved":
        raise TicketError(f"ticket {ticket_id} is resolved already")
    picked = qa.sample(config, ticket.id, ticket.queue or "")
    ticket.state, ticket.resolved_at, ticket.resolution_note = "resolved", now, note
    ticket.qa_sampled, ticket.updated_at = picked.sampled, now
    session.add(SupportDecision(ticket_id=ticket.id, kind="qa", outcome="sampled" if picked.sampled else "not sampled",
                                rule="qa_always" if ticket.queue in config.qa_always else "qa_sample_percent",
                                figures={"draw": picked.draw, "qa_sample_percent": config.qa_sample_percent,
                                         "queue": ticket.queue, "resolved_by": actor, "note": note, **(figures or {})},
                                reasons=[f"resolved by {actor}: {note}", picked.reason], created_at=now))
    return ticket


def reopen(session: Session, ticket_id: int, reason: str, *, actor: str, rule: str = "",
           now: datetime | None = None, figures: Mapping[str, Any] | None = None) -> SupportTicket:
    """Put a resolved ticket back where triage had it (``triaged``; ``new`` if it never was, so
    triage takes it) and store a ``reopen`` decision with the resolution it undoes."""
    now = now or utcnow()
    ticket = _locked(session, ticket_id)
    if ticket.state != "resolved":
        raise TicketError(f"ticket {ticket_id} is not resolved")
    undone = {"resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
              "resolution_note": ticket.resolution_note, "qa_sampled": ticket.qa_sampled}
    ticket.state = "triaged" if ticket.intent else "new"
    ticket.resolved_at, ticket.resolution_note, ticket.qa_sampled, ticket.updated_at = None, None, None, now
    session.add(SupportDecision(ticket_id=ticket.id, kind="reopen", outcome=f"reopened → {ticket.state}", rule=rule,
                                figures={"reopened_by": actor, "state": ticket.state, "undone": undone,
                                         **(figures or {})},
                                reasons=[f"re-opened by {actor}: {reason}"], created_at=now))
    return ticket
