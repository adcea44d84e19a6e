"""What gets surveyed: each subject kind registers a source that lists its recently resolved
subjects not surveyed yet.

A source is ``fn(session, since, now) -> list[Resolved]``; ``backorder``, ``case`` and ``ticket``
are built in (support sits below csat, so its tickets are read here). A module above csat plugs in
with ``@source("kind")`` beside its own model, nothing else to change: ``return`` is registered by
``domain.returns.csat_source``. A backorder that had a ``backorder`` case is surveyed once, as a backorder (with its
case's queue): the case source skips cases raised by a backorder.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from domain.core.models import (AuditLog, Backorder, Case, CaseEvent, CsatRequest, Order, OrderLine, SupportDecision,
                                SupportTicket, SupportTicketLink)

#: Backorder states that end it for the customer: they have it, a substitute, or their money back.
BACKORDER_ENDS = ("shipped", "substituted", "cancelled_by_customer", "auto_cancelled")
BACKORDER_QUEUE = "backorders"
#: Actors that are processes, not people: the report counts them as ``bot:<actor>``.
#: A customer's own choice (a link, a text, a ticket answer) closed it.
CUSTOMER_ACTORS = frozenset({"link", "sms", "customer", "ticket"})
BOT_ACTORS = frozenset({"system", "journey", "sla", "allocation", "restock", "csat", "fraud", "shipping", "macro",
                        "returns"})


@dataclass(frozen=True)
class Resolved:
    """One resolved subject and the facts the survey and the report keep."""

    kind: str
    subject_id: int
    queue: str
    intent: str
    resolved_by: str
    resolution: str
    resolved_at: datetime
    order_id: int | None
    store_id: int | None
    email: str | None
    customer_name: str | None
    order_number: str | None


Source = Callable[[Session, datetime, datetime], list["Resolved"]]
SOURCES: dict[str, Source] = {}


def source(kind: str) -> Callable[[Source], Source]:
    """Register the source of ``kind`` (a decorator); a kind has one source."""
    def register(fn: Source) -> Source:
        SOURCES[kind] = fn
        return fn
    return register


def who(actor: str | None) -> str:
    """A person's name as given, a process as ``bot:<name>``."""
    actor = (actor or "system").strip() or "system"
    return f"bot:{actor}" if actor in BOT_ACTORS else actor


def _not_surveyed(kind: str, column: object) -> object:
    return ~select(CsatRequest.id).where(CsatRequest.subject_kind == kind,
                                         CsatRequest.subject_id == column).exists()


@source("backorder")
def resolved_backorders(session: Session, since: datetime, now: datetime) -> list[Resolved]:
    rows = session.execute(
        select(Backorder, Order, Case.queue)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id).join(Order, Order.id == OrderLine.order_id)
        .outerjoin(Case, and_(Case.subject_type == "backorder", Case.subject_id == Backorder.id,
                              Case.kind == "backorder"))
        .where(Backorder.state.in_(BACKORDER_ENDS), Backorder.updated_at >= since, Backorder.updated_at <= now,
               _not_surveyed("backorder", Backorder.id))  # type: ignore[arg-type]
        .order_by(Backorder.id)).all()
    out = []
    for backorder, order, queue in rows:
        last = session.scalar(select(AuditLog).where(
            AuditLog.subject_type == "backorder", AuditLog.subject_id == str(backorder.id),
            AuditLog.action == "backorder.transition").order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(1))
        cause = str(last.data.get("cause", "")) if last is not None else ""
        actor = last.actor if last is not None else "system"
        resolved_by = f"customer:{actor}" if actor in CUSTOMER_ACTORS else who(actor)
        resolution = backorder.state + (f" ({backorder.resolution})" if backorder.resolution else "") \
            + (f": {cause}" if cause else "")
        out.append(Resolved("backorder", backorder.id, queue or BACKORDER_QUEUE, backorder.state, resolved_by,
                            resolution[:200], backorder.updated_at, order.id, order.store_id, order.email,
                            order.customer_name, order.number))
    return out


@source("case")
def resolved_cases(session: Session, since: datetime, now: datetime) -> list[Resolved]:
    rows = session.execute(
        select(Case, Order).outerjoin(Order, Order.id == Case.order_id)
        .where(Case.state == "resolved", Case.resolved_at >= since, Case.resolved_at <= now,
               Case.subject_type != "backorder", Case.kind != "csat_follow_up",
               _not_surveyed("case", Case.id))  # type: ignore[arg-type]
        .order_by(Case.id)).all()
    out = []
    for case, order in rows:
        actor = session.scalar(select(CaseEvent.actor).where(CaseEvent.case_id == case.id,
                                                             CaseEvent.action == "resolved")
                               .order_by(CaseEvent.id.desc()).limit(1))
        assert case.resolved_at is not None
        out.append(Resolved("case", case.id, case.queue, case.kind, who(actor), (case.resolution_note or "")[:200],
                            case.resolved_at, case.order_id, case.store_id, order.email if order else None,
                            order.customer_name if order else None, order.number if order else None))
    return out


@source("ticket")
def resolved_tickets(session: Session, since: datetime, now: datetime) -> list[Resolved]:
    """Support tickets resolved lately (``backorders tickets resolve``): the ticket's queue, its
    classified intent, the person (or ``bot:<process>``) who resolved it, its order when linked."""
    rows = session.scalars(
        select(SupportTicket).where(SupportTicket.state == "resolved", SupportTicket.resolved_at >= since,
                                    SupportTicket.resolved_at <= now,
                                    _not_surveyed("ticket", SupportTicket.id))  # type: ignore[arg-type]
        .order_by(SupportTicket.id)).all()
    out = []
    for ticket in rows:
        figures = session.scalar(select(SupportDecision.figures).where(
            SupportDecision.ticket_id == ticket.id, SupportDecision.kind == "qa")
            .order_by(SupportDecision.id.desc()).limit(1)) or {}
        order = session.scalar(select(Order).join(SupportTicketLink, and_(
            SupportTicketLink.ref_id == Order.id, SupportTicketLink.kind == "order"))
            .where(SupportTicketLink.ticket_id == ticket.id).order_by(SupportTicketLink.id).limit(1))
        assert ticket.resolved_at is not None
        out.append(Resolved("ticket", ticket.id, ticket.queue or "support", ticket.intent or "unclassified",
                            who(figures.get("resolved_by")), (ticket.resolution_note or "")[:200],
                            ticket.resolved_at, order.id if order else None, order.store_id if order else None,
                            ticket.customer_email, ticket.customer_name or (order.customer_name if order else None),
                            order.number if order else None))
    return out
