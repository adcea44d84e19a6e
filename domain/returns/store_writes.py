"""Our moves on a return the store keeps itself, written back to the store as rows.

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

An ``OPEN`` return there (approved by our write or by its merchant) is then ended as ours ends:
``cancelled`` here (a person cancelled it before anything came back) → ``returnCancel(id:)``, only
possible there before any work was done on it
(https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnCancel); ``settled`` here
(refund planned, disposition booked) → ``returnClose(id:)``, the return complete
(https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnClose) — sent once the refund
is paid: the close waits while the refund execution is under way, its success sends it
(:func:`closes_paid`), and a refund refused for good leaves the close ``failed`` and the store's
return open for staff. A return still
``REQUESTED`` there when a person cancels ours is not written (rejecting it declines it there).

:func:`owe` records a ``store_return_writes`` row in the transaction that moves ours: one per
return and action, and one decision per return (a redelivered request, a second decision, a step
run again: still one row). It owes the ``store_return_write`` stage, sent after the commit. The
task claims the row ``FOR UPDATE SKIP LOCKED`` under a lease — not while an earlier write of the
same return is pending, so a cancel never overtakes the approval it undoes; :func:`done` sends the
next one — writes with no transaction open, and marks it done with what the store answered; a
transient failure (``THROTTLED``, a 5xx, a lost answer) gives it back due again, for the task's
retry or the returns sweeper (:func:`stranded`); a permanent one leaves it ``failed`` with the
error. A store no longer in the status the move starts from (its merchant moved it first, or an
earlier attempt whose answer was lost went through) answers a user error: that is ``done``,
outcome ``already``, with the status the store shows — never a failure, and never a second write.
Each end is a ``return_events`` step (``store_write``, ``store_write_failed``) and an audit row,
which ``backorders why return`` and ``returns show`` list. ``[returns] write_back = false`` (or
``enabled = false``) owes nothing. The store's echo of our write (``returns/approve``,
``returns/decline``, ``returns/cancel``, ``returns/close``) is only noted on ours
(:func:`written`), and noting owes nothing: no write answers an echo.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.business_config import BusinessConfig
from domain.core.models import (Order, RefundDecision, RefundExecution, ReturnEvent, ReturnRequest, Store,
                                StoreReturnWrite)
from domain.core.stages import FollowUp, Stage
from domain.returns import machine

SOURCE = "shopify"
LEASE = timedelta(minutes=2)
#: A row due this long with no run in flight lost its message: the sweeper sends it again.
STRANDED_AFTER = timedelta(seconds=30)
#: Runs of one row before it is left ``failed`` (``returns show`` gives its error).
MAX_ATTEMPTS = 8
#: Our state → what the store's return is told.
ACTIONS = {"approved": "approve", "rejected": "decline", "cancelled": "cancel", "settled": "close"}
#: Moves the store takes only from ``OPEN``: owed when it shows the return open as far as we know.
FROM_OPEN = ("cancel", "close")
#: Steps on ours telling the store's return was opened there, and those telling it ended there.
STORE_OPENED = ("store_approved", "store_reopened")
STORE_ENDED = ("store_declined", "store_canceled", "store_closed")
DECLINE_REASON = "OTHER"
#: Refund execution states in which a close waits: the money is still on its way back.
REFUND_UNDER_WAY = ("pending", "sending", "awaiting", "held")


def store_return_id(row: ReturnRequest) -> str:
    """The store's return id in our reference ``<store key>:<return gid>``."""
    return row.source_ref[row.source_ref.find("gid://"):] if "gid://" in row.source_ref else ""


def _note(session: Session, row: ReturnRequest, note: str) -> str:
    if note:
        return note[:500]
    decision = session.get(RefundDecision, row.decision_id) if row.decision_id else None
    return f"Declined by the refund policy (rule {decision.rule_name!r})"[:500] if decision else ""


def store_open(session: Session, row: ReturnRequest) -> bool:
    """True when the store shows ``row``'s return ``OPEN`` as far as we know: the newest of the
    store's moves noted on ours opened it (its approval, a reopen), or none ended it and our own
    approval was written (or is owed) to it."""
    last = session.scalar(select(ReturnEvent.step).where(
        ReturnEvent.return_id == row.id, ReturnEvent.step.in_(STORE_OPENED + STORE_ENDED))
        .order_by(ReturnEvent.id.desc()).limit(1))
    if last is not None:
        return last in STORE_OPENED
    return written(session, row.id, "approve") is not None


