"""The correlation id across the broker: a message header out, bound log fields in.

Publishing (``before_task_publish``, in whatever process sends: the web receiver, a task, the
CLI) adds the current context's ``correlation_id`` to the message's headers; the broker still
carries ids only. A task starting (``task_prerun``) binds the header's id — or, for a task run
inline under another (eager), the caller's — or mints a new one: a poll or a sweep that begins a
chain starts its own. It binds the task's name and id and its id arguments by parameter name
(``store_id=3``, ``sku_id=12``, ``backorder_id=5``, ``source`` as ``store``), so every line the task
logs names what it works on; ``task_postrun`` puts the previous context back, whatever the task bound meanwhile.
"""
from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

from domain.core import log_context

#: A task's parameters bound as log fields under another name.
RENAMED = {"source": "store", "store_key": "store"}
_saved: dict[str, dict[str, Any]] = {}


@lru_cache(maxsize=512)
def parameters(task: Any) -> tuple[str, ...]:
    """The names of a task's positional parameters (``self`` of a bound task left out)."""
    try:
        names = list(inspect.signature(task.run).parameters)
    except (TypeError, ValueError):
        return ()
    return tuple(name for name in names if name not in ("self", "args", "kwargs"))


def id_fields(task: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """``{"store_id": 3, "sku_id": 12}`` from a task's arguments: ids and store keys only."""
    named = dict(zip(parameters(task), args or ()))
    named.update(kwargs or {})
    fields: dict[str, Any] = {}
    for name, value in named.items():
        if name in RENAMED and isinstance(value, str):
            fields[RENAMED[name]] = value
        elif name.endswith("_id") and isinstance(value, int) and not isinstance(value, bool):
            fields[name] = value
        elif name.endswith("_ids") and isinstance(value, list):
            fields[name] = value[:20]
    return fields


@before_task_publish.connect
def _add_header(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None and not headers.get(log_context.HEADER):
        current = log_context.current_id()
        if current:
            headers[log_context.HEADER] = current


def incoming_id(task: Any) -> str | None:
    """The header's id (a message from the broker) — Celery puts custom headers on the request."""
    request = task.request
    value = getattr(request, log_context.HEADER, None) or (getattr(request, "headers", None) or {}).get(
        log_context.HEADER)
    return str(value) if value else None


@task_prerun.connect
def _bind(task_id: str | None = None, task: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    if task is None or task_id is None:
        return
    correlation_id = incoming_id(task) or log_context.current_id() or log_context.new_id()
    _saved[task_id] = log_context.snapshot()
    log_context.bind(correlation_id=correlation_id, task=task.name, task_id=task_id, **id_fields(task, args, kwargs))


@task_postrun.connect
def _unbind(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None and task_id in _saved:
        log_context.restore(_saved.pop(task_id))
