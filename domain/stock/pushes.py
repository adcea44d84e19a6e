"""Pending channel pushes as rows: one per SKU × selling store, coalesced, one in flight at a time.

A back office that keeps our backorder status (``options.backorder_status``) gets a row of its
own per SKU when the SKU goes into or out of BACKORDER: the same lease, retries and alerts carry
that write (``flows.pushes``).

Every change of a SKU's figures (a sale, a restock, an adjustment, a receipt, a new backorder)
marks the row of each selling store that lists the SKU as due a short debounce later. More changes
before it runs move nothing: the push reads the truth when it runs, so the latest figure wins and
a burst of 1,000 sales costs a handful of pushes per store, not 1,000. A claim takes a lease, so
one push per SKU × store is in flight; changes seen meanwhile leave the row due again, and the
push that finishes sends the next one. A sweeper re-sends rows whose message was lost.

The time from the first change a push covers to the platform's answer is that store's
propagation delay, kept smoothed per store (``store_sync_lags``): the oversell buffer of
``domain.stock.propagation`` is sized from it.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from domain.core.env_settings import env_seconds
from domain.core.models import ChannelListing, Store

#: Default wait between the first change and its push; more changes inside it share the push.
DEFAULT_DEBOUNCE_S = 1.0
#: How long a claimed push may run before another worker may take the row over.
LEASE = timedelta(seconds=120)
#: A due row whose push has not started this long after ``due_at`` lost its message.
STRANDED_AFTER = timedelta(seconds=30)
#: Weight of a new delay sample in the smoothed figure (exponential moving average).
LAG_SMOOTHING = 0.3
#: Failed attempts are retried after 2, 4, 8 … seconds, at most this long.
MAX_BACKOFF = timedelta(minutes=5)


def debounce() -> timedelta:
    """``PUSH_DEBOUNCE_S`` (seconds, default 1): a garbled value falls back to the default."""
    return env_seconds("PUSH_DEBOUNCE_S", timedelta(seconds=DEFAULT_DEBOUNCE_S))


#: The tail both schedules share: a due row for each ``targets`` pair, an earlier due time kept,
#: the first dirty time kept.
DUE_FOR_TARGETS = """
INSERT INTO channel_pushes AS p (sku_id, store_id, due_at, dirty_since)
SELECT sku_id, store_id, CAST(:due_at AS timestamptz), CAST(:now AS timestamptz) FROM targets ORDER BY sku_id, store_id
ON CONFLICT ON CONSTRAINT uq_channel_pushes_sku_store DO UPDATE
   SET due_at = LEAST(COALESCE(p.due_at, excluded.due_at), excluded.due_at),
       dirty_since = COALESCE(p.dirty_since, excluded.dirty_since)
