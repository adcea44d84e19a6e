"""``/healthz`` and ``/readyz``: short, parallel checks that answer even when what they check hangs.

Probes this answers: PostgreSQL stopped (SIGSTOP) for 6 s made the old ``/healthz`` hang 6 s and
then say 200; with beat frozen for 330 s, or the database read-only, it said 200 throughout.
Now each check runs in a thread of its own with ``HEALTH_CHECK_TIMEOUT_S`` (default 2 s); all run
at once, so the whole answer takes about that long at worst, and a check that did not finish is
reported as ``"timeout"`` (and fails). The threads of checks given up on are abandoned, and end
by their own connect and statement timeouts (``domain.core.liveness.quick_engine``).

* ``database`` — a real write: an upsert of this process's ``health_probes`` row.
* ``broker`` — a connection to the broker (and a Redis ``PING``).
* ``workers`` — every queue has a worker whose heartbeat is younger than ``WORKER_STALE_S``.
* ``sweeps`` — every clock sweeper ran within ``interval × 2 + SWEEP_LATE_SLACK_S``.

``/healthz`` runs all four (the deployment is healthy); ``/readyz`` the first two (this web
process can store what platforms send), which is what start-up waits and load balancers in front
of the receiver should use.
"""
from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from kombu import Connection

from domain.core import liveness
from domain.core.env_settings import get_settings
from flows.spine import clock_sweeps


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    state: str = ""  # "ok", "failing" or "timeout"
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "status": self.state or ("ok" if self.ok else "failing"), "detail": self.detail,
                "seconds": round(self.seconds, 3)}


def thresholds() -> liveness.Thresholds:
    return liveness.Thresholds.from_env()


def _engine() -> object:
    return liveness.quick_engine(get_settings().database_url, thresholds().check_timeout_s)


def probe_name() -> str:
    return f"web:{socket.gethostname()}:{os.getpid()}"


def check_database() -> Check:
    try:
        with _engine().begin() as connection:  # type: ignore[attr-defined]
            liveness.write_probe(connection, probe_name())
        return Check("database", True, "ok (write)")
    except Exception as exc:  # any failure is the answer, not an error of ours
        return Check("database", False, _short(exc))


def check_broker() -> Check:
    timeout = thresholds().check_timeout_s
    try:
        with Connection(get_settings().broker_url, connect_timeout=timeout,
                        transport_options={"max_retries": 0, "socket_timeout": timeout,
                                           "socket_connect_timeout": timeout}) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
            if conn.transport.driver_type == "redis":
                conn.default_channel.client.ping()
        return Check("broker", True, "ok")
    except Exception as exc:
        return Check("broker", False, _short(exc))


def expected_queues() -> tuple[str, ...]:
    """The queues tasks are routed to: each needs a live consumer."""
    import celeryconfig

    return tuple(celeryconfig.QUEUES)


def beat_schedule() -> dict[str, float]:
    """Every beat-scheduled task → its interval in seconds."""
    import celeryconfig

    return {entry["task"]: float(entry["schedule"]) for entry in celeryconfig.beat_schedule.values()
            if isinstance(entry["schedule"], int | float)}


def clock_schedule() -> dict[str, float]:
    """Clock sweeper → its beat interval in seconds: the sweeps whose lateness fails ``/healthz``."""
    return {task: interval for task, interval in beat_schedule().items() if task in clock_sweeps()}


def check_workers() -> Check:
    try:
        with _engine().connect() as connection:  # type: ignore[attr-defined]
            verdict = liveness.workers(connection, expected_queues(), thresholds().worker_stale_s)
        return Check("workers", verdict.ok, verdict.detail)
    except Exception as exc:
        return Check("workers", False, _short(exc))


def check_sweeps() -> Check:
    limits = thresholds()
    try:
        with _engine().connect() as connection:  # type: ignore[attr-defined]
            verdict = liveness.sweeps(connection, clock_schedule(), limits.sweep_slack_s, limits.worker_stale_s)
        return Check("sweeps", verdict.ok, verdict.detail)
    except Exception as exc:
        return Check("sweeps", False, _short(exc))


READY_CHECKS: Mapping[str, Callable[[], Check]] = {"database": check_database, "broker": check_broker}
HEALTH_CHECKS: Mapping[str, Callable[[], Check]] = {**READY_CHECKS, "workers": check_workers,
                                                    "sweeps": check_sweeps}


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="health")


async def run_checks(checks: Mapping[str, Callable[[], Check]], timeout_s: float | None = None) -> list[Check]:
    """All ``checks`` at once, each given ``timeout_s``; one not done by then is ``timeout``."""
    timeout_s = thresholds().check_timeout_s if timeout_s is None else timeout_s
    loop = asyncio.get_running_loop()
    started = time.monotonic()

    def timed(check: Callable[[], Check]) -> Check:
        began = time.monotonic()
        result = check()
        return Check(result.name, result.ok, result.detail, "ok" if result.ok else "failing",
                     time.monotonic() - began)

    futures = {name: loop.run_in_executor(_executor(), timed, check) for name, check in checks.items()}
    await asyncio.wait(futures.values(), timeout=timeout_s)
    results = []
    for name, future in futures.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            results.append(future.result())
        elif future.done() and not future.cancelled():
            results.append(Check(name, False, _short(future.exception()), "failing",  # type: ignore[arg-type]
                                 time.monotonic() - started))
        else:
            future.cancel()  # the thread goes on until its own timeouts end it; its answer is dropped
            results.append(Check(name, False, f"no answer within {timeout_s:g}s", "timeout",
                                 time.monotonic() - started))
    return results


def check_dead_letter_spool() -> Check:
    """Dead letters kept in the local spool because the database refused them (domain.core.spool)."""
    from domain.core import spool

    try:
        count = spool.pending_count()
    except OSError as exc:
        return Check("dead_letter_spool", False, _short(exc))
    if count:
        return Check("dead_letter_spool", False,
                     f"{count} dead letter(s) spooled in {spool.spool_dir()}, not yet in the database")
    return Check("dead_letter_spool", True, "ok")


def _short(exc: BaseException) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:300]
