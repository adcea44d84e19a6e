"""Each helpdesk's poll, pending deliveries and write-backs, read back for ``backorders helpdesks
list`` and ``backorders status``."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import HelpdeskState, HelpdeskWriteBack, InboxEvent, SupportTicket
from domain.helpdesks import inbox


def states(session: Session) -> list[dict[str, Any]]:
    """One dict per helpdesk row: its last poll and error, tickets, deliveries and write-backs waiting."""
    pending = dict(session.execute(select(InboxEvent.source, func.count()).where(
        InboxEvent.source.startswith(inbox.SOURCE_PREFIX), InboxEvent.state == "pending")
        .group_by(InboxEvent.source)).tuples().all())
    tickets = dict(session.execute(select(SupportTicket.source, func.count()).group_by(SupportTicket.source))
                   .tuples().all())
    writes: dict[tuple[str, str], int] = {
        (helpdesk, state): count for helpdesk, state, count in session.execute(
            select(HelpdeskWriteBack.helpdesk, HelpdeskWriteBack.state, func.count())
            .group_by(HelpdeskWriteBack.helpdesk, HelpdeskWriteBack.state)).tuples()}
    rows = []
    for state in session.scalars(select(HelpdeskState).order_by(HelpdeskState.key)):
        polled = f"last polled {state.last_polled_at:%Y-%m-%d %H:%M} UTC" if state.last_polled_at else "never polled"
        outcome = f"failed: {state.last_error}" if state.last_error else "ok"
        waiting = {s: writes.get((state.key, s), 0) for s in ("pending", "done", "failed")}
        row: dict[str, Any] = {"key": state.key, "platform": state.platform, "enabled": state.enabled,
               "poll_interval_s": state.poll_interval_s,
               "last_polled_at": state.last_polled_at.isoformat() if state.last_polled_at else None,
               "last_error": state.last_error, "last_tickets": state.last_tickets,
               "tickets": tickets.get(state.key, 0), "deliveries_pending": pending.get(inbox.source(state.key), 0),
               "write_backs": waiting}
        row["line"] = (f"{state.key}  {polled} {outcome}; {row['tickets']} ticket(s), "
                       f"{row['deliveries_pending']} delivery(ies) pending, write-backs "
                       + ", ".join(f"{n} {s}" for s, n in waiting.items()))
        rows.append(row)
    return rows
