"""Webhook subscriptions that expire unless renewed (Business Central drops one after three days:
https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/dynamics-subscriptions)
are renewed by a timer row per store, swept like every timer (``domain.core.timers``).

The row is due a day before the earliest subscription of the store expires (:data:`AHEAD`), so a
renewal that fails has a day of retries before any notification is lost. Firing it asks for the
``renew_subscriptions`` stage and, in the same transaction, moves the row :data:`RETRY` ahead: if
the message is lost or the renewal fails, the row fires again; when the renewal succeeds, the
task moves the row to a day before the new expiry (``schedule`` replaces the pending row). The
renewal's platform calls happen in the task, between two transactions, never in the sweeper's.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from domain.core import timers
from domain.core.clock import utcnow
from domain.core.models import Store, Timer
from domain.core.stages import FollowUp, Stage

RENEW = "subscriptions.renew"
SUBJECT = "store"
#: How long before the earliest expiry the renewal is due.
AHEAD = timedelta(hours=24)
#: When a fired renewal that has not reported back is tried again.
RETRY = timedelta(minutes=30)


def schedule(session: Session, store_id: int, expiries: Iterable[datetime | None],
             now: datetime | None = None) -> datetime | None:
    """Make the store's renewal due :data:`AHEAD` of its earliest expiry (at once if that is past);
    None, and nothing scheduled, when no subscription expires."""
    known = [when for when in expiries if when is not None]
    if not known:
        return None
    due = max(now or utcnow(), min(known) - AHEAD)
    timers.schedule(session, RENEW, SUBJECT, store_id, due)
    return due


@timers.handler(RENEW)
def _renew_due(session: Session, timer: Timer) -> list[FollowUp]:
    store = session.get(Store, timer.subject_id)
    if store is None or not store.enabled:
        return []
    timers.schedule(session, RENEW, SUBJECT, store.id, utcnow() + RETRY)
    return [FollowUp(Stage.RENEW_SUBSCRIPTIONS, (store.id,))]
