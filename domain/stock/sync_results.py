"""Each store's last poll, good or failed, read back for ``backorders status`` and ``doctor``.

A finished poll already leaves an audit row (``poll``, with its pages, records and changes). A
failed one left nothing but a dead letter once its retries ran out, so ``status`` said "last
polled never" beside a store whose token lacked a scope. ``record_failure`` keeps the failure in
the same place (an audit row ``poll.failed`` with the error and HTTP status), no schema change,
and ``latest`` reads whichever of the two came last for every store.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.core import audit

FAILED = "poll.failed"
#: Longest error text kept: enough for the platform's message, never a whole response body.
ERROR_CHARS = 500

LATEST_SQL = text("""
SELECT DISTINCT ON (subject_id) subject_id, action, at, data
  FROM audit_log
 WHERE subject_type = 'store' AND action IN ('poll', 'poll.failed')
 ORDER BY subject_id, at DESC, id DESC
""")


def describe(exc: BaseException) -> str:
    """``403 orders.json: …`` when the error carries an HTTP status, else the exception's text."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    status = getattr(exc, "status_code", None)
    if status is not None and not message.startswith(str(status)):
        message = f"{status} {message}"
    return message[:ERROR_CHARS]


def record_failure(session: Session, store_id: int, owner: str, full: bool, exc: BaseException,
                   started_at: datetime | None = None) -> None:
    """Keep why a poll of ``store_id`` failed (one row per failed attempt, retries included)."""
    audit.record(session, "sync", FAILED, "store", store_id, owner=owner, full=full, error=describe(exc),
                 error_type=type(exc).__name__, status_code=getattr(exc, "status_code", None),
                 started_at=started_at.isoformat() if started_at else None)


def latest(session: Session) -> dict[int, dict[str, Any]]:
    """Store id → its last poll: ``{"ok", "at", "records", "pages", "changed", "orders", "full", "error"}``."""
    found: dict[int, dict[str, Any]] = {}
    for subject_id, action, at, data in session.execute(LATEST_SQL):
        if not str(subject_id).isdigit():
            continue
        ok = action == "poll"
        found[int(subject_id)] = {
            "ok": ok, "at": at.isoformat(), "full": data.get("full"),
            "records": data.get("records"), "pages": data.get("pages"), "changed": data.get("changed"),
            "orders": data.get("orders"), "unknown": data.get("unknown"),
            "error": None if ok else data.get("error"), "status_code": data.get("status_code")}
    return found


def one_line(key: str, last: dict[str, Any] | None, clock: str | None = None) -> str:
    """``shopify-main  last polled 12:03:10 ok 280 records`` / ``… failed 12:03:10: 403 …``."""
    if last is None:
        return f"{key}  last polled never"
    when = clock or f"{datetime.fromisoformat(last['at']):%Y-%m-%d %H:%M:%S %Z}"
    if last["ok"]:
        return (f"{key}  last polled {when} ok {last.get('records') or 0} records"
                f" ({'full' if last.get('full') else 'incremental'}, {last.get('changed') or 0} SKUs changed, "
                f"{last.get('orders') or 0} orders)")
    return f"{key}  last poll failed {when}: {last.get('error')}"
