"""Poll scheduling and leases: which stores are due, and who may poll a store right now.

A store's slot is claimed by moving ``next_poll_at`` forward in the same statement that finds
it due, so two beat processes dispatch each slot once. The poll itself holds a lease (owner +
expiry) that it renews after each page; a second poll of the same store, from a duplicate beat
or a redelivered message, finds the lease held and leaves. A poll that dies lets its lease
expire, and the next slot takes over from the cursor saved after the last stored page.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, text, update
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import Store

LEASE_TTL = timedelta(minutes=5)

CLAIM_DUE_SQL = text("""
UPDATE stores
   SET next_poll_at = :now + make_interval(secs => poll_interval_s)
 WHERE enabled AND (next_poll_at IS NULL OR next_poll_at <= :now)
RETURNING id,
          (stock_cursor IS NULL OR last_full_sync_at IS NULL
           OR last_full_sync_at + make_interval(secs => full_sync_interval_s) <= :now) AS full
""")


@dataclass(frozen=True)
class DuePoll:
    store_id: int
    full: bool


def claim_due(session: Session, now: datetime | None = None) -> list[DuePoll]:
    """Stores whose interval has passed; each slot is handed out once, whatever runs this."""
    return [DuePoll(row.id, bool(row.full)) for row in session.execute(CLAIM_DUE_SQL, {"now": now or utcnow()})]


def acquire_lease(session: Session, store_id: int, owner: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    result = session.execute(
        update(Store).where(Store.id == store_id,
                            or_(Store.lease_owner.is_(None), Store.lease_expires_at < now, Store.lease_owner == owner))
        .values(lease_owner=owner, lease_expires_at=now + LEASE_TTL)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def renew_lease(session: Session, store_id: int, owner: str, now: datetime | None = None) -> bool:
    """Extend the lease; False means another poll took over (ours expired) and we must stop."""
    now = now or utcnow()
    result = session.execute(update(Store).where(Store.id == store_id, Store.lease_owner == owner)
                             .values(lease_expires_at=now + LEASE_TTL))
    return result.rowcount == 1  # type: ignore[attr-defined]


def release_lease(session: Session, store_id: int, owner: str) -> None:
    session.execute(update(Store).where(Store.id == store_id, Store.lease_owner == owner)
                    .values(lease_owner=None, lease_expires_at=None))


def save_stock_cursor(session: Session, store_id: int, owner: str, cursor: str | None) -> bool:
    result = session.execute(update(Store).where(Store.id == store_id, Store.lease_owner == owner)
                             .values(stock_cursor=cursor))
    return result.rowcount == 1  # type: ignore[attr-defined]


def save_order_cursor(session: Session, store_id: int, owner: str, cursor: str | None) -> bool:
    result = session.execute(update(Store).where(Store.id == store_id, Store.lease_owner == owner)
                             .values(order_cursor=cursor))
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_polled(session: Session, store_id: int, full: bool, now: datetime | None = None) -> None:
    now = now or utcnow()
    values: dict[str, object] = {"last_polled_at": now}
    if full:
        values["last_full_sync_at"] = now
    session.execute(update(Store).where(Store.id == store_id).values(**values))


def due_now(session: Session, store_id: int, now: datetime | None = None) -> None:
    """Make the store's next poll due now (a change notification named what changed): beat's next
    ``claim_due`` hands the slot out once, as any other, and the poll's lease keeps it single."""
    now = now or utcnow()
    session.execute(update(Store).where(Store.id == store_id, or_(Store.next_poll_at.is_(None),
                                                                  Store.next_poll_at > now))
                    .values(next_poll_at=now))
