"""Which database errors a later attempt can pass: one classification for every task.

A probe made the database read-only (``ALTER DATABASE … SET default_transaction_read_only = on``)
for a while: 92 tasks failed on their first attempt and were never retried, because PostgreSQL's
``25006 read_only_sql_transaction`` reaches SQLAlchemy as ``InternalError`` while tasks retried
only ``OperationalError``. The class a driver gives an error says little about whether waiting
helps, so the decision is taken here from the SQLSTATE, the code PostgreSQL itself sends:

* **transient** — the server or another session was in the way, and the same statement may pass
  later: read-only transaction (a fail-over in progress, a replica promoted late, an operator's
  switch), serialization failure and deadlock (the loser is told to retry), a lock not obtained
  within ``lock_timeout``, a statement cancelled by ``statement_timeout``, the server shutting
  down or starting up, too many connections or out of memory/disk, and every broken connection
  (class 08, or no SQLSTATE at all: the socket closed before the server said anything);
* **permanent** — anything else PostgreSQL answered with a code: an integrity violation, a syntax
  error, bad data. Those come from our code or our data, and a retry repeats them; they go to the
  dead letters after one attempt instead of eight.
"""
from __future__ import annotations

from typing import Any, Final

from sqlalchemy import exc as sa_exc

#: SQLSTATEs a later attempt can pass, with PostgreSQL's condition names (Appendix A of its manual).
TRANSIENT_SQLSTATES: Final[dict[str, str]] = {
    "25006": "read_only_sql_transaction",
    "25P03": "idle_in_transaction_session_timeout",
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
    "55P03": "lock_not_available",
    "55006": "object_in_use",
    "57P01": "admin_shutdown",
    "57P02": "crash_shutdown",
    "57P03": "cannot_connect_now",
    "57P05": "idle_session_timeout",
    "58000": "system_error",
    "58030": "io_error",
}
#: Whole classes that are transient: connection exceptions, insufficient resources.
TRANSIENT_CLASSES: Final[tuple[str, ...]] = ("08", "53")
#: ``57014 query_canceled`` covers a timeout and a deliberate cancel (``pg_cancel_backend``); only
#: the timeouts are worth another attempt. PostgreSQL names the cause in the message.
QUERY_CANCELED = "57014"
TIMEOUT_WORDS: Final[tuple[str, ...]] = ("statement timeout", "lock timeout")
#: SQLAlchemy's words for a session whose connection was invalidated inside its transaction.
INVALIDATED = "Can't reconnect until invalid transaction is rolled back"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE PostgreSQL sent with ``exc`` (SQLAlchemy's wrapper or psycopg's own error)."""
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str) and code:
            return code
    return None


def _is_driver_error(exc: BaseException) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the product depends on psycopg
        return isinstance(exc, sa_exc.DBAPIError)
    return isinstance(exc, (sa_exc.DBAPIError, psycopg.Error))


def is_database_error(exc: BaseException) -> bool:
    """True for any error raised by the database layer (driver, SQLAlchemy's pool or session)."""
    return _is_driver_error(exc) or isinstance(exc, (sa_exc.TimeoutError, sa_exc.DisconnectionError))


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` came from the database and the same work may succeed on a later attempt."""
    if isinstance(exc, (sa_exc.TimeoutError, sa_exc.DisconnectionError)):
        return True  # the pool had no connection to give, or one died on checkout
    if isinstance(exc, sa_exc.PendingRollbackError) and INVALIDATED in str(exc):
        # The connection was dropped mid-transaction (a refusal marked stale, below) and code that
        # caught that error went on using the session: the whole unit of work must run again.
        return True
    if not _is_driver_error(exc):
        return False
    if getattr(exc, "connection_invalidated", False):
        return True
    code = sqlstate(exc)
    if code is None:
        # No answer from the server at all: refused, reset, timed out while connecting. psycopg
        # raises OperationalError (or InterfaceError for a closed connection) without a code.
        import psycopg
        orig = getattr(exc, "orig", exc)
        return isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError)) or isinstance(
            exc, (sa_exc.OperationalError, sa_exc.InterfaceError))
    if code in TRANSIENT_SQLSTATES or code[:2] in TRANSIENT_CLASSES:
        return True
    if code == QUERY_CANCELED:
        message = str(getattr(exc, "orig", exc)).lower()
        return any(word in message for word in TIMEOUT_WORDS)
    return False


#: Errors after which the session itself is suspect, not only the statement: a session opened while
#: the database was read-only (``ALTER DATABASE … SET default_transaction_read_only``, or a standby
#: behind the primary's address after a fail-over) stays read-only for its whole life, so a pool
#: would hand the same refusal to every retry long after the database is writable again.
STALE_SESSION_SQLSTATES: Final[frozenset[str]] = frozenset({"25006", "57P01", "57P02", "57P03"})


def invalidate_stale_sessions(context: Any) -> None:
    """SQLAlchemy ``handle_error`` hook: treat a read-only or shutdown answer as a disconnect, so
    the pool drops that connection (and the ones opened before it) and the retry opens a new one."""
    code = sqlstate(context.original_exception) if context.original_exception is not None else None
    if code in STALE_SESSION_SQLSTATES:
        context.is_disconnect = True


def describe(exc: BaseException) -> str:
    """``25006 read_only_sql_transaction`` for logs; the class name when PostgreSQL sent no code."""
    code = sqlstate(exc)
    if code is None:
        return type(getattr(exc, "orig", exc)).__name__
    return f"{code} {TRANSIENT_SQLSTATES.get(code, '')}".strip()
