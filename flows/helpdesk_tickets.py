"""Helpdesk tickets in and triage out: stored webhooks drained, helpdesks polled, write-backs made.
The connector's I/O happens between transactions, never inside one (``tasks.helpdesks`` runs these).

* **Drain**: a verified delivery waits ``pending`` in the inbox (``domain.helpdesks.inbox``). A
  delivery whose ticket carries no text (an event envelope naming only the id) is read with
  ``fetch_ticket`` first (so is one without its requester's email; the agent the event named as
  changing the status is kept when the ticket still has that status); then the rows are taken
  ``FOR UPDATE SKIP LOCKED`` and each ticket stored (``domain.helpdesks.tickets.store``: its status
  followed, solved there → resolved here) in the transaction that marks its row done.
* **Poll** (reconciliation) under the helpdesk's lease: each page since the saved cursor is stored
  with the cursor in one transaction; a ticket the webhooks brought already is found, not doubled.
* **Write-back**: the row is claimed, the update built from where triage put the ticket, written
  with the connector, and the row marked done — or given back with its error.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.errors import PermanentError
from connectors.helpdesk.contract import HelpdeskConnector, TicketRecord
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.helpdesk_config import HelpdeskConfig
from domain.core.models import HelpdeskState, HelpdeskWriteBack, InboxEvent
from domain.core.stages import FollowUp
from domain.helpdesks import inbox, states, tickets, write_backs
from domain.support import drafts
from flows.helpdesks import helpdesk_for

log = logging.getLogger(__name__)
Send = Callable[[list[FollowUp]], None]


class LeaseLost(RuntimeError):
    """Another poll holds the helpdesk now (ours expired): stop without writing more."""


def entry_of(key: str) -> HelpdeskConfig:
    entry = current_config().helpdesks.helpdesk(key)
    if entry is None:
        raise PermanentError(f"helpdesk {key!r} is not in the business file")
    return entry


def _needs_fetch(record: TicketRecord | None) -> bool:
    """A delivery naming a ticket without its text, or without its requester's email (Zendesk's
    event envelope carries only the requester's id): the ticket is read in full."""
    return record is not None and bool(record.external_id) and (
        not (record.subject or record.body) or (not record.requester_email and bool(record.requester_id)))


def drain(sessions: sessionmaker[Session], key: str, send: Send, limit: int = 50,
          connector: HelpdeskConnector | None = None) -> int:
    """Store up to ``limit`` pending deliveries of the helpdesk as tickets; how many rows were seen."""
    with sessions() as session:
        rows = session.execute(select(InboxEvent.id, InboxEvent.payload).where(
            InboxEvent.source == inbox.source(key), InboxEvent.state == "pending")
            .order_by(InboxEvent.id).limit(limit)).tuples().all()
    if not rows:
        return 0
    if current_config().helpdesks.helpdesk(key) is None:  # removed from the file since it was stored
        with sessions() as session, session.begin():
            for row, _ in inbox.pending(session, key, limit):
                row.state, row.error, row.processed_at = "quarantined", f"helpdesk {key!r} is not in the business file", \
                    utcnow()
        return len(rows)
    fetched: dict[int, TicketRecord] = {}
    for event_id, payload in rows:
        ticket = (payload.get("delivery") or {}).get("ticket")
        record = TicketRecord.from_json(ticket) if ticket else None
        if _needs_fetch(record):
            assert record is not None
            connector = connector or helpdesk_for(entry_of(key))
            found = connector.fetch_ticket(record.external_id)
            same = found.status.lower() == record.status.lower()  # who set it, as the event said (not re-set since)
            fetched[event_id] = replace(found, raw={}, status_by=record.status_by if same else found.status_by)
    support = current_config().support
    with sessions() as session, session.begin():
        follow_ups: list[FollowUp] = []
        seen = {event_id for event_id, _ in rows}
        for row, record in inbox.pending(session, key, limit):
            if row.id not in seen:
                continue  # arrived since the read above (not fetched yet): its own drain takes it
            record = fetched.get(row.id, record)
            row.attempts, row.processed_at = row.attempts + 1, utcnow()
            if record is None or not record.external_id or not (record.subject or record.body):
                row.state, row.error = "quarantined", "the delivery names no ticket we could read"
                continue
            follow_ups += tickets.store(session, support, key, record)
            row.state = "done"
    send(follow_ups)
    return len(rows)


