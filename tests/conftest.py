"""Test services: a fresh PostgreSQL database per session (built by Alembic) and an isolated Redis.

``DATABASE_URL`` / ``REDIS_URL`` point the suite at real servers (CI uses this machine's); with
neither set, the embedded servers under ``.data`` are started, and stopped again at the end if
this session started them.
"""
from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from sqlalchemy import text

REPO_ROOT = Path(__file__).resolve().parents[1]

#: One name per test session, for its database and its broker keys. The key prefix is set here,
#: at import, because test modules may import Celery tasks (and so ``celeryconfig``) before any
#: fixture runs; two sessions on one Redis must never consume each other's messages.
SESSION_NAME = f"backorders_test_{os.getpid()}_{secrets.token_hex(3)}"
os.environ["CELERY_KEY_PREFIX"] = f"test-{SESSION_NAME}:"
os.environ["FLOWS_STRICT"] = "1"  # a stage dispatching what its row in flows.spine omits fails
#: Dead letters a refusing database could not take go to a spool file: one per test session, so
#: a test never finds another session's (or a developer's) entries under ``.data``.
os.environ.setdefault("DEAD_LETTER_SPOOL_DIR", os.path.join(
    __import__("tempfile").gettempdir(), f"{SESSION_NAME}-dead-letter-spool"))
#: Prometheus figures of this session's processes (``workers.metrics_dir``), never under ``.data``.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(
    __import__("tempfile").gettempdir(), f"{SESSION_NAME}-metrics"))
#: Made now: a test that counts before ``workers.app`` configures (``workers.metrics_dir``) finds it.
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


#: ``pytest -n N --dist loadgroup`` (``make test``): groups of tests that run on one worker, one
#: after another. The chaos smoke scenarios share one stack of private servers (a session
#: fixture: one start, not one per worker). The end-to-end tests each run the product's processes
#: (the demo runs seven) for minutes: one at a time, they leave the cores to the other workers'
#: tests, which have timing bounds of their own.
XDIST_GROUPS = {"tests/chaos/": "chaos", "tests/e2e/": "e2e"}


