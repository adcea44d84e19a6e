"""Stages a task runs inline, made visible: a Celery task event and a log line per stage.

``tasks.inbound.drain`` runs the first customer notice (``offer``) and detection (``evaluate``)
in its own transaction for latency, so no task of those names runs for them. Each one it runs is
announced twice:

* a ``task-stage`` event (Celery's custom task events, ``Task.send_event``; Celery's monitoring
  guide, "Events", https://docs.celeryq.dev/en/stable/userguide/monitoring.html#events) with
  ``stage``, ``stage_task`` (the task that stage is when it runs alone), ``ids`` (the first 50),
  ``count``, ``outcome`` (``done`` or ``fell back``) and ``ms``. Celery's event state — what
  Flower and ``celery -A workers.app events`` display — takes a custom event type as the task's
  state: the drain shows ``STAGE`` with the stage's fields while it runs, then ``SUCCESS`` (the
  last stage's fields stay on it). ``celery -A workers.app events --dump`` prints each event
  as it comes. Workers send events because ``worker_send_task_events`` is on (``celeryconfig``).
* a structured ``stage`` event at INFO from the ``flows.stage`` logger (``domain.core.log_context``)
  with the fields ``stage``, ``stage_task``, ``inline_in``, ``inline_task_id``, ``ids`` (count),
  ``outcome`` and ``ms``, plus the task's bound fields (correlation id, store …). Rendered as JSON
  (``"event": "stage", "stage": "evaluate", …``) or on a terminal as ``stage … stage=evaluate
  stage_task=tasks.stock.evaluate inline_in=tasks.inbound.drain ids=3 outcome=done ms=4.1``
  (``workers.logs``), so detection can be followed whether it ran as its own task or inside a
  drain.
"""
from __future__ import annotations

import logging
from typing import Any, Protocol

from domain.core import log_context
from domain.core.stages import Stage
from flows.spine import task_name

log = logging.getLogger("flows.stage")
trail = log_context.get_logger("flows.stage")
EVENT = "task-stage"
#: Ids carried in one event: enough to follow a small batch, bounded for a big one.
MAX_EVENT_IDS = 50


class SendsEvents(Protocol):
    name: str

    @property
    def request(self) -> Any: ...

    def send_event(self, type_: str, retry: bool = True, retry_policy: Any = None, **fields: Any) -> Any: ...


def announce(task: SendsEvents, stage: Stage, ids: list[Any], outcome: str, elapsed_s: float) -> dict[str, Any]:
    """Send the ``task-stage`` event (when the task runs under a worker) and log the line; returns
    the event's fields."""
    fields = {"stage": stage.value, "stage_task": task_name(stage), "ids": list(ids[:MAX_EVENT_IDS]),
              "count": len(ids), "outcome": outcome, "ms": round(elapsed_s * 1000, 1)}
    request = getattr(task, "request", None)
    task_id = getattr(request, "id", None)
    trail.info("stage", stage=fields["stage"], stage_task=fields["stage_task"], inline_in=task.name,
               inline_task_id=task_id, ids=len(ids), outcome=outcome, ms=fields["ms"])
    if task_id and not getattr(request, "called_directly", True) and not getattr(request, "is_eager", False):
        try:
            task.send_event(EVENT, retry=False, **fields)
        except Exception:  # monitoring must never fail the work: the log line stands
            log.debug("could not send %s for %s", EVENT, stage, exc_info=True)
    return fields
