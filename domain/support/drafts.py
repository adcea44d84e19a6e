"""The macro composer: a reply draft for a triaged ticket, from ``templates/support/<intent>.txt``
filled with the order's facts (``order_facts``), stored with the exact facts it used and the
template's name, and owed to the ticket's helpdesk as an internal note (``notes``). An agent sends
it; nothing here writes to the customer.

A ticket in the legal queue (or with a legal threat) gets no draft: it is never answered
automatically. A ticket whose intent is not trusted (under the confidence floor, or in a language
the classifier does not read) gets the general template and nothing applied. A draft is marked a
tier-1 macro only when the ladder allowed it (``auto_answer``) and it asks the customer nothing.

An answer to a backorder offer (``backorder_offer_answer``, or ``cancel`` naming a backordered
order) is applied like a link click — ``customer_journey.choose``, the function the reply page
calls, with its idempotency — once per ticket, backorder and choice: an ``answer`` decision records
it, and a ticket triaged again finds it and does not choose again. An ambiguous answer (which
backorder, which option, which substitute) is not guessed: the draft asks and an agent keeps it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.env_settings import JourneySettings
from domain.core.models import Backorder, HelpdeskWriteBack, Order, OrderLine, SupportDecision, SupportDraft, SupportTicket, SupportTicketLink
from domain.core.stages import FollowUp, Stage
from domain.journey import customer_journey
from domain.messaging.rendering import render_text
from domain.support import answers, classifier, notes, order_facts
from domain.support.intents import INTENTS, text_of

#: The template of each intent (every intent has one: ``other`` is the general reply).
TEMPLATES = {intent: f"support/{intent}.txt" for intent in INTENTS}
ANSWER_INTENTS = ("backorder_offer_answer", "cancel")
BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Composed:
    draft: SupportDraft | None
    follow_ups: tuple[FollowUp, ...]
    reason: str


def latest_draft(session: Session, ticket_id: int) -> SupportDraft | None:
    return session.scalars(select(SupportDraft).where(SupportDraft.ticket_id == ticket_id)
                           .order_by(SupportDraft.version.desc()).limit(1)).first()


def _decide(session: Session, ticket: SupportTicket, kind: str, outcome: str, rule: str, figures: dict[str, Any],
            reasons: list[str], now: datetime) -> None:
    session.add(SupportDecision(ticket_id=ticket.id, kind=kind, outcome=outcome, rule=rule, figures=figures,
                                reasons=reasons, created_at=now))


def drafted_since_triage(session: Session, ticket_id: int) -> bool:
    """A ``draft`` decision (a draft, or why none) newer than the ticket's latest triage."""
    last_triage = select(func.max(SupportDecision.id)).where(SupportDecision.ticket_id == ticket_id,
                                                             SupportDecision.kind == "triage").scalar_subquery()
    found = session.scalar(select(func.count()).select_from(SupportDecision).where(
        SupportDecision.ticket_id == ticket_id, SupportDecision.kind == "draft",
        SupportDecision.id > func.coalesce(last_triage, 0)))
    return bool(found)


def _trusted(ticket: SupportTicket, floor: float) -> bool:
    return (not ticket.needs_human and bool(ticket.intent) and ticket.language == classifier.LANGUAGE
            and (ticket.confidence or 0.0) >= floor)


def _orders_for(session: Session, ticket: SupportTicket, intent: str) -> tuple[list[Order], list[Order]]:
    """(orders named by number, the orders the draft speaks of). An offer answer naming none speaks
    of the linked orders with a waiting backorder."""
    named = list(session.scalars(select(Order).join(SupportTicketLink, (SupportTicketLink.ref_id == Order.id)
                                                    & (SupportTicketLink.kind == "order"))
                                 .where(SupportTicketLink.ticket_id == ticket.id,
                                        SupportTicketLink.matched_by == "order_number").order_by(Order.id)))
    if named:
        return named, named
    linked = order_facts.linked_orders(session, ticket)
    if intent == "backorder_offer_answer":
        waiting = set(session.scalars(select(OrderLine.order_id).join(Backorder, Backorder.order_line_id == OrderLine.id)
                                      .where(OrderLine.order_id.in_([o.id for o in linked]),
                                             Backorder.state.in_(answers.WAITING))))
        return [], [o for o in linked if o.id in waiting] or linked[:1]
    return [], linked[:1]