def _reports(config: pytest.Config) -> bool:
    """True in the process that prints the run's summary: the run itself, or the controller of
    ``pytest -n`` (its workers have ``workerinput``)."""
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    from tests.chaos import report

    if _reports(config) and not report.FULL:
        # The chaos smoke rows, from whichever worker runs them, go to one scratch file that
        # this process prints and deletes; the workers inherit the variable.
        os.environ[report.SMOKE_VARIABLE] = str(report.run_path())
        report.RESULTS_PATH = report.run_path()
        report.reset()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` with the groups of ``XDIST_GROUPS``: each group is one unit of work
    (the largest start first), every other test a unit of its own, handed to whichever worker is
    free. (xdist's own ``xdist_group`` marks rename the test ids through an attribute pytest 9
    no longer reads, so they would group nothing.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next((group for prefix, group in XDIST_GROUPS.items() if nodeid.startswith(prefix)), nodeid)

    return GroupScheduling(config, log)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    from tests.chaos import report

    report.RESULTS_PATH = report.run_path()
    rows = report.read_rows()
    if rows:
        terminalreporter.write_sep("=", f"chaos results ({'full' if report.FULL else 'smoke'})")
        terminalreporter.write_line(report.table(rows))


def pytest_unconfigure(config: pytest.Config) -> None:
    from tests.chaos import report

    if _reports(config) and not report.FULL:
        report.RESULTS_PATH = report.run_path()
        report.reset()


@contextmanager
def _claims_locked(claims: Path) -> Iterator[None]:
    """Hold the claims directory's lock: sessions start together (``pytest -n``, one per worker)
    and finish together, and each must see the others' claims as they are, not half-written."""
    import fcntl

    claims.mkdir(parents=True, exist_ok=True)
    with open(claims / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _server_urls() -> tuple[str, str, Path | None]:
    """(database server URL, Redis URL, this session's claim on the embedded servers, if used).

    Sessions sharing the embedded servers each leave a claim file (``pytest -n 3`` runs three
    sessions, one per worker). When a test session found the servers stopped and started them,
    the ``.started`` mark says so; the last session to finish then stops them, so a session never
    pulls them from under another still running, and servers a developer started stay up.
    """
    from workers import embedded

    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "") or os.environ.get("BROKER_URL", "")
    if database_url and redis_url:
        return database_url, redis_url, None
    claims = embedded.data_dir() / "test-sessions"
    with _claims_locked(claims):
        if not embedded.is_running():
            (claims / ".started").touch()
        elif not _live_claims(claims):  # a mark left by a session that died: not ours to stop
            (claims / ".started").unlink(missing_ok=True)
        state = embedded.start()
        claim = claims / str(os.getpid())
        claim.write_text("claimed")
    return database_url or state.database_url, redis_url or state.redis_url, claim


def _live_claims(claims: Path) -> list[Path]:
    """The claims of sessions still running (a session killed mid-run leaves its file behind)."""
    import psutil

    return [c for c in claims.iterdir() if c.name.isdigit() and psutil.pid_exists(int(c.name))]


def release_embedded(claim: Path) -> None:
    """Drop this session's claim; the last session out stops the servers if a test session
    started them (the ``.started`` mark)."""
    from workers import embedded

    with _claims_locked(claim.parent):
        claim.unlink(missing_ok=True)
        started = claim.parent / ".started"
        if started.exists() and not _live_claims(claim.parent):
            embedded.stop()
            started.unlink(missing_ok=True)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def services() -> Iterator[dict[str, str]]:
    from alembic import command

    from domain.core.db import reset_engine
    from domain.core.env_settings import get_settings
    from workers.schema import alembic_config

    server_url, redis_url, claim = _server_urls()
    test_db = SESSION_NAME
    admin_url = _psycopg_url(_with_database(server_url, "postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{test_db}"')
    database_url = _with_database(server_url, test_db)
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "SECRET_KEY",
                                            "CELERY_KEY_PREFIX")}
    os.environ.update({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "BROKER_URL": redis_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        "CELERY_KEY_PREFIX": f"test-{test_db}:",
    })
    get_settings.cache_clear()
    reset_engine()
    command.upgrade(alembic_config(database_url), "head")
    try:
        yield {"database_url": database_url, "redis_url": redis_url, "server_url": server_url,
               "database_name": test_db}
    finally:
        reset_engine()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{test_db}" WITH (FORCE)')
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        if claim is not None:
            release_embedded(claim)


@pytest.fixture
def db_session(services: dict[str, str]) -> Iterator[object]:
    """A session on the test database; every table is emptied after the test."""
    from domain.core.db import get_engine, get_sessionmaker
    from domain.core.models import Base

    session = get_sessionmaker()()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
        empty_tables(get_engine(), [t.name for t in Base.metadata.sorted_tables])
        clear_wake_flags()


def clear_wake_flags() -> None:
    """Drop the drain wake-up flags a test left in Redis: ids restart with the emptied tables, so
    the next test's store 1 would otherwise find store 1's flag of the last test still standing
    and expect a drain that was never sent."""
    from domain.core import coalesce

    coalesce.clear_all()


def empty_tables(engine: Any, names: list[str], attempts: int = 5) -> None:
    """TRUNCATE every table. A worker thread or the web app may still be applying the last
    webhooks of a test (a flood of hundreds); TRUNCATE then meets their row locks and PostgreSQL
    may pick it as a deadlock victim. That is the test's leftovers, not a product failure: wait a
    moment and truncate again."""
    from sqlalchemy.exc import OperationalError

    tables = ", ".join(f'"{name}"' for name in names)
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '10s'"))
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except OperationalError:
            if attempt == attempts:
                raise
            time.sleep(0.5 * attempt)


@pytest.fixture
def futon_config() -> object:
    from domain.core.business_config import load_config

    return load_config(REPO_ROOT / "examples" / "futon-store.toml")


@pytest.fixture(scope="session")
def celery_app(services: dict[str, str]) -> object:
    """The product's Celery app, on the test broker (isolated by a key prefix)."""
    from workers.app import app

    return app


@pytest.fixture
def celery_worker(celery_app: object, db_session: object) -> Iterator[object]:
    """A real worker consuming every queue from the real broker, in threads of this process."""
    from celery.contrib.testing.worker import start_worker

    from celeryconfig import QUEUES

    with start_worker(celery_app, pool="threads", concurrency=4, perform_ping_check=False,  # type: ignore[arg-type]
                      loglevel="WARNING", queues=list(QUEUES), shutdown_timeout=60) as worker:
        yield worker


def wait_for(predicate: object, timeout_s: float = 20.0, interval_s: float = 0.05) -> object:
    """Poll ``predicate`` until it returns something truthy (work done by another thread/process)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()  # type: ignore[operator]
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s (last value {value!r})")
        time.sleep(interval_s)


@pytest.fixture
def catalog(db_session: object, futon_config: object) -> object:
    """The example store's configuration loaded into the test database."""
    from domain.stock.catalog import apply_config

    apply_config(db_session, futon_config)  # type: ignore[arg-type]
    db_session.commit()  # type: ignore[attr-defined]
    return futon_config
