"""Timers: the sweep's time with a million pending timers against a thousand, and firing lag.

``python -m bench.timers`` (defaults: 1,000,000 pending, 1,000 due) measures, in this process
with a single sweeper (the product's ``tasks.timers.fire_due`` run eagerly, exactly the code a
worker runs when beat calls it):

* **sweep time**: one ``fire_due`` that claims (``FOR UPDATE SKIP LOCKED``, oldest first) and
  fires the 1,000 due timers in batches of 200, with 1,000,000 timers pending in the future.
  **Baseline**: the same sweep when only the 1,000 due timers exist. Median of ``--repeat``
  sweeps each. Goal: ratio ≤ 2 (the due-index makes a sweep independent of the backlog).
* **firing lag**: 1,000 timers due at spread-out moments over two sweep intervals, with the
  million pending; a loop calls ``fire_due`` every ``SWEEP_INTERVAL_S`` as beat does.
  Lag = ``fired_at − due_at``. Goal: p99 ≤ sweep interval + 1 s.

The timers are of a bench-only kind whose handler does nothing, registered in this process, so
the figures are the sweep's own cost, not a handler's.
"""
from __future__ import annotations

import argparse
import statistics
import time
from contextlib import ExitStack
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.common import Figure, Goal, finish, latency_figures, main_wrapper, percentile, scratch_database

KIND = "bench.noop"
GOAL_RATIO = 2.0
INSERT_TIMERS_SQL = text("""
INSERT INTO timers (kind, subject_type, subject_id, due_at, payload)
SELECT :kind, :subject_type, i, now() + CAST(:offset_s AS float) * interval '1 second'
                                    + i * CAST(:step_s AS float) * interval '1 second', '{}'::jsonb
  FROM generate_series(CAST(:first AS bigint), CAST(:first AS bigint) + :count - 1) AS i
""")


def register_handler() -> None:
    """The bench kind's handler: nothing to do, so the sweep's own cost is what is timed."""
    from domain.core import timers

    @timers.handler(KIND)
    def _noop(session: Session, timer: Any) -> list[Any]:
        return []


def insert_timers(subject_type: str, first: int, count: int, offset_s: float, step_s: float) -> None:
    from domain.core.db import session_scope

    with session_scope() as session:
        session.execute(INSERT_TIMERS_SQL, {"kind": KIND, "subject_type": subject_type, "first": first,
                                            "count": count, "offset_s": offset_s, "step_s": step_s})
        session.execute(text("ANALYZE timers"))


def pending_due() -> int:
    from domain.core.db import get_engine

    with get_engine().connect() as connection:
        return int(connection.execute(text(
            "SELECT count(*) FROM timers WHERE state = 'pending' AND due_at <= now()")).scalar_one())


def sweep() -> tuple[float, int]:
    """One beat tick: ``fire_due`` run eagerly; returns (seconds, timers fired)."""
    from tasks.timers import fire_due

    started = time.perf_counter()
    fired = fire_due.apply().get()
    return time.perf_counter() - started, int(fired)


def timed_sweeps(due: int, repeat: int, label: str) -> list[float]:
    """``repeat`` times: ``due`` timers already due (just in the past), then one sweep fires them."""
    seconds = []
    for n in range(repeat):
        insert_timers(f"{label}-{n}", 1, due, offset_s=-1.0 - due * 0.001, step_s=0.001)
        elapsed, fired = sweep()
        if fired != due:
            raise RuntimeError(f"sweep fired {fired}, expected {due}")
        seconds.append(elapsed)
    return seconds


def lag_run(due: int, interval_s: float) -> list[float]:
    """Timers due over two intervals from now; beat-like sweeps every ``interval_s`` until all fired."""
    from domain.core.db import get_engine

    window = 2 * interval_s
    insert_timers("lag", 1, due, offset_s=0.5, step_s=window / due)
    next_tick = time.monotonic()
    deadline = next_tick + window + 3 * interval_s + 60
    while True:
        sweep()
        with get_engine().connect() as connection:
            left = int(connection.execute(text(
                "SELECT count(*) FROM timers WHERE subject_type = 'lag' AND state = 'pending'")).scalar_one())
        if left == 0 or time.monotonic() > deadline:
            break
        next_tick += interval_s
        time.sleep(max(0.0, next_tick - time.monotonic()))
    with get_engine().connect() as connection:
        rows = connection.execute(text(
            "SELECT extract(epoch FROM fired_at - due_at) FROM timers WHERE subject_type = 'lag' "
            "AND state = 'fired'")).scalars().all()
    if len(rows) != due:
        raise RuntimeError(f"{len(rows)} of {due} lag timers fired")
    return [float(r) for r in rows]


def measure(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_database("bench"))
        register_handler()
        print(f"scratch database {scratch.database_name}", flush=True)
        baseline = timed_sweeps(args.due, args.repeat, "small")
        print(f"baseline sweeps (only {args.due} timers): {[round(s, 3) for s in baseline]}", flush=True)
        started = time.perf_counter()
        insert_timers("backlog", 1, args.pending, offset_s=30 * 86400, step_s=1.0)
        print(f"{args.pending:,} future timers inserted in {time.perf_counter() - started:.1f} s", flush=True)
        ours = timed_sweeps(args.due, args.repeat, "large")
        print(f"sweeps with {args.pending:,} pending: {[round(s, 3) for s in ours]}", flush=True)
        lags = lag_run(args.due, args.sweep_interval)
        ours_s, base_s = statistics.median(ours), statistics.median(baseline)
        ratio = ours_s / base_s
        lag_p99 = percentile(lags, 99)
        table = [Figure(f"sweep, {args.due:,} due of {args.pending:,} pending", ours_s * 1000, "ms", base_s * 1000),
                 Figure("sweep rate", args.due / ours_s, "timers/s", args.due / base_s),
                 *latency_figures("firing lag", lags, unit="s"),
                 Figure("firing lag max", max(lags), "s")]
        limit = args.sweep_interval + 1.0
        met = ratio <= GOAL_RATIO and lag_p99 <= limit
        goal = Goal(f"sweep ratio ≤ {GOAL_RATIO:g}; lag p99 ≤ {limit:g} s",
                    f"ratio {ratio:.2f}; lag p99 {lag_p99:.2f} s", met)
        finish("timers", scratch, {"pending": args.pending, "due": args.due, "repeat": args.repeat,
                                   "sweep_interval_s": args.sweep_interval, "batch_size": 200,
                                   "sweeper": "tasks.timers.fire_due run eagerly in the bench process",
                                   "handler": "bench-only kind, does nothing"},
               table, goal, {"sweeps_s": {"ours": ours, "baseline": baseline}})
        return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    import celeryconfig

    parser = argparse.ArgumentParser(prog="python -m bench.timers", description=__doc__.split("\n")[0])
    parser.add_argument("--pending", type=int, default=1_000_000, help="future timers (default 1000000)")
    parser.add_argument("--due", type=int, default=1_000, help="timers due per sweep (default 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="sweeps per side, median taken (default 5)")
    parser.add_argument("--sweep-interval", type=float, default=celeryconfig.SWEEP_INTERVAL_S,
                        help="seconds between beat ticks in the lag run (default SWEEP_INTERVAL_S)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return measure(parse_args(argv))


if __name__ == "__main__":
    main_wrapper(main)