RETURNING p.sku_id, p.store_id, p.due_at, p.lease_until
"""

SCHEDULE_SQL = text("""
WITH targets AS (
    SELECT cl.sku_id, cl.store_id
      FROM channel_listings cl
      JOIN stores s ON s.id = cl.store_id AND s.sells AND s.enabled
      JOIN skus k ON k.id = cl.sku_id
      LEFT JOIN store_sync_lags lag ON lag.store_id = cl.store_id
     WHERE cl.sku_id = ANY(CAST(:sku_ids AS int[]))
       AND (EXISTS (SELECT 1 FROM stock_levels mine
                     WHERE mine.sku_id = cl.sku_id AND mine.store_id = cl.store_id
                       AND EXISTS (SELECT 1 FROM stock_levels other
                                    WHERE other.sku_id = mine.sku_id AND other.location_id = mine.location_id
                                      AND other.store_id <> mine.store_id)
                       AND (lag.store_id IS NOT NULL OR mine.available IS DISTINCT FROM (
                            SELECT latest.available FROM stock_levels latest
                             WHERE latest.sku_id = mine.sku_id AND latest.location_id = mine.location_id
                             ORDER BY COALESCE(latest.source_updated_at, latest.updated_at) DESC, latest.updated_at DESC
                             LIMIT 1)))
            OR EXISTS (SELECT 1 FROM pushed_levels p WHERE p.sku_id = cl.sku_id AND p.store_id = cl.store_id)
            OR EXISTS (SELECT 1 FROM backorders b WHERE b.sku_id = cl.sku_id AND b.state = 'filled')
            OR (CASE WHEN s.options->>'buffer_floor' ~ '^[0-9]+$' THEN CAST(s.options->>'buffer_floor' AS int)
                     ELSE 0 END) > 0
            OR (k.state = 'BACKORDER' AND cl.backorders_allowed IS NOT TRUE)
            OR (k.state <> 'BACKORDER' AND cl.backorders_allowed))
)
""" + DUE_FOR_TARGETS)
"""Due rows for every selling store listing these SKUs whose figure can differ from what it
shows. A store with nothing written to it before, no buffer floor, no units promised to waiting
customers and the right backorder mode already shows the truth at a location it alone reports
(nothing else sells that stock), and at one where its figure is the latest while its propagation
delay is not measured yet (no lag buffer): there is nothing to write, so the first full sync of a
catalog whose channels agree schedules no pushes at all. Rows with a push in flight need no
message (the push sends the next one when it finishes); the others get one each time: whether a
message is already queued cannot be told from the row without a race, and a spare message finds
nothing due and costs one short UPDATE."""

STATUS_SCHEDULE_SQL = text("""
WITH targets AS (
    SELECT cl.sku_id, cl.store_id
      FROM channel_listings cl
      JOIN stores s ON s.id = cl.store_id AND NOT s.sells AND s.enabled AND s.options->>'backorder_status' = 'true'
      JOIN skus k ON k.id = cl.sku_id
      LEFT JOIN channel_pushes cp ON cp.sku_id = cl.sku_id AND cp.store_id = cl.store_id
     WHERE cl.sku_id = ANY(CAST(:sku_ids AS int[]))
       AND (k.state = 'BACKORDER') <> COALESCE(cp.last_backorder, false)
)
""" + DUE_FOR_TARGETS)
"""Due rows for every back office (``sells = false``) that keeps our backorder status
(``options.backorder_status = true``) and lists these SKUs, when the SKU's BACKORDER state differs
from the status last written there (none written counts as "not on backorder"): the status
changes only when a SKU goes into or out of BACKORDER, so a back office is written that often,
not at every sale. ``flows.pushes`` writes it through ``Capability.BACKORDER_STATUS``."""

CLAIM_SQL = text("""
UPDATE channel_pushes
   SET claimed_at = :now, lease_until = :lease_until, due_at = NULL,
       covering_since = COALESCE(dirty_since, covering_since, CAST(:now AS timestamptz)), dirty_since = NULL
 WHERE sku_id = :sku_id AND store_id = :store_id
   AND (lease_until IS NULL OR lease_until < :now)
   AND ((due_at IS NOT NULL AND due_at <= :now) OR lease_until < :now)
RETURNING claimed_at, covering_since, attempts
""")

FINISH_SQL = text("""
UPDATE channel_pushes
   SET lease_until = NULL, covering_since = NULL, attempts = 0, last_error = NULL,
       pushed_at = CASE WHEN :writes > 0 THEN CAST(:now AS timestamptz) ELSE pushed_at END,
       pushes = pushes + :writes, last_backorder = COALESCE(CAST(:backorder AS boolean), last_backorder)
 WHERE sku_id = :sku_id AND store_id = :store_id AND claimed_at = :claimed_at
RETURNING due_at
""")

FAIL_SQL = text("""
UPDATE channel_pushes
   SET lease_until = NULL, attempts = attempts + 1, last_error = :error,
       due_at = CASE WHEN CAST(:retry_at AS timestamptz) IS NULL THEN due_at
                     ELSE LEAST(COALESCE(due_at, CAST(:retry_at AS timestamptz)), CAST(:retry_at AS timestamptz)) END,
       dirty_since = CASE WHEN CAST(:retry_at AS timestamptz) IS NULL THEN dirty_since
                          ELSE COALESCE(covering_since, dirty_since) END,
       covering_since = NULL
 WHERE sku_id = :sku_id AND store_id = :store_id AND claimed_at = :claimed_at
RETURNING due_at, attempts
""")

STRANDED_SQL = text("""
SELECT sku_id, store_id FROM channel_pushes
 WHERE (due_at <= :stale AND (lease_until IS NULL OR lease_until < :now)) OR lease_until < :now
 ORDER BY due_at NULLS FIRST, id LIMIT :limit
""")

RECORD_LAG_SQL = text("""
INSERT INTO store_sync_lags AS l (store_id, delay_s, last_s, samples, updated_at)
VALUES (:store_id, :sample, :sample, 1, :now)
ON CONFLICT (store_id) DO UPDATE
   SET delay_s = l.delay_s + :alpha * (excluded.last_s - l.delay_s), last_s = excluded.last_s,
       samples = l.samples + 1, updated_at = excluded.updated_at
