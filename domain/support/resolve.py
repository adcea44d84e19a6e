"""Resolving a ticket, and the post-resolution QA sample (the ladder's last step): whether it was
picked is a ``qa`` decision with its draw and reason, stored once, when the ticket is resolved."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import SupportDecision, SupportTicket
from domain.core.support_config import SupportConfig
from domain.support import qa


class TicketError(ValueError):
    """No such ticket, or it is resolved already."""


def resolve(session: Session, config: SupportConfig, ticket_id: int, note: str, *, actor: str,
            now: datetime | None = None) -> SupportTicket:
    now = now or utcnow()
    ticket = session.scalar(select(SupportTicket).where(SupportTicket.id == ticket_id).with_for_update())
    if ticket is None:
        raise TicketError(f"no ticket {ticket_id}")
    if ticket.state == "resolved":
        raise TicketError(f"ticket {ticket_id} is resolved already")
    picked = qa.sample(config, ticket.id, ticket.queue or "")
    ticket.state, ticket.resolved_at, ticket.resolution_note = "resolved", now, note
    ticket.qa_sampled, ticket.updated_at = picked.sampled, now
    session.add(SupportDecision(ticket_id=ticket.id, kind="qa", outcome="sampled" if picked.sampled else "not sampled",
                                rule="qa_always" if ticket.queue in config.qa_always else "qa_sample_percent",
                                figures={"draw": picked.draw, "qa_sample_percent": config.qa_sample_percent,
                                         "queue": ticket.queue, "resolved_by": actor, "note": note},
                                reasons=[f"resolved by {actor}: {note}", picked.reason], created_at=now))
    return ticket
