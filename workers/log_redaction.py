"""Signed link tokens never reach a log line.

A customer's choice link (``/b/<token>``, valid 45 days) and a vendor's purchase-order link
(``/po/<token>``) are bearer credentials: whoever holds one can cancel the order or re-date the
PO. Uvicorn's access log prints every request path, so before this the web log held every link
a customer clicked. :func:`install` wraps the logging module's record factory, so every record
any logger creates in the process — uvicorn's access and error lines, our own modules, Celery's —
has each ``/b/…`` or ``/po/…`` segment in its message and arguments rewritten to
``/b/[redacted]`` before any handler formats it, whatever the logging configuration (uvicorn
configures its loggers before importing the app; a factory does not depend on that order). An
exception's traceback is formatted and redacted on the record as well. The request still reaches
the endpoint unchanged; only what is written down differs. Cost: a substring test per argument.
"""
from __future__ import annotations

import logging
import re
from typing import Any

LINK_SEGMENT = re.compile(r"(/(?:b|po)/)[^/?#\s\"'<>]+")
#: A shipping webhook's secret travels as ``?token=`` (ShipStation signs nothing: docs/shipping.md); an
#: OAuth form (a refresh-token grant's body, should a debug log print it) as ``refresh_token=`` /
#: ``access_token=`` (QuickBooks Online's rotating token: connectors/token_rotation.py).
TOKEN_QUERY = re.compile(r"((?:^|[?&\s\"'])(?:refresh_|access_)?token=)[^&#\s\"'<>]+")
REDACTED = r"\1[redacted]"


def redact(text: str) -> str:
    """``/b/<token>`` → ``/b/[redacted]`` (and ``/po/…``, and ``?token=…``) anywhere in ``text``."""
    if "token=" in text:
        text = TOKEN_QUERY.sub(REDACTED, text)
    return LINK_SEGMENT.sub(REDACTED, text) if ("/b/" in text or "/po/" in text) else text


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Redacts one record in place (message, arguments, traceback) and returns it."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_clean(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {key: _clean(value) for key, value in record.args.items()}
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        if text != redact(text):
            record.exc_text = redact(text)
    return record


def install() -> None:
    """Wraps the current record factory once per process (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts_links", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(current(*args, **kwargs))

    factory.redacts_links = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
