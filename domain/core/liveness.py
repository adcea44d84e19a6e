"""Is the deployment alive? Worker heartbeats, sweeper runs and a real write, all by PostgreSQL's clock.

The probes that found the gaps: with PostgreSQL stopped (SIGSTOP) for 6 s, ``/healthz`` hung 6 s
and then said 200; with beat frozen for 330 s it said 200 throughout; with the database
read-only it said 200 while every write failed. So health here is three facts a load balancer
or an operator can act on, each judged with ``now()`` from the database (one clock, whatever a
host's own clock says):

* the database takes a write (an upsert of ``health_probes``, not ``SELECT 1``);
* every queue has a worker whose heartbeat (``worker_heartbeats.seen_at``) is recent;
* every clock sweeper (``flows.spine.clock_sweeps()``) ran within ``interval × 2 + slack``.

The connections used here are short-lived and bounded (``quick_engine``): a fresh connection
per use, ``connect_timeout``, ``statement_timeout``, ``lock_timeout`` and TCP keepalives, so a
probe against a stalled server gives up instead of hanging with it.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from domain.core.env_settings import normalize_database_url



@dataclass(frozen=True)
class Thresholds:
    """Health and heartbeat settings, from the environment (README, "Configuration")."""

    heartbeat_s: float = 10.0
    worker_stale_s: float = 45.0
    sweep_slack_s: float = 30.0
    check_timeout_s: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Thresholds:
        env = os.environ if env is None else env
        defaults = cls()
        values: dict[str, float] = {}
        for name, attribute in (("WORKER_HEARTBEAT_S", "heartbeat_s"), ("WORKER_STALE_S", "worker_stale_s"),
                                ("SWEEP_LATE_SLACK_S", "sweep_slack_s"), ("HEALTH_CHECK_TIMEOUT_S", "check_timeout_s")):
            values[attribute] = positive_float(env, name, getattr(defaults, attribute))
        return cls(**values)


def positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds from ``env[name]``; a bad value stops the caller naming it."""
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: must be a positive number of seconds, got {raw!r}")
    return value


@lru_cache(maxsize=8)
def quick_engine(database_url: str, timeout_s: float) -> Engine:
    """An engine whose every use is bounded by about ``timeout_s``: no pool (a connection that
    served an abandoned query is never handed out again), connect and statement timeouts, and
    keepalives so a silent peer is noticed."""
    timeout_ms = max(100, int(timeout_s * 1000))
    return create_engine(normalize_database_url(database_url), poolclass=NullPool, connect_args={
        "connect_timeout": max(2, math.ceil(timeout_s)),  # libpq's floor is 2 s
        "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}"
                   " -c idle_in_transaction_session_timeout=60000",
        "application_name": "backorders-liveness",
        **keepalive_options(timeout_s),
    })


def keepalive_options(timeout_s: float) -> dict[str, int]:
    """libpq TCP keepalives and ``tcp_user_timeout``: a peer that stops acknowledging is given up
    after about ``timeout_s`` of unacknowledged data, instead of the kernel's 15 minutes."""
    return {"keepalives": 1, "keepalives_idle": max(1, math.ceil(timeout_s)), "keepalives_interval": 1,
            "keepalives_count": 3, "tcp_user_timeout": max(1000, int(timeout_s * 1000))}


# --------------------------------------------------------------------------- writes

def write_probe(connection: Connection, name: str) -> datetime:
    """The health check's real write; returns the database's ``now()``. Fails when the database
    is read-only, out of space for WAL, or otherwise refusing writes. Rows of web processes gone
    for a day are dropped on the way."""
    connection.execute(text("DELETE FROM health_probes WHERE written_at < now() - interval '1 day'"))
    return connection.execute(text(
        "INSERT INTO health_probes (name, written_at) VALUES (:name, now())"
        " ON CONFLICT (name) DO UPDATE SET written_at = excluded.written_at RETURNING written_at"),
        {"name": name[:200]}).scalar_one()


def record_heartbeat(connection: Connection, *, name: str, host: str, pid: int, queues: Iterable[str]) -> None:
    """A worker process is alive: ``seen_at`` = the database's ``now()``. A new pid under the same
    node name (a restart) starts its ``started_at`` afresh."""
    connection.execute(text(
        "INSERT INTO worker_heartbeats (name, host, pid, queues, started_at, seen_at)"
        " VALUES (:name, :host, :pid, :queues, now(), now())"
        " ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, queues = excluded.queues,"
        "  seen_at = excluded.seen_at,"
        "  started_at = CASE WHEN worker_heartbeats.pid = excluded.pid THEN worker_heartbeats.started_at"
        "                    ELSE excluded.started_at END"),
        {"name": name[:200], "host": host[:200], "pid": pid, "queues": sorted(q[:64] for q in queues)})


def forget_worker(connection: Connection, name: str, pid: int) -> None:
    """A worker shut down cleanly: its row goes (a crashed one's row just grows old)."""
    connection.execute(text("DELETE FROM worker_heartbeats WHERE name = :name AND pid = :pid"),
                       {"name": name, "pid": pid})


def record_sweep(connection: Connection, task: str, interval_s: float) -> None:
    """A beat-scheduled sweeper finished a run, at the database's ``now()``."""
    connection.execute(text(
        "INSERT INTO sweep_runs (task, interval_s, last_run_at, runs) VALUES (:task, :interval, now(), 1)"
        " ON CONFLICT (task) DO UPDATE SET interval_s = excluded.interval_s, last_run_at = excluded.last_run_at,"
        "  runs = sweep_runs.runs + 1"), {"task": task[:200], "interval": float(interval_s)})