def owe(session: Session, config: BusinessConfig, row: ReturnRequest, now: datetime, note: str = "") \
        -> list[FollowUp]:
    """Record the write ours moving to its state owes the store's return (once per return and
    action, one decision per return); the follow-up. Call it with ``row`` locked."""
    action = ACTIONS.get(row.state)
    gid = store_return_id(row)
    if row.source != SOURCE or action is None or not gid or not (config.returns.enabled
                                                                  and config.returns.write_back):
        return []
    if action in FROM_OPEN and not store_open(session, row):
        return []
    order = session.get(Order, row.order_id)
    if order is None:
        return []
    new_id = session.scalar(insert(StoreReturnWrite).values(
        return_id=row.id, store_id=order.store_id, store_return=gid, action=action,
        decline_reason=DECLINE_REASON if action == "decline" else None,
        note=_note(session, row, note) if action == "decline" else "", due_at=now, created_at=now,
    ).on_conflict_do_nothing().returning(StoreReturnWrite.id))  # (return, action), or a second decision
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


def _earlier_pending(session: Session, row: StoreReturnWrite) -> int | None:
    return session.scalar(select(StoreReturnWrite.id).where(
        StoreReturnWrite.return_id == row.return_id, StoreReturnWrite.id < row.id,
        StoreReturnWrite.state == "pending").order_by(StoreReturnWrite.id).limit(1))


def behind(session: Session, row_id: int, now: datetime) -> int | None:
    """The earlier write of the same return that row ``row_id`` (pending, not leased) waits for."""
    row = session.get(StoreReturnWrite, row_id)
    if row is None or row.state != "pending" or (row.claimed_until is not None and row.claimed_until >= now):
        return None
    return _earlier_pending(session, row)


def refund_of(session: Session, return_id: int) -> tuple[int, str] | None:
    """(execution id, state) of the refund paying the return back, or None when it pays nothing."""
    found = session.execute(select(RefundExecution.id, RefundExecution.state).join(
        ReturnRequest, ReturnRequest.execution_id == RefundExecution.id).where(ReturnRequest.id == return_id)).first()
    return (found[0], found[1]) if found is not None else None


def unpaid(session: Session, row_id: int) -> int | None:
    """The refund execution a pending close waits for: the store's return is closed once the
    money is back, not when the refund is only planned."""
    row = session.get(StoreReturnWrite, row_id)
    if row is None or row.state != "pending" or row.action != "close":
        return None
    paying = refund_of(session, row.return_id)
    return paying[0] if paying is not None and paying[1] in REFUND_UNDER_WAY else None


def _fail(session: Session, row: StoreReturnWrite, error: str, now: datetime) -> None:
    """Left ``failed`` with ``error``: on the row, the return's history and the audit log."""
    row.state, row.last_error, row.due_at, row.claimed_until = "failed", error[:2000], None, None
    ours = machine.lock(session, row.return_id)
    if ours is not None:
        machine.note(session, ours, "store_write_failed", _actor(session, row.store_id), now,
                     action=row.action, store_return=row.store_return, error=error[:500])
    audit.record(session, _actor(session, row.store_id), f"store_return.{row.action}_failed", "return_request",
                 row.return_id, store_return=row.store_return, error=error[:500])


