"""Who and what a log line is about: a correlation id, and the store, SKU, order, backorder and PO.

A chain of work — a webhook, the drain that applies it, the detection, the channel pushes and the
alert's send — spans several processes and many log lines. Each line carries the same
``correlation_id`` (minted where the chain starts: a webhook accepted or a poll) and the business
keys the step knows, so ``grep`` or a log store can follow one sale from the platform's request
to the provider's answer. The fields live in context variables (``structlog.contextvars``), so
every record emitted while they are bound carries them — ours, Celery's, a connector's — without
being passed along by hand. Across the broker the id travels as a message header
(``workers.correlation``); messages still carry ids only.

How a line is rendered (JSON or console) is the process's business (``workers.logs``); this
module only binds fields and hands out loggers, and works whether or not rendering is set up.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars, reset_contextvars

#: The log field (and the inbox payload key) carrying the chain's id.
CORRELATION_ID = "correlation_id"
#: The message header carrying it: not ``correlation_id``, which is an AMQP message property
#: Celery already fills with the task's own id.
HEADER = "chain_correlation_id"
#: Business keys a line may carry, by name: a store's key, a SKU's code, an order's number, a
#: backorder's id, a purchase order's number (``po``), an outbox row and its provider.
FIELDS = ("store", "sku", "order", "backorder", "po", "outbox", "provider")


def new_id() -> str:
    """A fresh correlation id: 16 hex digits, short enough to read, long enough never to repeat
    (64 random bits; ``os.urandom`` directly, a third of ``uuid4``'s cost, measured: every
    webhook mints one)."""
    return os.urandom(8).hex()


def current_id() -> str | None:
    """The correlation id bound in this context, if any."""
    value = get_contextvars().get(CORRELATION_ID)
    return str(value) if value else None


def bind(**fields: Any) -> dict[str, Any]:
    """Bind the fields that are not ``None`` for the rest of this context; returns the tokens
    :func:`unbind` takes to put the previous values back."""
    present = {key: value for key, value in fields.items() if value is not None}
    return dict(bind_contextvars(**present)) if present else {}


def unbind(tokens: dict[str, Any]) -> None:
    """Restore what :func:`bind` replaced (a task's fields never leak into the next task)."""
    if tokens:
        reset_contextvars(**tokens)


def snapshot() -> dict[str, Any]:
    """Every field bound now, for :func:`restore`."""
    return dict(get_contextvars())


def restore(fields: dict[str, Any]) -> None:
    """Exactly ``fields`` bound again: whatever was bound since the snapshot is gone (a task's
    fields never leak into the next task its thread runs)."""
    clear_contextvars()
    if fields:
        bind_contextvars(**fields)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Bind ``fields`` for the ``with`` block only."""
    tokens = bind(**fields)
    try:
        yield
    finally:
        unbind(tokens)


def _configure() -> None:
    """Structlog events go through the standard library's logging, so one handler renders both
    them and every other library's records, and log levels are set in one place."""
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    """A structured logger named like a standard one (levels and handlers as configured)."""
    _configure()
    return structlog.stdlib.get_logger(name)
