"""Side effects of a committed decision as rows: detection after a poll or a receipt, restock
fills, purchase planning.

A decision (a stored poll page, a booked receipt, a detection run) records the effects it owes
in its own transaction — one ``pending_effects`` row per kind × SKU, coalesced — and sends a
message carrying SKU ids after the commit. The task that performs the effect claims the rows
(``FOR UPDATE SKIP LOCKED``, a lease: one run in flight per kind × SKU), does the work, and
deletes them in the transaction that does it. A message lost with the broker, or a worker killed
holding it, leaves the row behind: the effects sweeper (beat) re-sends it once it has waited
``EFFECT_SWEEP_AFTER_S`` (default 30 s). Each effect re-checks the world under its own locks
(a fill allocates only free units, planning never orders a SKU already on an open PO), so a
message that runs twice changes nothing the second time.

The lease is a separate, short transaction rather than a row lock held through the work: the
work locks SKU rows, and a detection run holding those locks records effect rows, so a row lock
held from the start would let the two wait on each other. Deleting the row is the work's last
statement, after every other lock it takes.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.core.env_settings import env_seconds
from domain.core.stages import Stage

#: The kinds of effect, each named for the stage that performs it (``flows.spine`` says which task
#: runs it and whether it takes one SKU id or a list); the plain strings are stored in ``kind``.
EVALUATE = Stage.EVALUATE.value
FILL = Stage.FILL.value
PLAN = Stage.PLAN.value
KINDS = (EVALUATE, FILL, PLAN)
#: How long a claimed run may take before another worker may take its rows over.
LEASE = timedelta(seconds=120)
#: Default wait before the sweeper re-sends a row whose message has not claimed it.
DEFAULT_SWEEP_AFTER_S = 30.0
#: Runs of one row that failed (or died) before the sweeper stops re-sending it; its dead letter
#: is listed by ``backorders status`` and ``backorders redrive`` sends it again.
MAX_ATTEMPTS = 8


def sweep_after() -> timedelta:
    """``EFFECT_SWEEP_AFTER_S`` (seconds, default 30): a garbled value falls back to the default."""
    return env_seconds("EFFECT_SWEEP_AFTER_S", timedelta(seconds=DEFAULT_SWEEP_AFTER_S))


RECORD_SQL = text("""
INSERT INTO pending_effects AS e (kind, sku_id, due_at)
SELECT :kind, k.id, CAST(:now AS timestamptz) FROM skus k WHERE k.id = ANY(CAST(:sku_ids AS int[]))
 ORDER BY k.id
ON CONFLICT (kind, sku_id) DO UPDATE SET due_at = LEAST(COALESCE(e.due_at, excluded.due_at), excluded.due_at)
""")
"""A row in flight (``due_at`` NULL, leased) gets ``due_at`` again: the run that holds it sees
that when it finishes and leaves the row for one more run, since it may have read the world
before this decision committed."""

CLAIM_SQL = text("""
WITH free AS (
    SELECT id FROM pending_effects
     WHERE kind = :kind AND sku_id = ANY(CAST(:sku_ids AS int[]))
       AND (claimed_until IS NULL OR claimed_until < :now)
     ORDER BY sku_id
       FOR UPDATE SKIP LOCKED
)
UPDATE pending_effects e
   SET claimed_at = :now, claimed_until = :until, due_at = NULL, attempts = e.attempts + 1
  FROM free WHERE e.id = free.id
RETURNING e.sku_id
""")

HELD_SQL = text("""
SELECT sku_id FROM pending_effects WHERE kind = :kind AND sku_id = ANY(CAST(:sku_ids AS int[]))
""")

DONE_SQL = text("""
DELETE FROM pending_effects
 WHERE kind = :kind AND sku_id = ANY(CAST(:sku_ids AS int[])) AND claimed_at = :claimed_at AND due_at IS NULL