# --------------------------------------------------------------------------- judgements

@dataclass(frozen=True)
class Worker:
    name: str
    host: str
    pid: int
    queues: list[str]
    started_at: datetime
    seen_at: datetime
    age_s: float


@dataclass(frozen=True)
class WorkersVerdict:
    ok: bool
    live: list[Worker]
    stale: list[Worker]
    uncovered_queues: list[str]

    @property
    def detail(self) -> str:
        if self.ok:
            return f"{len(self.live)} live worker(s)"
        newest = min((w.age_s for w in self.stale), default=None)
        return (f"no live worker for queue(s) {', '.join(self.uncovered_queues)}"
                + (f" (newest stale heartbeat {newest:.0f}s ago)" if newest is not None else " (no heartbeat ever)"))


def workers(connection: Connection, expected_queues: Iterable[str], stale_s: float) -> WorkersVerdict:
    """Live and stale workers by heartbeat age (database clock), and queues no live worker consumes."""
    rows = connection.execute(text(
        "SELECT name, host, pid, queues, started_at, seen_at, extract(epoch FROM now() - seen_at)"
        " FROM worker_heartbeats ORDER BY name")).all()
    every = [Worker(name, host, pid, list(queues or []), started, seen, float(age))
             for name, host, pid, queues, started, seen, age in rows]
    live = [w for w in every if w.age_s <= stale_s]
    covered = {queue for w in live for queue in w.queues}
    uncovered = sorted(set(expected_queues) - covered)
    return WorkersVerdict(not uncovered, live, [w for w in every if w.age_s > stale_s], uncovered)


@dataclass(frozen=True)
class Sweep:
    task: str
    interval_s: float
    last_run_at: datetime | None
    age_s: float | None
    late_after_s: float
    late: bool

    def describe(self) -> str:
        if self.last_run_at is None:
            return f"{self.task} never ran"
        return f"{self.task} last ran {self.age_s:.0f}s ago (late after {self.late_after_s:.0f}s)"


@dataclass(frozen=True)
class SweepsVerdict:
    sweeps: list[Sweep] = field(default_factory=list)

    @property
    def late(self) -> list[Sweep]:
        return [s for s in self.sweeps if s.late]

    @property
    def ok(self) -> bool:
        return not self.late

    @property
    def detail(self) -> str:
        return "; ".join(s.describe() for s in self.late) if self.late else f"{len(self.sweeps)} sweep(s) on time"


def judge_sweeps(schedule: Mapping[str, float], runs: Mapping[str, tuple[datetime, float]], slack_s: float,
                 up_for_s: float | None) -> SweepsVerdict:
    """Each scheduled sweeper is late when its last run is older than ``interval × 2 + slack``.

    ``runs`` maps a task to (last run, its age in seconds). One that never ran is late only once
    the deployment has been up (``up_for_s``: its oldest live worker's age) longer than that bound,
    so a fresh start is not reported as a stopped clock."""
    sweeps = []
    for task, interval in sorted(schedule.items()):
        bound = interval * 2 + slack_s
        if task in runs:
            last, age = runs[task]
            sweeps.append(Sweep(task, interval, last, age, bound, age > bound))
        else:
            sweeps.append(Sweep(task, interval, None, None, bound, up_for_s is not None and up_for_s > bound))
    return SweepsVerdict(sweeps)


def sweeps(connection: Connection, schedule: Mapping[str, float], slack_s: float, stale_s: float) -> SweepsVerdict:
    """``judge_sweeps`` over the ``sweep_runs`` rows, ages by the database's clock."""
    runs = {task: (last, float(age)) for task, last, age in connection.execute(text(
        "SELECT task, last_run_at, extract(epoch FROM now() - last_run_at) FROM sweep_runs")).all()}
    up_for = connection.execute(text(
        "SELECT extract(epoch FROM now() - min(started_at)) FROM worker_heartbeats"
        " WHERE seen_at > now() - make_interval(secs => :stale)"), {"stale": stale_s}).scalar()
    return judge_sweeps(schedule, runs, slack_s, None if up_for is None else float(up_for))


def snapshot(connection: Connection, schedule: Mapping[str, float], expected_queues: Iterable[str],
             thresholds: Thresholds) -> dict[str, Any]:
    """What ``backorders status`` shows: every worker's last heartbeat and every sweeper's last run."""
    verdict = workers(connection, expected_queues, thresholds.worker_stale_s)
    late = sweeps(connection, schedule, thresholds.sweep_slack_s, thresholds.worker_stale_s)
    runs = {task: (last, float(age), int(count)) for task, last, age, count in connection.execute(text(
        "SELECT task, last_run_at, extract(epoch FROM now() - last_run_at), runs FROM sweep_runs ORDER BY task"))}
    return {
        "workers": [{"name": w.name, "host": w.host, "pid": w.pid, "queues": w.queues,
                     "started_at": w.started_at.isoformat(), "seen_at": w.seen_at.isoformat(),
                     "age_s": round(w.age_s, 1), "live": w.age_s <= thresholds.worker_stale_s}
                    for w in sorted(verdict.live + verdict.stale, key=lambda w: w.name)],
        "queues_without_live_worker": verdict.uncovered_queues,
        "sweeps": [{"task": task, "last_run_at": last.isoformat(), "age_s": round(age, 1), "runs": count,
                    "late": any(s.task == task for s in late.late)}
                   for task, (last, age, count) in runs.items()],
        "late_sweeps": [s.describe() for s in late.late],
    }
