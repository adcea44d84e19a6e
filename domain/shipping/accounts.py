"""Shipping accounts as rows: which are due a poll, who polls one now (a lease), and its cursor.

The same pattern as stores (``domain.stock.poll_schedule``): the slot is claimed by moving
``next_poll_at`` forward in the statement that finds it due, so two beats hand each slot out once;
the poll holds a lease it renews with each stored page, and a poll that dies lets it expire.
The rows follow the business file (``[[shipping.accounts]]``), synced on every dispatch, so an
account added to the file is polled without a separate load step.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import ShippingAccount
from domain.core.shipping_config import ShippingConfig

LEASE_TTL = timedelta(minutes=5)

CLAIM_DUE_SQL = text("""
UPDATE shipping_accounts
   SET next_poll_at = :now + make_interval(secs => poll_interval_s)
 WHERE enabled AND (next_poll_at IS NULL OR next_poll_at <= :now)
RETURNING id
""")


def sync(session: Session, config: ShippingConfig) -> dict[str, int]:
    """One row per account in the file (key → id); accounts no longer there are disabled, kept."""
    keys = [account.key for account in config.accounts]
    for account in config.accounts:
        statement = insert(ShippingAccount).values(key=account.key, provider=account.provider, enabled=account.enabled,
                                                   poll_interval_s=account.poll_interval_s)
        session.execute(statement.on_conflict_do_update(index_elements=["key"], set_={
            "provider": statement.excluded.provider, "enabled": statement.excluded.enabled,
            "poll_interval_s": statement.excluded.poll_interval_s}))
    session.execute(update(ShippingAccount).where(ShippingAccount.key.not_in(keys or [""])).values(enabled=False))
    return dict(session.execute(select(ShippingAccount.key, ShippingAccount.id)
                                .where(ShippingAccount.key.in_(keys))).tuples().all())


def claim_due(session: Session, now: datetime | None = None) -> list[int]:
    """Accounts whose interval has passed; each slot handed out once, whatever runs this."""
    return [int(row.id) for row in session.execute(CLAIM_DUE_SQL, {"now": now or utcnow()})]


def acquire_lease(session: Session, account_id: int, owner: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    result = session.execute(update(ShippingAccount).where(
        ShippingAccount.id == account_id, or_(ShippingAccount.lease_owner.is_(None),
                                              ShippingAccount.lease_expires_at < now,
                                              ShippingAccount.lease_owner == owner))
        .values(lease_owner=owner, lease_expires_at=now + LEASE_TTL))
    return result.rowcount == 1  # type: ignore[attr-defined]


def save_cursor(session: Session, account_id: int, owner: str, cursor: str | None,
                now: datetime | None = None) -> bool:
    """Store the cursor and renew the lease; False when another poll holds it now (stop)."""
    now = now or utcnow()
    result = session.execute(update(ShippingAccount).where(ShippingAccount.id == account_id,
                                                           ShippingAccount.lease_owner == owner)
                             .values(cursor=cursor, lease_expires_at=now + LEASE_TTL))
    return result.rowcount == 1  # type: ignore[attr-defined]


def finish(session: Session, account_id: int, owner: str, error: str | None = None,
           now: datetime | None = None) -> None:
    """Release the lease and note how the poll ended (``backorders status`` shows the error)."""
    session.execute(update(ShippingAccount).where(ShippingAccount.id == account_id)
                    .values(last_polled_at=now or utcnow(), last_error=error))
    session.execute(update(ShippingAccount).where(ShippingAccount.id == account_id,
                                                  ShippingAccount.lease_owner == owner)
                    .values(lease_owner=None, lease_expires_at=None))
