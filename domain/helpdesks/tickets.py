"""A helpdesk ticket (a webhook's or a poll's :class:`TicketRecord`) as a support ticket.

One ``support_tickets`` row per helpdesk key (``source``) and ticket id (``external_id``): the
first copy is stored ``new`` by ``domain.support.intake.store`` — linked and triaged by its stage
after the commit — and a later copy of the same ticket (the webhook and the poll both see it, a
redelivery, an update) finds it. A copy newer than the one stored (by the helpdesk's
``updated_at``) refreshes the customer, subject and body; an older or equal one changes nothing.
An update never triages the ticket again: the helpdesk's own changes (our write-back among them)
bump its update time, and triaging each would write back in a loop.

Each copy's status is followed (``domain.helpdesks.statuses``): solved or closed in the helpdesk
resolves ours, re-opened there re-opens it. The row is locked (and read afresh) before the copy is
compared, so the webhook's drain and the poll applying the same change at once apply it once.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.helpdesk.contract import TicketRecord, is_done
from domain.core.clock import utcnow
from domain.core.models import SupportTicket
from domain.core.stages import FollowUp
from domain.core.support_config import SupportConfig
from domain.helpdesks import statuses
from domain.support import intake

#: Words in a platform's channel name → ours (``domain.core.support_config.CHANNELS``).
_CHANNEL_WORDS = (("mail", "email"), ("sms", "sms"), ("whatsapp", "social"), ("chat", "chat"),
                  ("messenger", "chat"), ("phone", "phone"), ("voice", "phone"), ("call", "phone"),
                  ("facebook", "social"), ("instagram", "social"), ("twitter", "social"), ("social", "social"),
                  ("api", "api"), ("web", "web"), ("form", "web"), ("contact", "web"))


def channel_of(platform_channel: str) -> str:
    """Our channel for the platform's word (Zendesk ``via.channel``, Gorgias ``channel``, Intercom
    ``source.type``); email when it says nothing we know."""
    word = platform_channel.lower()
    return next((ours for part, ours in _CHANNEL_WORDS if part in word), "email")


def new_ticket(helpdesk: str, record: TicketRecord) -> intake.NewTicket:
    return intake.NewTicket(
        source=helpdesk, external_id=record.external_id[:128], subject=record.subject or "", body=record.body or "",
        customer_email=(record.requester_email or "").strip().lower() or None,
        customer_name=(record.requester_name or "")[:200], channel=channel_of(record.channel),
        language=record.language or None, received_at=record.created_at)


def store(session: Session, config: SupportConfig, helpdesk: str, record: TicketRecord,
          now: datetime | None = None) -> list[FollowUp]:
    """Store or refresh this copy of the ticket; the follow-ups a new ticket owes (its triage)."""
    now = now or utcnow()
    stored = intake.store(session, config, new_ticket(helpdesk, record), now)
    ticket = stored.ticket
    if stored.created:
        ticket.source_updated_at = record.updated_at
        if is_done(record):  # first seen solved: triaged, resolved, and nothing to draft or write back
            return statuses.follow(session, config, helpdesk, ticket, record, now)
        ticket.source_status = statuses.status_of(record) or None
        return list(stored.follow_ups)
    ticket = session.scalar(select(SupportTicket).where(SupportTicket.id == ticket.id).with_for_update()
                            .execution_options(populate_existing=True)) or ticket
    stored_at = ticket.source_updated_at
    if record.updated_at is None or (stored_at is not None and (record.updated_at < stored_at or (
            record.updated_at == stored_at and not statuses.changed(ticket, record)))):
        return []
    if stored_at is None or record.updated_at > stored_at:
        fresh = new_ticket(helpdesk, record)
        ticket.subject, ticket.body = fresh.subject or ticket.subject, fresh.body or ticket.body
        ticket.customer_email = fresh.customer_email or ticket.customer_email
        ticket.customer_name = fresh.customer_name or ticket.customer_name
    ticket.source_updated_at, ticket.updated_at = record.updated_at, now
    return statuses.follow(session, config, helpdesk, ticket, record, now)
