"""Our decision on a return the store keeps itself, written back to the store as a row.

A return opened from Shopify's ``returns/request`` (``domain.returns.store_returns``) is decided
here — by the refund policy at once, or by a person after review. Shopify's return stays
``REQUESTED`` until the merchant approves or declines it
(https://shopify.dev/docs/apps/build/orders-fulfillment/returns-apps), so the decision is written
to it: ``approved`` here → ``returnApproveRequest`` (the store's return becomes ``OPEN``,
https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnApproveRequest); ``rejected``
here → ``returnDeclineRequest`` with ``declineReason: OTHER`` and the rule or the person's note as
``declineNote`` (``ReturnDeclineReason`` is ``FINAL_SALE``, ``RETURN_PERIOD_ENDED`` or ``OTHER``:
https://shopify.dev/docs/api/admin-graphql/2025-01/enums/ReturnDeclineReason ; the note is at most
500 characters, https://shopify.dev/docs/api/admin-graphql/2025-01/input-objects/ReturnDeclineRequestInput).

:func:`owe` records one ``store_return_writes`` row per return in the transaction that decides it
(a redelivered request, a second decision: still one row) and owes the ``store_return_write``
stage, sent after the commit. The task claims the row ``FOR UPDATE SKIP LOCKED`` under a lease,
writes with no transaction open, and marks it done with what the store answered; a transient
failure (``THROTTLED``, a 5xx, a lost answer) gives it back due again, for the task's retry or the
returns sweeper (:func:`stranded`); a permanent one leaves it ``failed`` with the error. A store
that had already left ``requested`` (its merchant decided first, or an earlier attempt whose answer
was lost went through) answers a user error: that is ``done``, outcome ``already``, with the status
the store shows — never a failure, and never a second write. Each end is a ``return_events`` step
(``store_write``, ``store_write_failed``) and an audit row, which ``backorders why return`` and
``returns show`` list. ``[returns] write_back = false`` (or ``enabled = false``) owes nothing.
The store's echo of our write (``returns/approve`` / ``returns/decline``) is only noted on ours.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.business_config import BusinessConfig
from domain.core.models import Order, RefundDecision, ReturnRequest, Store, StoreReturnWrite
from domain.core.stages import FollowUp, Stage
from domain.returns import machine

SOURCE = "shopify"
LEASE = timedelta(minutes=2)
#: A row due this long with no run in flight lost its message: the sweeper sends it again.
STRANDED_AFTER = timedelta(seconds=30)
#: Runs of one row before it is left ``failed`` (``returns show`` gives its error).
MAX_ATTEMPTS = 8
#: Our state → what the store's return is told.
ACTIONS = {"approved": "approve", "rejected": "decline"}
DECLINE_REASON = "OTHER"


def store_return_id(row: ReturnRequest) -> str:
    """The store's return id in our reference ``<store key>:<return gid>``."""
    return row.source_ref[row.source_ref.find("gid://"):] if "gid://" in row.source_ref else ""


def _note(session: Session, row: ReturnRequest, note: str) -> str:
    if note:
        return note[:500]
    decision = session.get(RefundDecision, row.decision_id) if row.decision_id else None
    return f"Declined by the refund policy (rule {decision.rule_name!r})"[:500] if decision else ""


def owe(session: Session, config: BusinessConfig, row: ReturnRequest, now: datetime, note: str = "") \
        -> list[FollowUp]:
    """Record the write our decision on a store's return owes (once per return); the follow-up."""
    action = ACTIONS.get(row.state)
    gid = store_return_id(row)
    if row.source != SOURCE or action is None or not gid or not (config.returns.enabled
                                                                  and config.returns.write_back):
        return []
    order = session.get(Order, row.order_id)
    if order is None:
        return []
    new_id = session.scalar(insert(StoreReturnWrite).values(
        return_id=row.id, store_id=order.store_id, store_return=gid, action=action,
        decline_reason=DECLINE_REASON if action == "decline" else None,
        note=_note(session, row, note) if action == "decline" else "", due_at=now, created_at=now,
    ).on_conflict_do_nothing(index_elements=["return_id"]).returning(StoreReturnWrite.id))
    return [] if new_id is None else [FollowUp(Stage.STORE_RETURN_WRITE, (new_id,))]