def stranded_helpdesks(session: Session, older_than_s: float = 60.0) -> list[str]:
    """Helpdesk keys with deliveries pending over a minute: their drain message was lost."""
    from datetime import timedelta
    sources = session.scalars(select(InboxEvent.source).where(
        InboxEvent.source.startswith(inbox.SOURCE_PREFIX), InboxEvent.state == "pending",
        InboxEvent.received_at < utcnow() - timedelta(seconds=older_than_s)).distinct())
    return sorted(source.removeprefix(inbox.SOURCE_PREFIX) for source in sources)


@dataclass
class PollReport:
    helpdesk: str
    pages: int = 0
    tickets: int = 0
    new: int = 0
    skipped: bool = False

    def summary(self) -> str:
        if self.skipped:
            return f"{self.helpdesk}: another poll holds the lease, or the helpdesk is gone; skipped"
        return f"{self.helpdesk}: {self.pages} page(s), {self.tickets} ticket(s), {self.new} new"


def poll(sessions: sessionmaker[Session], state_id: int, owner: str, send: Send,
         connector: HelpdeskConnector | None = None) -> PollReport:
    """Read the helpdesk's tickets changed since its cursor and store them, page by page."""
    with sessions() as session, session.begin():
        state = session.get(HelpdeskState, state_id)
        if state is None or not state.enabled or not states.acquire_lease(session, state_id, owner):
            return PollReport(state.key if state else str(state_id), skipped=True)
        key, cursor = state.key, state.cursor
    report = PollReport(key)
    try:
        connector = connector or helpdesk_for(entry_of(key))
        support = current_config().support
        for page in connector.poll(cursor):
            cursor = page.cursor if page.cursor is not None else cursor
            with sessions() as session, session.begin():
                if not states.save_cursor(session, state_id, owner, cursor):
                    raise LeaseLost(f"helpdesk {key}: the lease passed to another poll")
                follow_ups = [f for record in page.records for f in tickets.store(session, support, key, record)]
            send(follow_ups)
            report.pages, report.tickets = report.pages + 1, report.tickets + len(page.records)
            report.new += len(follow_ups)
    except Exception as exc:
        with sessions() as session, session.begin():
            states.finish(session, state_id, owner, report.tickets, error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    with sessions() as session, session.begin():
        states.finish(session, state_id, owner, report.tickets)
    return report


def write_back(sessions: sessionmaker[Session], row_id: int, connector: HelpdeskConnector | None = None) -> str:
    """Perform one owed write-back; raises the connector's error after giving the row back."""
    with sessions() as session, session.begin():
        claimed = write_backs.claim(session, row_id)
        if claimed is None:
            return f"write-back {row_id}: done, failed, or another run holds it"
        row = session.get(HelpdeskWriteBack, row_id)
        assert row is not None
        try:
            entry = entry_of(claimed.helpdesk)
        except PermanentError as exc:
            write_backs.release(session, claimed, str(exc), permanent=True)
            return f"write-back {row_id}: {exc}"
        update = write_backs.build_update(session, row, entry, drafts.note_draft(session, row.ticket_id))
    try:
        outcome = (connector or helpdesk_for(entry)).write_back(update)
    except Exception as exc:
        with sessions() as session, session.begin():
            write_backs.release(session, claimed, f"{type(exc).__name__}: {exc}",
                                permanent=isinstance(exc, PermanentError))
        raise
    with sessions() as session, session.begin():
        write_backs.done(session, claimed, outcome.fields_written, outcome.note_id)
    return (f"write-back {row_id} to {claimed.helpdesk} ticket {update.ticket_id}: "
            f"{', '.join(outcome.fields_written)}" + (" (note was there)" if outcome.note_existed else ""))