""")

#: Figures awaiting their echo are kept up to this many per store location.
AWAITING_KEPT = 16

EXPECT_SQL = text("""
INSERT INTO pushed_levels AS p (sku_id, store_id, location_id, available, withheld, pushed_at, awaiting, live)
SELECT :sku_id, :store_id, u.location_id, u.available, u.withheld, :now, ARRAY[u.available], false
  FROM json_to_recordset(CAST(:rows AS json)) AS u(location_id int, available int, withheld int)
ON CONFLICT (sku_id, store_id, location_id) DO UPDATE
   SET awaiting = (p.awaiting || excluded.awaiting)[GREATEST(1, cardinality(p.awaiting) + 2 - :kept):],
       pushed_at = excluded.pushed_at
""")
"""Before the write: the platform may deliver its webhook for our write before we hear its answer."""

SAVE_LEVELS_SQL = text("""
INSERT INTO pushed_levels AS p (sku_id, store_id, location_id, available, withheld, pushed_at, live)
SELECT :sku_id, :store_id, u.location_id, u.available, u.withheld, :now, true
  FROM json_to_recordset(CAST(:rows AS json)) AS u(location_id int, available int, withheld int)
ON CONFLICT (sku_id, store_id, location_id) DO UPDATE
   SET available = excluded.available, withheld = excluded.withheld, pushed_at = excluded.pushed_at,
       live = true
