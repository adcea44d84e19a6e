"""A ticket in: stored once per source and external id, linked to the customer's orders and open
cases, triaged and routed, each decision stored with its figures and reasons.

The same ticket delivered twice (a helpdesk's retry, a webhook and a poll) finds its row and is
not triaged again; ``retriage`` does it again on purpose (a new model, changed rules) and adds new
decisions, keeping the old ones.

A receiver (a helpdesk webhook, a poll) calls ``store``: the row is written in state ``new`` and
the follow-up asks the ``triage_tickets`` stage (``tasks.support``) to triage it after the commit,
so the receiver never waits for the model; a ticket whose message was lost stays ``new`` and the
sweeper (``stranded``) sends it again. ``intake`` does both in one transaction (the command line).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.stages import FollowUp, Stage
from domain.core.models import SupportDecision, SupportTicket, SupportTicketLink
from domain.core.support_config import SupportConfig
from domain.support import customer, triage
from domain.support.intents import text_of


@dataclass(frozen=True)
class NewTicket:
    source: str
    external_id: str
    subject: str
    body: str
    customer_email: str | None = None
    customer_name: str = ""
    channel: str = "email"
    language: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class Intake:
    ticket: SupportTicket
    created: bool
    result: triage.Triage | None


def _link(session: Session, ticket: SupportTicket, facts: customer.CustomerFacts) -> None:
    rows = [{"ticket_id": ticket.id, "kind": "order", "ref_id": order_id, "matched_by": how}
            for order_id, how in facts.orders]
    rows += [{"ticket_id": ticket.id, "kind": "case", "ref_id": case_id, "matched_by": "order"}
             for case_id in facts.case_ids]
    if rows:
        session.execute(insert(SupportTicketLink).values(rows).on_conflict_do_nothing(
            index_elements=["ticket_id", "kind", "ref_id"]))


def apply(session: Session, ticket: SupportTicket, result: triage.Triage, now: datetime) -> None:
    """Store both decisions and put the ticket where the ladder said."""
    routing = result.routing
    session.add(SupportDecision(ticket_id=ticket.id, kind="triage", outcome=result.prediction.intent,
                                rule=f"priority {result.priority.level}", model=result.model,
                                figures=result.triage_figures(), reasons=result.triage_reasons(), created_at=now))
    session.add(SupportDecision(ticket_id=ticket.id, kind="routing", outcome=routing.queue, rule=routing.rule_name,
                                model=result.model, reasons=list(routing.reasons), created_at=now,
                                figures={"queue": routing.queue, "owner": routing.owner, "step": routing.step,
                                         "rule_index": routing.rule_index, "auto_answer": routing.auto_answer}))
    ticket.state, ticket.intent, ticket.confidence = "triaged", result.prediction.intent, result.prediction.confidence
    ticket.sentiment, ticket.legal_threat, ticket.priority = result.sentiment.compound, result.legal.found, \
        result.priority.level
    ticket.clv_cents, ticket.clv_tier, ticket.language = result.customer.clv_cents, result.customer.clv_tier, \
        result.language
    ticket.queue, ticket.owner, ticket.needs_human = routing.queue, routing.owner, result.needs_human
    ticket.auto_answer, ticket.updated_at = routing.auto_answer, now


def retriage(session: Session, config: SupportConfig, ticket: SupportTicket,
             now: datetime | None = None) -> triage.Triage:
    now = now or utcnow()
    facts = customer.gather(session, config, ticket.customer_email, text_of(ticket.subject, ticket.body), now)
    _link(session, ticket, facts)
    result = triage.assess(config, ticket.subject, ticket.body, facts, channel=ticket.channel,
                           language=ticket.language or None)
    apply(session, ticket, result, now)
    return result


@dataclass(frozen=True)
class Stored:
    ticket: SupportTicket
    created: bool
    follow_ups: tuple[FollowUp, ...]


#: A ticket still ``new`` this long after it was stored lost its triage message: the sweeper resends it.
STRANDED_AFTER = timedelta(minutes=1)


def store(session: Session, config: SupportConfig, new: NewTicket, now: datetime | None = None) -> Stored:
    """Write the ticket once (state ``new``); a new one owes a triage. Seen before: returned as it is."""
    now = now or utcnow()
    ticket_id = session.execute(insert(SupportTicket).values(
        source=new.source, external_id=new.external_id, customer_email=new.customer_email,
        customer_name=new.customer_name, subject=new.subject, body=new.body, channel=new.channel,
        language=new.language.lower()[:8] if new.language else "", received_at=new.received_at or now,
        state="new", created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["source", "external_id"]).returning(SupportTicket.id)).scalar()
    if ticket_id is None:
        existing = session.scalar(select(SupportTicket).where(SupportTicket.source == new.source,
                                                              SupportTicket.external_id == new.external_id))
        assert existing is not None
        return Stored(existing, False, ())
    ticket = session.get(SupportTicket, ticket_id)
    assert ticket is not None
    return Stored(ticket, True, (FollowUp(Stage.TRIAGE_TICKETS, ([ticket.id],)),))


def triage_stored(session: Session, config: SupportConfig, ticket_ids: list[int],
                  now: datetime | None = None) -> list[int]:
    """Triage and route these tickets if they are still ``new`` (a redelivered message finds them
    triaged and does nothing); rows another worker holds are skipped. Returns the ids triaged."""
    now = now or utcnow()
    done = []
    for ticket in session.scalars(select(SupportTicket).where(
            SupportTicket.id.in_(sorted(set(ticket_ids))), SupportTicket.state == "new")
            .order_by(SupportTicket.id).with_for_update(skip_locked=True)):
        retriage(session, config, ticket, now)
        done.append(ticket.id)
    return done


def stranded(session: Session, now: datetime, limit: int = 1000) -> list[int]:
    """Tickets still ``new`` well after they were stored: their triage message was lost."""
    return list(session.scalars(select(SupportTicket.id).where(
        SupportTicket.state == "new", SupportTicket.created_at < now - STRANDED_AFTER)
        .order_by(SupportTicket.id).limit(limit)))


def intake(session: Session, config: SupportConfig, new: NewTicket, now: datetime | None = None) -> Intake:
    """Store, link, triage and route a new ticket in one go; a ticket seen before is returned as it is."""
    now = now or utcnow()
    stored = store(session, config, new, now)
    if not stored.created:
        return Intake(stored.ticket, False, None)
    return Intake(stored.ticket, True, retriage(session, config, stored.ticket, now))
