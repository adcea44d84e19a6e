"""Write-backs owed to helpdesk tickets after triage, as rows: tags, priority, group/assignee and
one internal note carrying the triage summary (``domain.support.note``).

Triage of a ticket whose source is a ``[[helpdesks]]`` key records one ``helpdesk_write_backs``
row (kind ``triage``, once per ticket) in its own transaction and owes the ``helpdesk_write_back``
stage. The task claims the row ``FOR UPDATE SKIP LOCKED`` under a lease, builds the update, writes
it with the connector between transactions, and marks the row done; a failure gives it back due
again (the task's retry, else the sweeper, runs it). The note carries the row's idempotency key,
so a write that is retried after a lost answer posts one note (the connector looks for it first).

Tags: ``bo-intent-<intent>``, ``bo-priority-<level>``, ``bo-queue-<queue>`` (letters, digits,
``-`` and ``_`` — what all three platforms accept). Group and assignee come from the entry's
``options.groups`` / ``options.assignees`` (our queue → the helpdesk's id).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connectors.helpdesk.contract import PRIORITIES, TicketUpdate
from domain.core.clock import utcnow
from domain.core.helpdesk_config import HelpdeskConfig, HelpdesksConfig
from domain.core.models import HelpdeskWriteBack, SupportDecision, SupportTicket
from domain.core.stages import FollowUp, Stage
from domain.support.note import triage_note

TRIAGE = "triage"
LEASE = timedelta(minutes=2)
#: A row due this long with no run in flight lost its message: the sweeper sends it again.
STRANDED_AFTER = timedelta(seconds=30)
#: Runs of one row before it is left ``failed`` (``backorders helpdesks list`` counts them).
MAX_ATTEMPTS = 8


def tag(prefix: str, value: str) -> str:
    return f"bo-{prefix}-" + re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-")


def owe(session: Session, helpdesks: HelpdesksConfig, ticket_ids: list[int], now: datetime | None = None) \
        -> list[FollowUp]:
    """Record the write-back each triaged helpdesk ticket owes (once per ticket); the follow-ups."""
    now = now or utcnow()
    keys = [entry.key for entry in helpdesks.entries]
    if not ticket_ids or not keys:
        return []
    tickets = session.execute(select(SupportTicket.id, SupportTicket.source).where(
        SupportTicket.id.in_(ticket_ids), SupportTicket.source.in_(keys),
        SupportTicket.state == "triaged")).tuples().all()
    if not tickets:
        return []
    ids = session.scalars(insert(HelpdeskWriteBack).values([
        {"ticket_id": ticket_id, "helpdesk": source, "kind": TRIAGE, "idempotency_key": f"{TRIAGE}-{ticket_id}",
         "due_at": now} for ticket_id, source in tickets])
        .on_conflict_do_nothing(index_elements=["ticket_id", "kind"]).returning(HelpdeskWriteBack.id)).all()
    return [FollowUp(Stage.HELPDESK_WRITE_BACK, (row_id,)) for row_id in sorted(ids)]


def build_update(session: Session, row: HelpdeskWriteBack, entry: HelpdeskConfig, draft: str | None = None) \
        -> TicketUpdate:
    """The update for this row's ticket, from where triage put it."""
    ticket = session.get(SupportTicket, row.ticket_id)
    assert ticket is not None
    decisions = {d.kind: d for d in session.scalars(select(SupportDecision).where(
        SupportDecision.ticket_id == ticket.id, SupportDecision.kind.in_(("triage", "routing")))
        .order_by(SupportDecision.id))}
    triage, routing = decisions.get("triage"), decisions.get("routing")
    queue = ticket.queue or ""
    groups, assignees = entry.options.get("groups") or {}, entry.options.get("assignees") or {}
    return TicketUpdate(
        ticket_id=ticket.external_id, idempotency_key=row.idempotency_key,
        tags=tuple(t for t in (tag("intent", ticket.intent or ""), tag("priority", ticket.priority or ""),
                               tag("queue", queue)) if not t.endswith("-")),
        priority=ticket.priority if ticket.priority in PRIORITIES else "",
        group_id=str(groups.get(queue, "")), assignee_id=str(assignees.get(queue, "")),
        note=triage_note(ticket, triage.figures if triage else None, routing.rule or "" if routing else "", draft))


@dataclass(frozen=True)
class Claimed:
    row_id: int
    helpdesk: str
    claimed_at: datetime


def claim(session: Session, row_id: int, now: datetime | None = None) -> Claimed | None:
    """Lease the row unless it is done, failed, or another run holds it."""
    now = now or utcnow()
    row = session.scalar(select(HelpdeskWriteBack).where(
        HelpdeskWriteBack.id == row_id, HelpdeskWriteBack.state == "pending",
        or_(HelpdeskWriteBack.claimed_until.is_(None), HelpdeskWriteBack.claimed_until < now))
        .with_for_update(skip_locked=True))
    if row is None:
        return None
    row.claimed_until, row.due_at, row.attempts = now + LEASE, None, row.attempts + 1
    return Claimed(row.id, row.helpdesk, now)


def done(session: Session, claimed: Claimed, fields: tuple[str, ...], note_id: str, now: datetime | None = None) \
        -> None:
    session.execute(update(HelpdeskWriteBack).where(HelpdeskWriteBack.id == claimed.row_id).values(
        state="done", done_at=now or utcnow(), claimed_until=None, last_error=None,
        fields_written=",".join(fields), note_id=note_id[:64]))


def release(session: Session, claimed: Claimed, error: str, *, permanent: bool = False,
            now: datetime | None = None) -> None:
    """The write failed: due again (retried), or ``failed`` when retrying cannot help or it ran out."""
    row = session.get(HelpdeskWriteBack, claimed.row_id, with_for_update=True)
    if row is None or row.state != "pending":
        return
    row.claimed_until, row.last_error = None, error[:2000]
    if permanent or row.attempts >= MAX_ATTEMPTS:
        row.state = "failed"
    else:
        row.due_at = now or utcnow()


def stranded(session: Session, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Rows whose message was lost (due a while, no run in flight) or whose run died holding its lease."""
    now = now or utcnow()
    return list(session.scalars(select(HelpdeskWriteBack.id).where(
        HelpdeskWriteBack.state == "pending",
        or_(HelpdeskWriteBack.due_at <= now - STRANDED_AFTER, HelpdeskWriteBack.claimed_until < now))
        .order_by(HelpdeskWriteBack.id).limit(limit)))
