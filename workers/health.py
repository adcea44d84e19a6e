"""Liveness of what the processes depend on: PostgreSQL and the broker, each with a short timeout."""
from __future__ import annotations

from dataclasses import dataclass

from kombu import Connection
from sqlalchemy import text

from domain.db import get_engine
from domain.settings import get_settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return Check("database", True, "ok")
    except Exception as exc:  # any failure is the answer, not an error of ours
        return Check("database", False, _short(exc))


def check_broker() -> Check:
    try:
        with Connection(get_settings().broker_url, connect_timeout=2, transport_options={"max_retries": 0}) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            if conn.transport.driver_type == "redis":
                conn.default_channel.client.ping()
        return Check("broker", True, "ok")
    except Exception as exc:
        return Check("broker", False, _short(exc))


def check_dead_letter_spool() -> Check:
    """Dead letters kept in the local spool because the database refused them (domain.spool)."""
    from domain import spool

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
