"""domain.core.db_errors against real PostgreSQL: each error produced by the server, then classified."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from domain.core import db_errors
from domain.core.db import make_engine

TABLE = "db_errors_probe"


@pytest.fixture
def engine(services: dict[str, str]) -> Iterator[Engine]:
    engine = make_engine(services["database_url"], pool_size=4, pool_pre_ping=False)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        conn.execute(text(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, n int NOT NULL)"))
        conn.execute(text(f"INSERT INTO {TABLE} VALUES (1, 0), (2, 0)"))
    try:
        yield engine
    finally:
        engine.dispose()
        cleanup = make_engine(services["database_url"])
        with cleanup.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        cleanup.dispose()


def caught(fn: object) -> DBAPIError:
    with pytest.raises(DBAPIError) as raised:
        fn()  # type: ignore[operator]
    return raised.value


def test_read_only_transaction_is_transient(engine: Engine) -> None:
    def write() -> None:
        with engine.begin() as conn:
            conn.execute(text("SET TRANSACTION READ ONLY"))
            conn.execute(text(f"UPDATE {TABLE} SET n = n + 1"))

    error = caught(write)
    assert db_errors.sqlstate(error) == "25006"
    assert type(error).__name__ == "InternalError", "the class the old autoretry list missed"
    assert db_errors.is_transient(error)


def test_serialization_failure_is_transient(engine: Engine) -> None:
    with engine.connect() as first, engine.connect() as second:
        first.execute(text("BEGIN ISOLATION LEVEL REPEATABLE READ"))
        first.execute(text(f"SELECT n FROM {TABLE} WHERE id = 1"))
        second.execute(text(f"UPDATE {TABLE} SET n = 5 WHERE id = 1"))
        second.commit()
        error = caught(lambda: first.execute(text(f"UPDATE {TABLE} SET n = 6 WHERE id = 1")))
        first.rollback()
    assert db_errors.sqlstate(error) == "40001"
    assert db_errors.is_transient(error)


def test_deadlock_victim_is_transient(engine: Engine) -> None:
    errors: list[BaseException] = []
    locked = threading.Barrier(2)

    def cross(mine: int, theirs: int) -> None:
        with engine.connect() as conn:
            try:
                conn.execute(text(f"SELECT 1 FROM {TABLE} WHERE id = :id FOR UPDATE"), {"id": mine})
                locked.wait(timeout=10)
                conn.execute(text(f"SELECT 1 FROM {TABLE} WHERE id = :id FOR UPDATE"), {"id": theirs})
            except DBAPIError as exc:
                errors.append(exc)
            finally:
                conn.rollback()

    threads = [threading.Thread(target=cross, args=(1, 2)), threading.Thread(target=cross, args=(2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == 1, "PostgreSQL cancels exactly one side of a deadlock"
    assert db_errors.sqlstate(errors[0]) == "40P01"
    assert db_errors.is_transient(errors[0])


def test_lock_timeout_is_transient(engine: Engine) -> None:
    with engine.connect() as holder, engine.connect() as waiter:
        holder.execute(text(f"SELECT 1 FROM {TABLE} WHERE id = 1 FOR UPDATE"))
        waiter.execute(text("SET lock_timeout = '100ms'"))
        error = caught(lambda: waiter.execute(text(f"SELECT 1 FROM {TABLE} WHERE id = 1 FOR UPDATE")))
        waiter.rollback()
        holder.rollback()
    assert db_errors.sqlstate(error) == "55P03"
    assert db_errors.is_transient(error)


def test_statement_timeout_is_transient_but_a_deliberate_cancel_is_not(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SET statement_timeout = '50ms'"))
        timeout = caught(lambda: conn.execute(text("SELECT pg_sleep(2)")))
        conn.rollback()
    assert db_errors.sqlstate(timeout) == "57014" and db_errors.is_transient(timeout)

    with engine.connect() as victim, engine.connect() as operator:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
        victim.commit()
        timer = threading.Timer(0.3, lambda: operator.execute(text("SELECT pg_cancel_backend(:p)"), {"p": pid}))
        timer.start()
        cancelled = caught(lambda: victim.execute(text("SELECT pg_sleep(5)")))
        timer.join()
        victim.rollback()
    assert db_errors.sqlstate(cancelled) == "57014"
    assert not db_errors.is_transient(cancelled), "an operator's cancel is not a timeout"


def test_terminated_connection_is_transient(engine: Engine) -> None:
    with engine.connect() as victim, engine.connect() as operator:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
        victim.commit()
        operator.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        operator.commit()
        error = caught(lambda: victim.execute(text("SELECT 1")))
    assert db_errors.sqlstate(error) in ("57P01", None)  # the FATAL message, or just a closed socket
    assert db_errors.is_transient(error)


def test_refused_connection_is_transient() -> None:
    nowhere = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    error = caught(lambda: nowhere.connect())
    assert db_errors.sqlstate(error) is None
    assert db_errors.is_transient(error)


def test_integrity_and_syntax_errors_are_permanent(engine: Engine) -> None:
    def duplicate() -> None:
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {TABLE} VALUES (1, 0)"))

    integrity = caught(duplicate)
    assert db_errors.sqlstate(integrity) == "23505"
    assert not db_errors.is_transient(integrity)

    def nonsense() -> None:
        with engine.begin() as conn:
            conn.execute(text("SELEC 1"))

    syntax = caught(nonsense)
    assert db_errors.sqlstate(syntax) == "42601" and not db_errors.is_transient(syntax)
    assert not db_errors.is_transient(ValueError("not from the database"))
    assert db_errors.describe(integrity) == "23505"


def test_a_session_opened_read_only_is_dropped_after_its_first_refusal(services: dict[str, str]) -> None:
    """``ALTER DATABASE … SET default_transaction_read_only`` binds each session at connect: after
    the database is writable again, a pooled session opened meanwhile still refuses every write.
    The engine's hook (``db_errors.invalidate_stale_sessions``) drops the pool on that refusal."""
    import psycopg

    name = f"{services['database_name']}_ro"
    admin_url = services["server_url"].replace("postgresql+psycopg://", "postgresql://", 1).rsplit("/", 1)[0]
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            engine = make_engine(f"{admin_url}/{name}")
            with engine.connect() as conn:
                assert conn.execute(text("SHOW default_transaction_read_only")).scalar() == "on"
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')

            def write() -> None:
                with engine.begin() as conn:
                    conn.execute(text("CREATE TABLE IF NOT EXISTS t (x int)"))

            refused = caught(write)
            assert db_errors.sqlstate(refused) == "25006" and refused.connection_invalidated
            write()  # a new session: writable
            engine.dispose()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_session_used_after_its_connection_was_dropped_is_transient(engine: Engine) -> None:
    """Code that catches a refusal inside a unit of work (a savepoint fallback) and goes on meets
    SQLAlchemy's PendingRollbackError once the refusal dropped the connection: run it all again."""
    from sqlalchemy.exc import PendingRollbackError
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        session.execute(text("SET TRANSACTION READ ONLY"))
        with pytest.raises(DBAPIError):
            session.execute(text(f"UPDATE {TABLE} SET n = n + 1"))
        with pytest.raises(PendingRollbackError) as raised:
            session.execute(text("SELECT 1"))
    assert db_errors.is_transient(raised.value)
