"""Worker heartbeats and sweeper runs, written to PostgreSQL for ``/healthz`` and ``backorders status``.

* Every Celery worker (``worker``, ``notify``) starts a daemon thread when it is ready that
  upserts its ``worker_heartbeats`` row (node name, host, pid, queues, ``seen_at = now()``)
  every ``WORKER_HEARTBEAT_S`` (default 10 s). The thread lives in the worker's main process, so
  a frozen or dead worker stops beating while a busy pool does not. With the database down a
  beat is skipped (one log line per outage), never fatal. A clean shutdown removes the row.
* Every task that beat schedules records, when it succeeds, its run in ``sweep_runs`` (the
  database's ``now()`` and its interval), so a frozen beat — or workers too starved to run the
  sweeps — shows as sweeps older than interval × 2 + slack.

Both use connections bounded by a few seconds (``domain.core.liveness.quick_engine``, or a
``statement_timeout`` on the pooled one), so a stalled database delays a beat, not the worker.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from celery.signals import task_success, worker_ready, worker_shutdown
from sqlalchemy import text

from domain.core import liveness
from domain.core.env_settings import get_settings

log = logging.getLogger("workers.heartbeats")


class Heartbeat:
    """The thread that keeps one worker's row fresh."""

    def __init__(self, name: str, queues: list[str], interval_s: float) -> None:
        self.name = name
        self.queues = queues
        self.interval_s = interval_s
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._stop = threading.Event()
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> bool:
        """One upsert; False (logged once per outage) when the database did not take it."""
        try:
            with self._engine().begin() as connection:
                liveness.record_heartbeat(connection, name=self.name, host=self.host, pid=self.pid,
                                          queues=self.queues)
        except Exception as exc:  # the database is down or stalled: skip this beat, keep beating
            if not self._failing:
                log.warning("heartbeat of %s not recorded (%s); retrying every %.0fs", self.name,
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__, self.interval_s)
            self._failing = True
            return False
        if self._failing:
            log.info("heartbeat of %s recorded again", self.name)
        self._failing = False
        return True

    def stop(self, forget: bool = True) -> None:
        self._stop.set()
        if forget:
            try:
                with self._engine().begin() as connection:
                    liveness.forget_worker(connection, self.name, self.pid)
            except Exception:
                log.warning("could not remove the heartbeat of %s; it will age out", self.name)

    def _engine(self) -> Any:
        return liveness.quick_engine(get_settings().database_url, min(self.interval_s, 5.0))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.beat()
            self._stop.wait(self.interval_s)


_heartbeat: Heartbeat | None = None


def consumer_queues(consumer: Any) -> list[str]:
    """The queues this worker consumes (``-Q``)."""
    try:
        return sorted(consumer.app.amqp.queues.consume_from.keys())
    except Exception:
        return sorted(queue.name for queue in getattr(getattr(consumer, "task_consumer", None), "queues", []) or [])


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    global _heartbeat
    name = str(getattr(sender, "hostname", "") or f"worker@{socket.gethostname()}")
    _heartbeat = Heartbeat(name, consumer_queues(sender), liveness.Thresholds.from_env().heartbeat_s)
    _heartbeat.start()
    log.info("heartbeat of %s started (queues %s)", name, ", ".join(_heartbeat.queues))


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    if _heartbeat is not None and _heartbeat.pid == os.getpid():
        _heartbeat.stop()


def beat_intervals(app: Any) -> dict[str, float]:
    """Task name → interval (s) of every entry in the beat schedule with a fixed interval."""
    intervals: dict[str, float] = {}
    for entry in (app.conf.beat_schedule or {}).values():
        schedule = entry.get("schedule")
        seconds = schedule if isinstance(schedule, int | float) else getattr(schedule, "seconds", None)
        if seconds:
            intervals[entry["task"]] = min(float(seconds), intervals.get(entry["task"], float("inf")))
    return intervals


@task_success.connect
def _record_sweep(sender: Any = None, **_: Any) -> None:
    """A beat-scheduled task finished: note when, by the database's clock. Never fails the task."""
    interval = beat_intervals(sender.app).get(sender.name) if sender is not None else None
    if interval is None:
        return
    try:
        from domain.core.db import get_engine

        with get_engine().begin() as connection:
            connection.execute(text("SET LOCAL statement_timeout = 2000"))
            liveness.record_sweep(connection, sender.name, interval)
    except Exception as exc:
        log.warning("run of %s not recorded: %s", sender.name, str(exc).splitlines()[0] if str(exc) else exc)
