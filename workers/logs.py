"""How log lines look: one JSON object per line for machines, or aligned ``key=value`` for people.

``LOG_FORMAT=json`` (one object per line: ``timestamp``, ``level``, ``logger``, ``event`` and every
bound field — ``correlation_id``, ``store``, ``sku``, ``order``, ``backorder``, ``po`` …),
``LOG_FORMAT=console`` (coloured, for a terminal), or unset / ``auto``: console when standard
error is a terminal, JSON otherwise (a supervisor, a container, a file). Every record goes through
it — structured events (``domain.core.log_context``), Celery's and uvicorn's lines, any library's
— so a Celery ``Task … succeeded`` line carries the correlation id of the task it is about.

Secrets never reach a line: signed ``/b/…`` and ``/po/…`` link tokens are already redacted on
each record by ``workers.log_redaction``; structured events keep their fields outside the record's
message, so :func:`redact_fields` redacts every string value (and a formatted traceback) again
just before rendering.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import structlog
from celery.signals import after_setup_logger, after_setup_task_logger

from domain.core.log_context import _configure as configure_structlog
from workers.log_redaction import redact

FORMATS = ("json", "console", "auto")
#: Loggers that keep handlers of their own (uvicorn's): their handlers are given our formatter.
OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "celery.task", "celery.redirected")


def log_format(stream: Any = None) -> str:
    """``json`` or ``console``, from ``LOG_FORMAT`` (a wrong value stops start-up, named)."""
    wanted = os.environ.get("LOG_FORMAT", "auto").strip().lower() or "auto"
    if wanted not in FORMATS:
        raise ValueError(f"LOG_FORMAT={wanted!r}: expected one of {', '.join(FORMATS)}")
    if wanted != "auto":
        return wanted
    stream = sys.stderr if stream is None else stream
    return "console" if getattr(stream, "isatty", lambda: False)() else "json"


def from_record(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Level, logger and time from the standard record, for structured and foreign lines alike."""
    record: logging.LogRecord | None = event.get("_record")
    if record is not None:
        event.setdefault("level", record.levelname.lower())
        event.setdefault("logger", record.name)
        event.setdefault("timestamp", datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"))
        event.setdefault("pid", record.process)
    event.pop("color_message", None)  # uvicorn's coloured copy of the message
    return event


def redact_fields(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Every string value with its signed link tokens redacted (``workers.log_redaction``)."""
    for key, value in event.items():
        if isinstance(value, str) and not key.startswith("_"):
            event[key] = redact(value)
    return event


def formatter(kind: str) -> structlog.stdlib.ProcessorFormatter:
    """The formatter for ``json`` or ``console``."""
    renderer: Any = (structlog.processors.JSONRenderer(default=str) if kind == "json"
                     else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    tail: list[Any] = [structlog.processors.format_exc_info] if kind == "json" else []
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.contextvars.merge_contextvars,
            from_record,
            *tail,
            redact_fields,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )


def log_level() -> int:
    """``LOG_LEVEL`` (a name such as ``INFO`` or ``DEBUG``; default ``INFO``)."""
    name = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        raise ValueError(f"LOG_LEVEL={name!r}: not a logging level")
    return level


def install(kind: str | None = None) -> str:
    """Render every handler of the root logger (and uvicorn's and Celery's own) in ``kind``.

    A root logger with no handler (the web process: uvicorn sets up only its own loggers) gets a
    standard-error handler at ``LOG_LEVEL``. Returns the format used."""
    configure_structlog()
    kind = kind or log_format()
    chosen = formatter(kind)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
        root.setLevel(log_level())
    for handler in root.handlers:
        if not _is_test_capture(handler):
            handler.setFormatter(chosen)
    for name in OWN_HANDLERS:
        for handler in logging.getLogger(name).handlers:
            if not _is_test_capture(handler):
                handler.setFormatter(chosen)
    return kind


def _is_test_capture(handler: logging.Handler) -> bool:
    """pytest's capturing handlers keep their own format (tests read the records, not the text)."""
    return type(handler).__module__.startswith("_pytest")


@after_setup_logger.connect
@after_setup_task_logger.connect
def on_celery_logging(logger: logging.Logger | None = None, **_: Any) -> None:
    """``after_setup_logger`` / ``after_setup_task_logger``: Celery's handlers render our way."""
    kind = log_format()
    chosen = formatter(kind)
    for handler in (logger.handlers if logger is not None else []):
        if not _is_test_capture(handler):
            handler.setFormatter(chosen)
