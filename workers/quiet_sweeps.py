"""Flower shows work, not the clock: a sweep that found nothing leaves no row in its task list.

Beat sends every sweeper every few seconds (``celeryconfig.beat_schedule``), and each run used to
be a ``task-sent``, ``task-received``, ``task-started`` and ``task-succeeded`` event: Flower's
task list and ``celery events`` were a wall of ``dispatch_due`` and ``sweep`` returning 0, and the
drain, the pushes and the sends scrolled away under them.

Celery has the switches needed, per task and per sender:

* ``Task.send_events`` (Celery's task reference: "If enabled the worker will send monitoring
  events related to this task (but only if the worker is configured to send task related
  events)"): set to ``False`` for the scheduled sweepers when the worker starts
  (``worker_init``), so the worker announces none of their runs;
* ``task_send_sent_event``: turned off in the beat process only (``beat_init``), which sends
  nothing but the schedule.

A sweep still runs as its own task on its own queue, exactly as before: every pending piece of
work is still a row a sweeper finds again, and ``/healthz`` still sees each sweep's last run
(``workers.heartbeats``). What changes is what a run that *did* something looks like: after it,
the worker sends the task's ``task-received`` and ``task-succeeded`` events itself (name,
arguments, what it found, runtime), so Flower lists it like any other task. A sweep that fails or
retries is announced the same way (``task-failed``, ``task-retried``): trouble is never hidden.
"""
from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterable
from typing import Any

from celery.signals import beat_init, task_failure, task_postrun, task_prerun, task_retry, worker_init

log = logging.getLogger(__name__)

_started: dict[str, float] = {}


def sweeper_names(schedule: dict[str, Any] | None) -> frozenset[str]:
    """The tasks the beat schedule sends: the clock's sweepers."""
    return frozenset(entry["task"] for entry in (schedule or {}).values() if "task" in entry)


def found(retval: Any) -> bool:
    """Whether a sweep's return value says it found work (a count, a tally, a list)."""
    if isinstance(retval, bool) or retval is None:
        return bool(retval)
    if isinstance(retval, int | float):
        return retval > 0
    if isinstance(retval, dict):
        return any(found(value) for value in retval.values())
    if isinstance(retval, list | tuple | set | frozenset):
        return len(retval) > 0
    return True


def quiet(app: Any, names: Iterable[str]) -> list[str]:
    """Stop the worker's own events for these tasks; returns the ones found."""
    done = []
    for name in names:
        task = app.tasks.get(name)
        if task is not None:
            task.send_events = False
            done.append(name)
    return done


@worker_init.connect
def _quiet_sweepers(sender: Any = None, **_: Any) -> None:
    app = getattr(sender, "app", None)
    if app is not None:
        quiet(app, sweeper_names(app.conf.beat_schedule))


@beat_init.connect
def _no_sent_events_from_beat(sender: Any = None, **_: Any) -> None:
    app = getattr(sender, "app", None)
    if app is not None:
        app.conf.task_send_sent_event = False


def _quieted(task: Any) -> bool:
    return task is not None and getattr(task, "send_events", True) is False and bool(
        getattr(task.app.conf, "worker_send_task_events", False))


def _under_worker(task: Any) -> bool:
    request = task.request
    return bool(request.id) and not getattr(request, "called_directly", False) and not getattr(
        request, "is_eager", False)


def _announce(task: Any, final: str, **fields: Any) -> None:
    """``task-received`` then ``final`` for this run, sent by the task itself (never fails it)."""
    request = task.request
    try:
        task.send_event("task-received", retry=False, name=task.name, args=request.argsrepr or repr(
            tuple(request.args or ())), kwargs=request.kwargsrepr or repr(request.kwargs or {}), retries=request.retries,
            root_id=request.root_id, parent_id=request.parent_id, eta=None, expires=None)
        task.send_event(final, retry=False, **fields)
    except Exception:  # monitoring must never fail the work
        log.debug("task events for %s not sent", task.name, exc_info=True)


@task_prerun.connect
def _clock_in(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id and _quieted(task):
        _started[task_id] = time.monotonic()


@task_postrun.connect
def _worth_showing(task_id: str | None = None, task: Any = None, retval: Any = None, state: str | None = None,
                   **_: Any) -> None:
    started = _started.pop(task_id or "", None)
    if started is None or state != "SUCCESS" or not found(retval) or not _under_worker(task):
        return
    _announce(task, "task-succeeded", result=repr(retval), runtime=time.monotonic() - started)


@task_failure.connect
def _failed(task_id: str | None = None, exception: BaseException | None = None, sender: Any = None,
            einfo: Any = None, **_: Any) -> None:
    if _quieted(sender) and _under_worker(sender):
        _announce(sender, "task-failed", exception=repr(exception),
                  traceback=str(einfo) if einfo else "".join(traceback.format_exception(exception)) if exception else "")


@task_retry.connect
def _retried(sender: Any = None, reason: Any = None, einfo: Any = None, **_: Any) -> None:
    if _quieted(sender) and _under_worker(sender):
        _announce(sender, "task-retried", exception=repr(reason), traceback=str(einfo) if einfo else "")
