"""The one clock: PostgreSQL's. Every "is it due / is it still leased / when does it expire" reads it.

Timers, poll and push leases, the poll schedule, outbox deferrals and claims, reminders and
deadlines, purchase-order windows: each compares a row's time with ``utcnow()``. Those rows are
shared by every worker, so the comparison must use one clock for all of them. A worker's own
clock is not one: probing with a worker 11 minutes ahead of the database fired 8 timers and
queued 4 reminders early, and one 6 minutes ahead took a poll lease another worker still held.

``utcnow()`` is therefore the database server's clock, read once (``SELECT clock_timestamp()``,
the round trip's midpoint taken as its moment) and advanced by ``time.monotonic()`` — which a
step of the wall clock never moves — then read again every :data:`RESYNC_S`. Its error is half
a round trip plus the monotonic clock's drift over a minute (milliseconds), whatever the worker's
wall clock says. Reading it costs no query between re-syncs.

Until the database has answered once (a process started while PostgreSQL is down, a unit test
with no server) the process clock stands in, with one warning; nothing decided by it can commit
before the database answers, and the next call after :data:`RETRY_S` tries again. An anchor that
cannot be refreshed keeps serving: the monotonic clock stays right without it.

Tests move time with freezegun: while freezegun is active (and :data:`TRUST_FREEZEGUN` is true),
``utcnow()`` is freezegun's time, so a test that freezes or ticks the clock keeps deciding by it.
The skew tests set ``TRUST_FREEZEGUN = False`` and use freezegun as a *wrong* worker clock, which
must then change nothing.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

#: Seconds between reads of the database's clock; the monotonic clock carries it in between.
RESYNC_S = 60.0
#: Seconds before trying again after the database could not be asked.
RETRY_S = 5.0
#: Whether an active freezegun decides the time (the tests' time travel); see the module docstring.
TRUST_FREEZEGUN = True

# The real monotonic clock, kept inside a tuple: freezegun replaces module attributes that *are*
# the real function while it is active, not ones held in containers. The database anchor must be
# carried by the machine's monotonic clock even while a test has frozen the process clock.
_MONOTONIC = (time.monotonic,)


class Anchor:
    """The database's time at one monotonic instant."""

    __slots__ = ("db_time", "mono")

    def __init__(self, db_time: datetime, mono: float) -> None:
        self.db_time, self.mono = db_time, mono


_anchor: Anchor | None = None
_next_try = 0.0
_warned = False
_lock = threading.Lock()


def _freezegun_active() -> bool:
    api = sys.modules.get("freezegun.api")
    return bool(api is not None and getattr(api, "freeze_factories", None))


def utcnow() -> datetime:
    """The database server's time (see the module docstring), or freezegun's in a test that set it.

    Only a process's first call waits for the database; later re-syncs run in a background thread
    while the current anchor keeps answering, so a stalled PostgreSQL never stalls a caller here."""
    if TRUST_FREEZEGUN and _freezegun_active():
        return datetime.now(UTC)
    anchor = _anchor
    if anchor is None:
        anchor = _resync(_MONOTONIC[0]())
        if anchor is None:
            return datetime.now(UTC)
    elif _MONOTONIC[0]() - anchor.mono >= RESYNC_S:
        _resync_in_background()
    return anchor.db_time + timedelta(seconds=_MONOTONIC[0]() - anchor.mono)


_refreshing = threading.Event()


def _resync_in_background() -> None:
    if _refreshing.is_set():
        return
    _refreshing.set()

    def run() -> None:
        try:
            _resync(_MONOTONIC[0]())
        finally:
            _refreshing.clear()

    threading.Thread(target=run, name="db-clock-resync", daemon=True).start()


def _resync(mono: float) -> Anchor | None:
    """Read the database's clock now; None when it cannot be asked (then retried after RETRY_S)."""
    global _anchor, _next_try, _warned
    with _lock:
        current = _anchor
        if current is not None and _MONOTONIC[0]() - current.mono < RESYNC_S:
            return current  # another thread re-synced while we waited for the lock
        if mono < _next_try:
            return None
        try:
            anchor = read_database_clock()
        except Exception as exc:  # noqa: BLE001  (any failure: keep the anchor we have, retry later)
            _next_try = mono + RETRY_S
            if current is None and not _warned:
                _warned = True
                log.warning("the database clock could not be read (%s); using this process's clock until it can",
                            exc)
            return None
        _anchor, _warned = anchor, False
        _report_offset(anchor)
        return anchor


#: A wall clock further than this from the database's is logged (it decides nothing, but a host
#: that far off has lost its time synchronisation, and its logs will mislead).
OFFSET_WARNING_S = 2.0
_offset_logged: float | None = None


def _report_offset(anchor: Anchor) -> None:
    global _offset_logged
    offset = (datetime.now(UTC) - anchor.db_time).total_seconds() - (_MONOTONIC[0]() - anchor.mono)
    if abs(offset) >= OFFSET_WARNING_S and (_offset_logged is None or abs(offset - _offset_logged) >= 1.0):
        _offset_logged = offset
        log.warning("this host's clock is %+.1f s from the database's; timers, leases and deadlines follow "
                    "the database's", offset)


def read_database_clock() -> Anchor:
    from sqlalchemy import text

    from domain.core.db import get_engine

    with get_engine().connect() as connection:
        before = _MONOTONIC[0]()
        db_time = connection.execute(text("SELECT clock_timestamp()")).scalar_one()
        after = _MONOTONIC[0]()
    if db_time.tzinfo is None:
        db_time = db_time.replace(tzinfo=UTC)
    return Anchor(db_time.astimezone(UTC), (before + after) / 2)


def _after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # a fork while another thread held it must not leave the child stuck
    _refreshing.clear()  # that thread does not exist in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def forget() -> None:
    """Drop the anchor (the process now talks to another database server); the next read re-syncs."""
    global _anchor, _next_try
    with _lock:
        _anchor, _next_try = None, 0.0
