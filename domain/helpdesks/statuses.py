"""A support ticket follows its helpdesk's status. The agents work in the helpdesk (we never answer
the customer ourselves), so that is where a ticket is solved: a copy of it (a webhook, the poll)
whose status is done there (Zendesk ``solved`` / ``closed``, Gorgias ``closed``, Intercom
``closed``: ``connectors.helpdesk.contract.is_done``) resolves ours through
``domain.support.resolve.resolve`` — the QA sample is drawn and stored, and the satisfaction sweep
asks the customer, exactly as for ``backorders tickets resolve`` — with the actor naming the
helpdesk and its agent (``zendesk agent 3721``: the one who changed the status when the platform
says, else the ticket's assignee). A ticket not yet triaged is triaged first, so the sample and
the survey know its queue and intent.

A copy whose status is no longer done, of a ticket whose last seen status was (``source_status``),
re-opens ours (``domain.support.resolve.reopen``, a ``reopen`` decision saying so); a ticket
resolved on our command line while the helpdesk still had it open stays resolved.

Once: the caller (``domain.helpdesks.tickets.store``) holds the ticket's row lock and hands over
only a copy newer than the last one applied (or one of the same time with another status: Intercom
times are whole seconds, and a close and re-open within one second must not be lost), so a
redelivery, or the webhook and the poll both bringing the change, does nothing the second time.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from connectors.helpdesk.contract import DONE_STATUSES, TicketRecord, is_done
from domain.core.models import SupportTicket
from domain.core.stages import FollowUp, Stage
from domain.core.support_config import SupportConfig
from domain.support import intake
from domain.support.resolve import reopen, resolve


def agent_of(record: TicketRecord, assignee: bool = True) -> str:
    """Who set the status, when the platform says; else (``assignee``) the ticket's assignee."""
    return record.status_by or (record.assignee_id if assignee else "")


def actor_of(record: TicketRecord, assignee: bool = True) -> str:
    """``zendesk agent 3721``; the platform alone when it names nobody. A re-opening is not put on
    the assignee (a customer's reply re-opens a solved Zendesk ticket)."""
    agent = agent_of(record, assignee)
    return f"{record.source} agent {agent}" if agent else record.source


def status_of(record: TicketRecord) -> str:
    return (record.status or "").strip().lower()[:32]


def changed(ticket: SupportTicket, record: TicketRecord) -> bool:
    """The copy's status differs from the one last seen."""
    return bool(status_of(record)) and status_of(record) != (ticket.source_status or "")


def follow(session: Session, config: SupportConfig, helpdesk: str, ticket: SupportTicket, record: TicketRecord,
           now: datetime) -> list[FollowUp]:
    """Apply the copy's status to the ticket (its row locked by the caller); the follow-ups owed."""
    done, status = is_done(record), status_of(record)
    if done is None:
        return []  # the copy says nothing about its status
    was = ticket.source_status or ""
    ticket.source_status = status
    figures = {"helpdesk": helpdesk, "platform": record.source, "external_id": record.external_id,
               "status": status, "previous_status": was or None, "agent": agent_of(record) or None,
               "agent_from": "status_by" if record.status_by else ("assignee" if record.assignee_id else None),
               "source_updated_at": record.updated_at.isoformat() if record.updated_at else None}
    if done and ticket.state != "resolved":
        if ticket.state == "new":  # first seen solved, or solved before its triage ran
            intake.retriage(session, config, ticket, now)
        resolve(session, config, ticket.id, f"{status} in {record.source} (ticket {record.external_id})",
                actor=actor_of(record), now=now, figures=figures)
        ticket.resolved_at = min(record.updated_at or now, now)  # when the agent solved it, not when we heard
        return []
    if not done and ticket.state == "resolved" and was in DONE_STATUSES.get(record.source, frozenset()):
        reopen(session, ticket.id, f"{record.source} ticket {record.external_id} went from {was} to {status}",
               actor=actor_of(record, assignee=False), rule=f"{record.source} status {status}", now=now,
               figures={**figures, "agent": record.status_by or None,
                        "agent_from": "status_by" if record.status_by else None})
        return [FollowUp(Stage.TRIAGE_TICKETS, ([ticket.id],))] if ticket.state == "new" else []
    return []