def claim(session: Session, row_id: int, now: datetime) -> Claimed | None:
    """Lease the row unless it is done, failed, another run holds it, an earlier write of its
    return is still pending (it stays due: that write's end sends it, else the sweeper), or it is a
    close whose refund is still under way (:func:`closes_paid` sends it once paid, else the sweeper);
    a close whose refund failed is left ``failed``, the store's return open."""
    row = session.scalar(select(StoreReturnWrite).where(
        StoreReturnWrite.id == row_id, StoreReturnWrite.state == "pending",
        or_(StoreReturnWrite.claimed_until.is_(None), StoreReturnWrite.claimed_until < now))
        .with_for_update(skip_locked=True))
    if row is None or _earlier_pending(session, row) is not None:
        return None
    paying = refund_of(session, row.return_id) if row.action == "close" else None
    if paying is not None and paying[1] in REFUND_UNDER_WAY:
        row.due_at = now  # looked at again by the sweeper a while after, should the paid refund not send it
        return None
    if paying is not None and paying[1] == "failed":  # not paid: the store's return stays open
        _fail(session, row, f"refund execution {paying[0]} failed: the store's return is left open for staff "
                            "(`backorders refunds list`)", now)
        return None
    row.claimed_until, row.due_at, row.attempts = now + LEASE, None, row.attempts + 1
    return Claimed(row.id, row.return_id, row.store_id, row.store_return, row.action, row.decline_reason, row.note)


def _actor(session: Session, store_id: int) -> str:
    store = session.get(Store, store_id)
    return f"shopify:{store.key if store else store_id}"


def _next(session: Session, return_id: int) -> list[FollowUp]:
    """The follow-up sending the return's next pending write (it waited for the one just ended)."""
    waiting = session.scalar(select(StoreReturnWrite.id).where(
        StoreReturnWrite.return_id == return_id, StoreReturnWrite.state == "pending")
        .order_by(StoreReturnWrite.id).limit(1))
    return [] if waiting is None else [FollowUp(Stage.STORE_RETURN_WRITE, (waiting,))]


def done(session: Session, claimed: Claimed, outcome: str, store_status: str, now: datetime,
         message: str = "") -> list[FollowUp]:
    """The store took the write (``written``) or was no longer where the move starts (``already``):
    recorded on the row, the return's history and the audit log; the return's next write, if any."""
    row = session.get(StoreReturnWrite, claimed.row_id, with_for_update=True)
    if row is None or row.state != "pending":
        return []
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
    return _next(session, claimed.return_id)


def release(session: Session, claimed: Claimed, error: str, now: datetime, *, permanent: bool = False) \
        -> list[FollowUp]:
    """The write failed: due again (retried), or ``failed`` when retrying cannot help or it ran out
    (then the return's next write, if any, is sent)."""
    row = session.get(StoreReturnWrite, claimed.row_id, with_for_update=True)
    if row is None or row.state != "pending":
        return []
    if not (permanent or row.attempts >= MAX_ATTEMPTS):
        row.claimed_until, row.last_error, row.due_at = None, error[:2000], now
        return []
    _fail(session, row, error, now)
    return _next(session, claimed.return_id)


def closes_paid(session: Session, execution_id: int) -> list[FollowUp]:
    """The closes that waited for this refund execution, now settled (paid: sent; failed: each is
    left ``failed`` when it runs)."""
    return [FollowUp(Stage.STORE_RETURN_WRITE, (row_id,)) for row_id in session.scalars(
        select(StoreReturnWrite.id).join(ReturnRequest, ReturnRequest.id == StoreReturnWrite.return_id).where(
            ReturnRequest.execution_id == execution_id, StoreReturnWrite.action == "close",
            StoreReturnWrite.state == "pending").order_by(StoreReturnWrite.id))]


def stranded(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Rows whose message was lost (due a while, no run in flight) or whose run died holding its lease."""
    return list(session.scalars(select(StoreReturnWrite.id).where(
        StoreReturnWrite.state == "pending",
        or_(StoreReturnWrite.due_at <= now - STRANDED_AFTER, StoreReturnWrite.claimed_until < now))
        .order_by(StoreReturnWrite.id).limit(limit)))


def of_return(session: Session, return_id: int) -> list[StoreReturnWrite]:
    """Every write owed to the return's store, in the order they were owed."""
    return list(session.scalars(select(StoreReturnWrite).where(StoreReturnWrite.return_id == return_id)
                                .order_by(StoreReturnWrite.id)))


def written(session: Session, return_id: int, action: str) -> StoreReturnWrite | None:
    """The return's write of ``action``, if one was owed (its echo is then ours coming back)."""
    return session.scalar(select(StoreReturnWrite).where(StoreReturnWrite.return_id == return_id,
                                                         StoreReturnWrite.action == action))