""")

AGAIN_SQL = text("""
UPDATE pending_effects SET claimed_until = NULL, claimed_at = NULL, attempts = 0
 WHERE kind = :kind AND sku_id = ANY(CAST(:sku_ids AS int[])) AND claimed_at = :claimed_at
RETURNING sku_id
""")

RELEASE_SQL = text("""
UPDATE pending_effects SET claimed_until = NULL, claimed_at = NULL, last_error = :error,
       due_at = COALESCE(due_at, CAST(:now AS timestamptz))
 WHERE kind = :kind AND sku_id = ANY(CAST(:sku_ids AS int[])) AND claimed_at = :claimed_at
""")

STRANDED_SQL = text("""
SELECT kind, sku_id FROM pending_effects
 WHERE attempts < :max_attempts
   AND ((due_at <= :stale AND (claimed_until IS NULL OR claimed_until < :now)) OR claimed_until < :now)
 ORDER BY kind, sku_id LIMIT :limit
""")


@dataclass(frozen=True)
class Claim:
    """The rows one run holds: perform the effect for ``sku_ids`` (plus ``unrecorded``, SKUs the
    caller named that have no row, e.g. an operator's command or a re-driven dead letter)."""

    kind: str
    claimed_at: datetime
    sku_ids: list[int]
    unrecorded: list[int]

    @property
    def work(self) -> list[int]:
        return sorted(set(self.sku_ids) | set(self.unrecorded))


def record(session: Session, kind: str, sku_ids: Iterable[int], now: datetime) -> None:
    """This transaction's decision owes ``kind`` for these SKUs: one row each, coalesced."""
    if kind not in KINDS:
        raise ValueError(f"unknown effect kind {kind!r}")
    ids = sorted(set(sku_ids))
    if ids:
        session.execute(RECORD_SQL, {"kind": kind, "sku_ids": ids, "now": now})


def claim(session: Session, kind: str, sku_ids: Sequence[int], now: datetime) -> Claim:
    """Lease the rows of these SKUs that no other run holds. A SKU with no row at all is returned
    as ``unrecorded`` (do it: the caller asked); one whose row another run holds is left to it."""
    ids = sorted(set(sku_ids))
    if not ids:
        return Claim(kind, now, [], [])
    claimed = sorted(session.scalars(CLAIM_SQL, {"kind": kind, "sku_ids": ids, "now": now, "until": now + LEASE}))
    held = set(session.scalars(HELD_SQL, {"kind": kind, "sku_ids": ids}))
    return Claim(kind, now, claimed, [sku_id for sku_id in ids if sku_id not in held])


def done(session: Session, claimed: Claim) -> list[int]:
    """In the transaction that performed the effect, as its last statement: delete the rows; those
    a decision marked due again meanwhile stay, released. Returns their SKU ids (run them again)."""
    if not claimed.sku_ids:
        return []
    params = {"kind": claimed.kind, "sku_ids": claimed.sku_ids, "claimed_at": claimed.claimed_at}
    session.execute(DONE_SQL, params)
    return sorted(session.scalars(AGAIN_SQL, params))


def release(session: Session, claimed: Claim, now: datetime, error: str) -> None:
    """The run failed: give the rows back, due now (the task's own retry, or the sweeper, runs it)."""
    if claimed.sku_ids:
        session.execute(RELEASE_SQL, {"kind": claimed.kind, "sku_ids": claimed.sku_ids,
                                      "claimed_at": claimed.claimed_at, "now": now, "error": error[:2000]})


def stranded(session: Session, now: datetime, limit: int = 5000) -> dict[str, list[int]]:
    """Kind → SKU ids of rows whose message was lost: due for ``EFFECT_SWEEP_AFTER_S`` with no run
    in flight, or whose run died holding its lease."""
    found: dict[str, list[int]] = {}
    for kind, sku_id in session.execute(STRANDED_SQL, {"stale": now - sweep_after(), "now": now,
                                                      "max_attempts": MAX_ATTEMPTS, "limit": limit}):
        found.setdefault(kind, []).append(sku_id)
    return found