def _gather(session: Session, ticket: SupportTicket, orders: list[Order], settings: JourneySettings,
            now: datetime) -> dict[str, Any]:
    facts = order_facts.gather(session, ticket, settings, now)
    facts["orders"] = [order_facts.order_facts(session, o, settings, now) for o in orders]
    if orders and orders[0].customer_name:
        facts["customer_name"] = orders[0].customer_name
    return facts


def _earlier_answer(session: Session, ticket_id: int, answer: answers.Answer) -> dict[str, Any] | None:
    for row in session.scalars(select(SupportDecision).where(SupportDecision.ticket_id == ticket_id,
                                                             SupportDecision.kind == "answer")
                               .order_by(SupportDecision.id)):
        f = row.figures or {}
        if (f.get("backorder_id"), f.get("choice")) == (answer.backorder_id, answer.choice) and f.get("result"):
            return dict(f)
    return None


def _apply(session: Session, ticket: SupportTicket, answer: answers.Answer, settings: JourneySettings,
           now: datetime) -> tuple[dict[str, Any], list[FollowUp]]:
    """Apply a decided answer once per ticket, backorder and choice; returns what it did."""
    earlier = _earlier_answer(session, ticket.id, answer)
    if earlier is not None:
        return {**earlier, "first_applied_at": earlier.get("at")}, []
    outcome, follow_ups = customer_journey.choose(session, answer.backorder_id or 0, answer.choice or "", settings,
                                                  source="ticket", substitute=answer.substitute, now=now)
    applied = {**answer.figures(), "result": outcome.result, "state": outcome.state, "at": now.isoformat()}
    _decide(session, ticket, "answer", outcome.result, f"{answer.choice} on backorder {answer.backorder_id}", applied,
            answer.reasons + [f"applied like a link click: {outcome.result}, backorder now {outcome.state}"], now)
    return applied, follow_ups


def compose(session: Session, settings: JourneySettings, ticket: SupportTicket, now: datetime | None = None, *,
            actor: str = "composer") -> Composed:
    """Draft a reply for this ticket now (a new version), applying its answer to a backorder offer
    if it makes one; returns the draft (None: why not) and the work it owes after the commit."""
    now = now or utcnow()
    config = settings.config.support
    if ticket.legal_threat or ticket.queue == config.legal_queue:
        reason = "legal queue: never answered automatically, no draft"
        _decide(session, ticket, "draft", "none", "legal", {"queue": ticket.queue}, [reason], now)
        return Composed(None, (), reason)
    if ticket.state != "triaged":
        return Composed(None, (), f"ticket is {ticket.state}: no draft")
    trusted = _trusted(ticket, config.confidence_floor)
    intent = ticket.intent if trusted and ticket.intent in TEMPLATES else "other"
    named, orders = _orders_for(session, ticket, intent)
    facts = _gather(session, ticket, orders, settings, now)
    follow_ups: list[FollowUp] = []
    applied: dict[str, Any] = {}
    answer: answers.Answer | None = None
    if intent in ANSWER_INTENTS:
        named_ids = {o.id for o in named}
        answer = answers.read(text_of(ticket.subject, ticket.body),
                              [b for o in facts["orders"] if o["id"] in named_ids for b in o["backorders"]],
                              [b for o in facts["orders"] for b in o["backorders"]], intent=intent)
        if answer.decided:
            applied, follow_ups = _apply(session, ticket, answer, settings, now)
            facts = _gather(session, ticket, orders, settings, now)  # the backorder as it is now
        elif answer.question or intent == "backorder_offer_answer":
            _decide(session, ticket, "answer", "not applied", answer.question or "nothing to apply",
                    answer.figures(), answer.reasons, now)
    question = answer.question if answer is not None and not answer.decided else None
    if intent == "cancel" and answer is not None and not answer.decided and not answer.question:
        question = None  # a plain cancel request: the cancel template, an agent cancels
    context = {**facts, "intent": intent, "trusted": trusted, "applied": applied or None, "question": question,
               "answer": answer.figures() if answer is not None else None}
    template = TEMPLATES[intent]
    body = BLANK_RUNS.sub("\n\n", render_text(template, context))
    version = (session.scalar(select(func.max(SupportDraft.version)).where(SupportDraft.ticket_id == ticket.id)) or 0) + 1
    draft = SupportDraft(ticket_id=ticket.id, version=version, intent=intent, template=template, body=body,
                         facts=context, applied=applied, auto_answer=bool(ticket.auto_answer) and not question,
                         asks=bool(question), created_by=actor, created_at=now)
    session.add(draft)
    session.flush()
    helpdesks = {entry.key for entry in settings.config.helpdesks.entries}
    if ticket.source in helpdesks and _write_back_pending(session, ticket.id):
        # the helpdesk's triage write-back (owed after this draft) carries it in its one internal note
        _decide(session, ticket, "draft", "drafted", template, {
            "draft_id": draft.id, "version": version, "note_id": None, "auto_answer": draft.auto_answer,
            "asks": draft.asks}, _reasons(template, ticket, trusted, draft, applied, question)
            + [f"posted with the triage write-back to {ticket.source}"], now)
        return Composed(draft, tuple(follow_ups), f"posted with the triage write-back to {ticket.source}")
    note = notes.request(session, draft, ticket, now)
    reasons = _reasons(template, ticket, trusted, draft, applied, question)
    _decide(session, ticket, "draft", "drafted", template, {"draft_id": draft.id, "version": version,
                                                            "note_id": note.id, "auto_answer": draft.auto_answer,
                                                            "asks": draft.asks}, reasons, now)
    return Composed(draft, (*follow_ups, FollowUp(Stage.POST_TICKET_NOTE, (note.id,))), "; ".join(reasons))


