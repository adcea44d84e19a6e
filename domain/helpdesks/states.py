"""Helpdesks as rows: which is due a poll, who polls one now (a lease), its cursor and last poll.

The same pattern as shipping accounts (``domain.shipping.accounts``): the slot is claimed by
moving ``next_poll_at`` forward in the statement that finds it due, so two beats hand each slot out
once; the poll holds a lease it renews with each stored page. The rows follow ``[[helpdesks]]``,
synced on every dispatch; the interval is the entry's ``options.poll_interval_s`` (default 300).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.helpdesk_config import HelpdeskConfig, HelpdesksConfig
from domain.core.models import HelpdeskState

LEASE_TTL = timedelta(minutes=5)
DEFAULT_POLL_INTERVAL_S = 300

CLAIM_DUE_SQL = text("""
UPDATE helpdesk_states
   SET next_poll_at = :now + make_interval(secs => poll_interval_s)
 WHERE enabled AND (next_poll_at IS NULL OR next_poll_at <= :now)
RETURNING id
""")


def poll_interval_s(entry: HelpdeskConfig) -> int:
    return max(1, int(entry.options.get("poll_interval_s", DEFAULT_POLL_INTERVAL_S)))


def sync(session: Session, config: HelpdesksConfig) -> dict[str, int]:
    """One row per entry (key → id); entries no longer in the file are disabled, kept."""
    keys = [entry.key for entry in config.entries]
    for entry in config.entries:
        statement = insert(HelpdeskState).values(key=entry.key, platform=entry.platform, enabled=True,
                                                 poll_interval_s=poll_interval_s(entry))
        session.execute(statement.on_conflict_do_update(index_elements=["key"], set_={
            "platform": statement.excluded.platform, "enabled": True,
            "poll_interval_s": statement.excluded.poll_interval_s}))
    session.execute(update(HelpdeskState).where(HelpdeskState.key.not_in(keys or [""])).values(enabled=False))
    return dict(session.execute(select(HelpdeskState.key, HelpdeskState.id)
                                .where(HelpdeskState.key.in_(keys))).tuples().all())


def claim_due(session: Session, now: datetime | None = None) -> list[int]:
    """Helpdesks whose interval has passed; each slot handed out once, whatever runs this."""
    return [int(row.id) for row in session.execute(CLAIM_DUE_SQL, {"now": now or utcnow()})]


def acquire_lease(session: Session, state_id: int, owner: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    result = session.execute(update(HelpdeskState).where(
        HelpdeskState.id == state_id, or_(HelpdeskState.lease_owner.is_(None), HelpdeskState.lease_expires_at < now,
                                          HelpdeskState.lease_owner == owner))
        .values(lease_owner=owner, lease_expires_at=now + LEASE_TTL))
    return result.rowcount == 1  # type: ignore[attr-defined]


def save_cursor(session: Session, state_id: int, owner: str, cursor: str | None, now: datetime | None = None) -> bool:
    """Store the cursor and renew the lease; False when another poll holds it now (stop)."""
    now = now or utcnow()
    result = session.execute(update(HelpdeskState).where(HelpdeskState.id == state_id,
                                                         HelpdeskState.lease_owner == owner)
                             .values(cursor=cursor, lease_expires_at=now + LEASE_TTL))
    return result.rowcount == 1  # type: ignore[attr-defined]


def finish(session: Session, state_id: int, owner: str, tickets: int = 0, error: str | None = None,
           now: datetime | None = None) -> None:
    """Release the lease and note how the poll ended (``backorders helpdesks list`` and status show it)."""
    session.execute(update(HelpdeskState).where(HelpdeskState.id == state_id)
                    .values(last_polled_at=now or utcnow(), last_error=error, last_tickets=tickets))
    session.execute(update(HelpdeskState).where(HelpdeskState.id == state_id, HelpdeskState.lease_owner == owner)
                    .values(lease_owner=None, lease_expires_at=None))