""")


@dataclass(frozen=True)
class Due:
    sku_id: int
    store_id: int
    due_at: datetime


@dataclass(frozen=True)
class Claim:
    sku_id: int
    store_id: int
    claimed_at: datetime
    covering_since: datetime
    attempts: int


def schedule(session: Session, sku_ids: Sequence[int], now: datetime, wait: timedelta | None = None) -> list[Due]:
    """Mark every selling store's push of these SKUs as due, and every back office's whose
    backorder status they changed; the rows that need a message (those with no push in flight)."""
    ids = sorted(set(sku_ids))
    if not ids:
        return []
    session.flush()
    due_at = now + (debounce() if wait is None else wait)
    params = {"sku_ids": ids, "now": now, "due_at": due_at}
    rows = [*session.execute(SCHEDULE_SQL, params).all(), *session.execute(STATUS_SCHEDULE_SQL, params).all()]
    return [Due(r.sku_id, r.store_id, r.due_at) for r in sorted(rows)
            if r.lease_until is None or r.lease_until < now]


def claim(session: Session, sku_id: int, store_id: int, now: datetime) -> Claim | None:
    """Take the row for one push, if it is due and no other push holds it."""
    row = session.execute(CLAIM_SQL, {"sku_id": sku_id, "store_id": store_id, "now": now,
                                      "lease_until": now + LEASE}).first()
    if row is None:
        return None
    return Claim(sku_id, store_id, row.claimed_at, row.covering_since, row.attempts)


def finish(session: Session, claimed: Claim, now: datetime, writes: int, backorder: bool | None,
           sample: bool = True) -> datetime | None:
    """The push was acknowledged: release the row, count it, measure the delay; returns when the
    next push is due if changes arrived while this one was in flight (else None)."""
    row = session.execute(FINISH_SQL, {"sku_id": claimed.sku_id, "store_id": claimed.store_id, "now": now,
                                       "claimed_at": claimed.claimed_at, "writes": writes,
                                       "backorder": backorder}).first()
    if sample and writes:
        record_lag(session, claimed.store_id, (now - claimed.covering_since).total_seconds(), now)
    return row.due_at if row is not None else None


def fail(session: Session, claimed: Claim, now: datetime, error: str, retry: bool) -> tuple[datetime | None, int]:
    """Release the row after a failed push; a retryable failure makes it due again after a backoff.
    Returns (when it is due next, attempts so far)."""
    backoff = min(MAX_BACKOFF, timedelta(seconds=2 ** min(claimed.attempts + 1, 12)))
    row = session.execute(FAIL_SQL, {"sku_id": claimed.sku_id, "store_id": claimed.store_id,
                                     "claimed_at": claimed.claimed_at, "error": error[:2000],
                                     "retry_at": now + backoff if retry else None}).first()
    return (row.due_at, row.attempts) if row is not None else (None, claimed.attempts + 1)


def stranded(session: Session, now: datetime, limit: int = 500) -> list[tuple[int, int]]:
    """Rows due well past their time with no push in flight, or whose push died holding the lease."""
    return [(r.sku_id, r.store_id) for r in session.execute(
        STRANDED_SQL, {"stale": now - STRANDED_AFTER, "now": now, "limit": limit})]


def record_lag(session: Session, store_id: int, seconds: float, now: datetime) -> None:
    session.execute(RECORD_LAG_SQL, {"store_id": store_id, "sample": max(0.0, seconds), "now": now,
                                     "alpha": LAG_SMOOTHING})


def expect_echo(session: Session, sku_id: int, store_id: int, levels: Sequence[tuple[int, int, int]],
                now: datetime) -> None:
    """About to write (location id, figure, units withheld) per location: their echo is awaited."""
    if levels:
        session.execute(EXPECT_SQL, {"sku_id": sku_id, "store_id": store_id, "now": now, "kept": AWAITING_KEPT,
                                     "rows": json.dumps(
            [{"location_id": loc, "available": figure, "withheld": withheld} for loc, figure, withheld in levels])})


def save_levels(session: Session, sku_id: int, store_id: int, levels: Sequence[tuple[int, int, int]],
                now: datetime) -> None:
    """What was written: (location id, figure written, units withheld from it) per location."""
    if levels:
        session.execute(SAVE_LEVELS_SQL, {"sku_id": sku_id, "store_id": store_id, "now": now,
                                          "rows": json.dumps(
            [{"location_id": loc, "available": figure, "withheld": withheld} for loc, figure, withheld in levels])})


LAST_LEVELS_SQL = text("""
SELECT location_id, available, live FROM pushed_levels WHERE sku_id = :sku_id AND store_id = :store_id
""")


def last_levels(session: Session, sku_id: int, store_id: int) -> dict[int, tuple[int, bool]]:
    """Location id → (figure we last wrote there, whether the store still shows only that)."""
    return {r.location_id: (r.available, r.live)
            for r in session.execute(LAST_LEVELS_SQL, {"sku_id": sku_id, "store_id": store_id})}


def selling_stores(session: Session, sku_id: int) -> list[int]:
    """Stores that list this SKU and sell it (the ERP is not a sales channel): where its pushes go."""
    return list(session.scalars(
        select(ChannelListing.store_id).join(Store, Store.id == ChannelListing.store_id)
        .where(ChannelListing.sku_id == sku_id, Store.sells, Store.enabled).order_by(ChannelListing.store_id)
    ))


def request(session: Session, sku_id: int, store_id: int, now: datetime) -> None:
    """Make one SKU × store due now (a caller that knows the truth moved, e.g. a restock fill)."""
    session.execute(text("""
        INSERT INTO channel_pushes AS p (sku_id, store_id, due_at, dirty_since) VALUES (:sku_id, :store_id, :now, :now)
        ON CONFLICT ON CONSTRAINT uq_channel_pushes_sku_store DO UPDATE
           SET due_at = LEAST(COALESCE(p.due_at, excluded.due_at), excluded.due_at),
               dirty_since = COALESCE(p.dirty_since, excluded.dirty_since)
    """), {"sku_id": sku_id, "store_id": store_id, "now": now})


def next_due(session: Session, sku_id: int, store_id: int) -> tuple[datetime | None, datetime | None]:
    """(due_at, lease_until) of the row, for a push that found nothing to claim."""
    row = session.execute(text("SELECT due_at, lease_until FROM channel_pushes WHERE sku_id = :sku_id "
                               "AND store_id = :store_id"), {"sku_id": sku_id, "store_id": store_id}).first()
    return (row.due_at, row.lease_until) if row is not None else (None, None)


def last_backorder(session: Session, sku_id: int, store_id: int) -> bool | None:
    """The backorder mode the last successful push wrote (None before the first)."""
    return session.scalar(text("SELECT last_backorder FROM channel_pushes WHERE sku_id = :sku_id "
                               "AND store_id = :store_id"), {"sku_id": sku_id, "store_id": store_id})


DUE_FOR_STORE_SQL = text("""
SELECT sku_id FROM channel_pushes
 WHERE store_id = :store_id
   AND ((due_at <= :now AND (lease_until IS NULL OR lease_until < :now)) OR lease_until < :now)
 ORDER BY due_at NULLS FIRST, sku_id LIMIT :limit
""")

NEXT_FOR_STORE_SQL = text("""
SELECT MIN(due_at) FROM channel_pushes
 WHERE store_id = :store_id AND due_at IS NOT NULL AND (lease_until IS NULL OR lease_until < :now)
""")


def due_for_store(session: Session, store_id: int, now: datetime, limit: int) -> list[int]:
    """SKUs whose push to this store is due and not in flight, or whose push died holding its
    lease (first: they are the oldest), oldest first."""
    return list(session.scalars(DUE_FOR_STORE_SQL, {"store_id": store_id, "now": now, "limit": limit}))


def next_for_store(session: Session, store_id: int, now: datetime) -> datetime | None:
    """When the store's next waiting push is due (None when none waits)."""
    return session.scalar(NEXT_FOR_STORE_SQL, {"store_id": store_id, "now": now})