def _reasons(template: str, ticket: SupportTicket, trusted: bool, draft: SupportDraft, applied: dict[str, Any],
             question: str | None) -> list[str]:
    reasons = [f"template {template}" + ("" if trusted else f" (intent {ticket.intent or '-'} not trusted)"),
               "tier-1 macro" if draft.auto_answer else "an agent reviews it before sending"]
    if applied:
        reasons.append(f"applied {applied['choice']} on backorder {applied['backorder_id']}: {applied['result']}")
    if question:
        reasons.append(f"asks the customer: {question}")
    return reasons


def _write_back_pending(session: Session, ticket_id: int) -> bool:
    """No triage write-back yet, or one still to run: it will carry the newest draft."""
    state = session.scalar(select(HelpdeskWriteBack.state).where(HelpdeskWriteBack.ticket_id == ticket_id,
                                                                 HelpdeskWriteBack.kind == "triage"))
    return state is None or state == "pending"


def note_draft(session: Session, ticket_id: int) -> str | None:
    """The newest draft as the helpdesk's triage note carries it (its text, what it applied, the
    facts it used), or None when the ticket has none (a legal one)."""
    draft = latest_draft(session, ticket_id)
    return notes.body_for(draft) if draft is not None else None


def compose_stored(session: Session, settings: JourneySettings, ticket_ids: list[int],
                   now: datetime | None = None) -> list[FollowUp]:
    """The stage: draft each triaged ticket not drafted since its latest triage (a redelivered
    message finds it drafted and does nothing); rows another worker holds are skipped."""
    now = now or utcnow()
    follow_ups: list[FollowUp] = []
    for ticket in session.scalars(select(SupportTicket).where(
            SupportTicket.id.in_(sorted(set(ticket_ids))), SupportTicket.state == "triaged")
            .order_by(SupportTicket.id).with_for_update(skip_locked=True)):
        if drafted_since_triage(session, ticket.id):
            continue
        follow_ups += compose(session, settings, ticket, now).follow_ups
    return follow_ups


UNDRAFTED_SQL = text("""
SELECT t.id FROM support_tickets t
 WHERE t.state = 'triaged' AND t.updated_at < :before
   AND NOT EXISTS (SELECT 1 FROM support_decisions d
                    WHERE d.ticket_id = t.id AND d.kind = 'draft'
                      AND d.id > (SELECT COALESCE(max(x.id), 0) FROM support_decisions x
                                   WHERE x.ticket_id = t.id AND x.kind = 'triage'))
 ORDER BY t.id LIMIT :limit
""")


def undrafted(session: Session, before: datetime, limit: int = 500) -> list[int]:
    """Triaged tickets with no draft decision since their latest triage: their message was lost."""
    return [int(row[0]) for row in session.execute(UNDRAFTED_SQL, {"before": before, "limit": limit})]
