"""Tasks against a database that refuses writes: retried, and dead letters kept when it never yields.

Real PostgreSQL made read-only the way an operator (or a fail-over) does it, a real worker, the
real broker. The retry test makes each of the first attempts read-only itself (``SET TRANSACTION
READ ONLY``); the spool test switches the whole database with ``ALTER DATABASE … SET
default_transaction_read_only`` and ends every open session, as the probe did.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from domain.core import spool
from domain.core.models import AuditLog, DeadLetter
from tests.conftest import wait_for

ATTEMPTS: dict[str, int] = {}
LOCK = threading.Lock()


def _count(marker: str) -> int:
    with LOCK:
        ATTEMPTS[marker] = ATTEMPTS.get(marker, 0) + 1
        return ATTEMPTS[marker]


def _tasks(app: object) -> dict[str, object]:
    from domain.core import audit
    from tasks.base import DbTask

    tasks: dict[str, object] = getattr(app, "_db_failure_tasks", {})
    if tasks:
        return tasks

    @app.task(base=DbTask, bind=True, name="tests.read_only_at_first", retry_backoff=False,  # type: ignore[attr-defined]
              default_retry_delay=0)
    def read_only_at_first(self: DbTask, marker: str, refusals: int) -> None:
        attempt = _count(marker)
        with self.unit_of_work() as uow:
            if attempt <= refusals:
                uow.session.execute(text("SET TRANSACTION READ ONLY"))
            audit.record(uow.session, "test", "written", "marker", marker, attempt=attempt)

    @app.task(base=DbTask, bind=True, name="tests.duplicate_key", retry_backoff=False,  # type: ignore[attr-defined]
              default_retry_delay=0)
    def duplicate_key(self: DbTask, marker: str) -> None:
        _count(marker)
        with self.unit_of_work() as uow:
            uow.session.execute(text("INSERT INTO dead_letters (task_name, task_id, error) "
                                     "VALUES ('x', :id, 'x'), ('x', :id, 'x')"), {"id": marker})

    @app.task(base=DbTask, bind=True, name="tests.write_always", max_retries=2, retry_backoff=False,  # type: ignore[attr-defined]
              default_retry_delay=0)
    def write_always(self: DbTask, marker: str) -> None:
        _count(marker)
        with self.unit_of_work() as uow:
            audit.record(uow.session, "test", "written", "marker", marker)

    tasks = {"read_only_at_first": read_only_at_first, "duplicate_key": duplicate_key,
             "write_always": write_always}
    app._db_failure_tasks = tasks  # type: ignore[attr-defined]
    return tasks


@pytest.fixture
def worker(celery_app: object, db_session: Session) -> Iterator[dict[str, object]]:
    from celery.contrib.testing.worker import start_worker

    from celeryconfig import QUEUES

    tasks = _tasks(celery_app)
    with start_worker(celery_app, pool="threads", concurrency=2, perform_ping_check=False,  # type: ignore[arg-type]
                      loglevel="WARNING", queues=list(QUEUES), shutdown_timeout=60):
        yield tasks


def _dead(session: Session) -> dict[str, DeadLetter]:
    session.expire_all()
    return {d.task_name: d for d in session.scalars(select(DeadLetter))}


def test_read_only_database_is_retried_and_a_bug_is_not(worker: dict[str, object], db_session: Session) -> None:
    worker["read_only_at_first"].delay("ro", 3)  # type: ignore[attr-defined]
    worker["duplicate_key"].delay("dup")  # type: ignore[attr-defined]

    wait_for(lambda: db_session.scalar(select(func.count()).select_from(AuditLog)
                                       .where(AuditLog.subject_id == "ro")))
    wait_for(lambda: "tests.duplicate_key" in _dead(db_session))
    assert ATTEMPTS["ro"] == 4, "three read-only refusals, then the write"
    assert ATTEMPTS["dup"] == 1, "a unique violation is our bug: dead-lettered after one attempt"
    dead = _dead(db_session)
    assert "UniqueViolation" in dead["tests.duplicate_key"].error
    assert "tests.read_only_at_first" not in dead


@pytest.fixture
def read_only_switch(services: dict[str, str]) -> Iterator[callable]:
    """Turns the test database read-only (or back) for every new and every existing session."""
    name = services["database_name"]
    admin_url = services["server_url"].replace("postgresql+psycopg://", "postgresql://", 1)
    admin_url = admin_url.rsplit("/", 1)[0] + "/postgres"

    def switch(read_only: bool) -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = '
                          f'{"on" if read_only else "off"}')
            if read_only:  # sessions already open keep their setting: end them, as a fail-over does
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                              "AND pid <> pg_backend_pid()", (name,))

    try:
        yield switch
    finally:
        switch(False)


def test_dead_letter_spooled_while_read_only_then_imported(
        worker: dict[str, object], db_session: Session, read_only_switch: callable,
        services: dict[str, str]) -> None:
    from workers.web import create_app

    directory = spool.spool_dir()
    assert spool.pending_count() == 0
    read_only_switch(True)
    worker["write_always"].delay("spooled")  # type: ignore[attr-defined]
    wait_for(lambda: spool.pending_count() == 1, timeout_s=30)
    assert ATTEMPTS["spooled"] == 3, "first attempt and two retries, each refused"
    [entry] = spool.pending()
    assert entry["task_name"] == "tests.write_always" and entry["args"] == ["spooled"]
    assert "ReadOnlySqlTransaction" in entry["error"]
    assert spool.try_import() == 0 and spool.pending_count() == 1, "still read-only: the spool is kept"

    health = TestClient(create_app()).get("/healthz").json()["checks"]["dead_letter_spool"]
    assert health["ok"] is False and "1 dead letter" in health["detail"]

    # Writable again. The pool still holds sessions opened read-only: the first write on one is
    # refused once, the pool drops them all, and the retry writes (nobody disposes anything here).
    read_only_switch(False)
    worker["write_always"].delay("after")  # type: ignore[attr-defined]
    wait_for(lambda: db_session.scalar(select(func.count()).select_from(AuditLog)
                                       .where(AuditLog.subject_id == "after")), timeout_s=30)
    assert ATTEMPTS["after"] <= 2
    assert wait_for(lambda: spool.try_import() == 1 or spool.pending_count() == 0)
    assert spool.pending_count() == 0 and not list(Path(directory).iterdir())
    dead = _dead(db_session)["tests.write_always"]
    assert dead.args == ["spooled"] and "ReadOnlySqlTransaction" in dead.error

    # a crash between the import's commit and the file's removal imports the same line again: no-op
    spool.write({"task_name": "tests.write_always", "task_id": dead.task_id, "args": ["spooled"],
                 "kwargs": {}, "error": dead.error})
    assert spool.import_pending(_sessions()) == 1
    assert db_session.scalar(select(func.count()).select_from(DeadLetter)) == 1

    # an importer that died after claiming a file (renamed, not yet imported): the next run takes it
    left = spool.write({"task_name": "tests.write_always", "task_id": "claimed-then-crashed", "args": [],
                        "kwargs": {}, "error": "e"})
    left.rename(left.with_name(f"{left.name}{spool.CLAIMED}999999"))
    assert spool.pending_count() == 1
    assert spool.import_pending(_sessions()) == 1 and spool.pending_count() == 0
    assert db_session.scalar(select(func.count()).select_from(DeadLetter)) == 2


def _sessions() -> object:
    from domain.core.db import get_sessionmaker

    return get_sessionmaker()
