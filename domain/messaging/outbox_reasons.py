"""Why each pending outbox message has not gone yet, in words an operator can act on.

``status`` used to say ``Outbox pending 7`` and nothing more. A pending row is waiting for one of
four things, and its columns tell which: a text held for the customer's quiet hours
(``not_before`` set when it was queued, no error), a provider whose circuit is open (deferred,
the reason in ``last_error``), a retry after a failed attempt (``not_before`` with the error), or
nothing at all — it is due and waits for a ``notify`` worker (for long, when none is running).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import OutboxMessage

#: A due row older than this is waiting on a worker rather than on its turn.
WORKER_WAIT = timedelta(minutes=2)
#: Pending rows read to explain (the oldest first); status counts all of them anyway.
EXPLAINED = 2000


def _when(at: datetime, now: datetime, zone: ZoneInfo) -> str:
    """``08:00 America/New_York`` today (the zone's today), with the date on any other day."""
    local = at.astimezone(zone)
    day = "" if local.date() == now.astimezone(zone).date() else f"{local:%Y-%m-%d} "
    return f"{day}{local:%H:%M} {zone.key}"


def reason(row: OutboxMessage, now: datetime, zone: ZoneInfo) -> str:
    """One row's reason; rows with the same reason read the same, so they can be counted."""
    if row.not_before is not None and row.not_before > now:
        error = row.last_error or ""
        if not error:
            return f"held for quiet hours until {_when(row.not_before, now, zone)}"
        if " circuit " in error:
            return f"{error.split(':')[0]} (provider failing), next try {_when(row.not_before, now, zone)}"
        return f"retrying after a failed attempt, next try {_when(row.not_before, now, zone)}"
    waited = now - (row.not_before or row.created_at)
    if waited > WORKER_WAIT:
        return "due, waiting for a notify worker for over 2 minutes (is `notify` running?)"
    return "due now, being sent"


def pending(session: Session, now: datetime, timezone: str) -> list[dict[str, object]]:
    """``[{"reason", "count"}]`` for the pending rows, most common first."""
    zone = ZoneInfo(timezone)
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.state == "pending")
                           .order_by(OutboxMessage.id).limit(EXPLAINED))
    counted = Counter(reason(row, now, zone) for row in rows)
    return [{"reason": text, "count": count} for text, count in counted.most_common()]