@dataclass(frozen=True)
class Claimed:
    row_id: int
    return_id: int
    store_id: int
    store_return: str
    action: str
    decline_reason: str | None
    note: str


def claim(session: Session, row_id: int, now: datetime) -> Claimed | None:
    """Lease the row unless it is done, failed, or another run holds it."""
    row = session.scalar(select(StoreReturnWrite).where(
        StoreReturnWrite.id == row_id, StoreReturnWrite.state == "pending",
        or_(StoreReturnWrite.claimed_until.is_(None), StoreReturnWrite.claimed_until < now))
        .with_for_update(skip_locked=True))
    if row is None:
        return None
    row.claimed_until, row.due_at, row.attempts = now + LEASE, None, row.attempts + 1
    return Claimed(row.id, row.return_id, row.store_id, row.store_return, row.action, row.decline_reason, row.note)


def _actor(session: Session, store_id: int) -> str:
    store = session.get(Store, store_id)
    return f"shopify:{store.key if store else store_id}"


def done(session: Session, claimed: Claimed, outcome: str, store_status: str, now: datetime,
         message: str = "") -> None:
    """The store took the write (``written``) or already showed a decision (``already``): recorded
    on the row, the return's history and the audit log."""
    row = session.get(StoreReturnWrite, claimed.row_id, with_for_update=True)
    if row is None or row.state != "pending":
        return
    row.state, row.outcome, row.store_status, row.done_at = "done", outcome, store_status[:16], now
    row.claimed_until, row.last_error = None, message[:2000] or None
    ours = machine.lock(session, claimed.return_id)
    detail = {"action": claimed.action, "outcome": outcome, "store_return": claimed.store_return,
              "store_status": store_status, "write_id": row.id, "attempts": row.attempts,
              **({"decline_reason": claimed.decline_reason, "note": claimed.note} if claimed.action == "decline"
                 else {}), **({"message": message[:300]} if message else {})}
    if ours is not None:
        machine.note(session, ours, "store_write", _actor(session, claimed.store_id), now, **detail)
    audit.record(session, _actor(session, claimed.store_id), f"store_return.{claimed.action}", "return_request",
                 claimed.return_id, **{key: value for key, value in detail.items() if key != "action"})


def release(session: Session, claimed: Claimed, error: str, now: datetime, *, permanent: bool = False) -> None:
    """The write failed: due again (retried), or ``failed`` when retrying cannot help or it ran out."""
    row = session.get(StoreReturnWrite, claimed.row_id, with_for_update=True)
    if row is None or row.state != "pending":
        return
    row.claimed_until, row.last_error = None, error[:2000]
    if not (permanent or row.attempts >= MAX_ATTEMPTS):
        row.due_at = now
        return
    row.state = "failed"
    ours = machine.lock(session, claimed.return_id)
    if ours is not None:
        machine.note(session, ours, "store_write_failed", _actor(session, claimed.store_id), now,
                     action=claimed.action, store_return=claimed.store_return, error=error[:500])
    audit.record(session, _actor(session, claimed.store_id), f"store_return.{claimed.action}_failed",
                 "return_request", claimed.return_id, store_return=claimed.store_return, error=error[:500])


def stranded(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Rows whose message was lost (due a while, no run in flight) or whose run died holding its lease."""
    return list(session.scalars(select(StoreReturnWrite.id).where(
        StoreReturnWrite.state == "pending",
        or_(StoreReturnWrite.due_at <= now - STRANDED_AFTER, StoreReturnWrite.claimed_until < now))
        .order_by(StoreReturnWrite.id).limit(limit)))


def of_return(session: Session, return_id: int) -> StoreReturnWrite | None:
    return session.scalar(select(StoreReturnWrite).where(StoreReturnWrite.return_id == return_id))
