"""/healthz: a real write, the broker, live workers by heartbeat and on-time sweeps, each check
bounded; /readyz: the write and the broker only. 503 naming what failed, never a hang."""
import os
import time
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session


@pytest.fixture
def client(services: dict[str, str], db_session: Session) -> Iterator[TestClient]:
    from workers.web import create_app

    yield TestClient(create_app())


def _point_at(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    from domain.core.db import reset_engine
    from domain.core.env_settings import get_settings

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    reset_engine()


@pytest.fixture
def restore_settings() -> Iterator[None]:
    yield
    from domain.core.db import reset_engine
    from domain.core.env_settings import get_settings

    get_settings.cache_clear()
    reset_engine()


def _alive(db_session: Session) -> None:
    """Every queue's worker beats and every clock sweep just ran, as running processes record them."""
    from celeryconfig import QUEUES
    from domain.core import liveness
    from workers.health import clock_schedule
    from workers.heartbeats import Heartbeat

    assert Heartbeat("worker@test", [q for q in QUEUES if q != "notify"], 10).beat()
    assert Heartbeat("notify@test", ["notify"], 10).beat()
    with db_session.bind.begin() as connection:  # type: ignore[union-attr]
        for task, interval in clock_schedule().items():
            liveness.record_sweep(connection, task, interval)


def test_healthy_when_written_brokered_beating_and_swept(client: TestClient, db_session: Session) -> None:
    _alive(db_session)
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert {name: check["status"] for name, check in checks.items()} == {
        "database": "ok", "broker": "ok", "workers": "ok", "sweeps": "ok", "dead_letter_spool": "ok"}
    written = db_session.execute(text(
        "SELECT count(*) FROM health_probes WHERE written_at > now() - interval '1 minute'"))
    assert written.scalar() == 1, "the database check is a real write"


def test_no_worker_heartbeat_is_503_but_ready(client: TestClient, db_session: Session) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    workers = response.json()["checks"]["workers"]
    assert workers["ok"] is False and "notify" in workers["detail"] and "no heartbeat ever" in workers["detail"]
    assert client.get("/readyz").status_code == 200, "the receiver itself can still store webhooks"


def test_a_stale_heartbeat_or_a_missing_queue_is_503(client: TestClient, db_session: Session) -> None:
    _alive(db_session)
    db_session.execute(text("UPDATE worker_heartbeats SET seen_at = now() - interval '10 minutes'"
                            " WHERE name = 'notify@test'"))
    db_session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    detail = response.json()["checks"]["workers"]["detail"]
    assert detail.startswith("no live worker for queue(s) notify"), detail


def test_a_late_sweep_is_503_naming_it(client: TestClient, db_session: Session) -> None:
    _alive(db_session)
    db_session.execute(text("UPDATE sweep_runs SET last_run_at = now() - interval '1 hour'"
                            " WHERE task = 'tasks.timers.fire_due'"))
    db_session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    sweeps = response.json()["checks"]["sweeps"]
    assert sweeps["ok"] is False and "tasks.timers.fire_due last ran 3600s ago" in sweeps["detail"], sweeps
    assert "dispatch_due" not in sweeps["detail"]


def test_a_read_only_database_is_503(client: TestClient, db_session: Session, services: dict[str, str]) -> None:
    _alive(db_session)
    admin_url = services["database_url"].replace("postgresql+psycopg://", "postgresql://")
    name = services["database_name"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        try:
            response = client.get("/healthz")
            ready = client.get("/readyz")
        finally:
            admin.execute("SET default_transaction_read_only = off")
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    assert response.status_code == 503 and ready.status_code == 503
    database = response.json()["checks"]["database"]
    assert database["ok"] is False and "read-only" in database["detail"], database
    assert response.json()["checks"]["workers"]["ok"] is True, "reads still work: only the write check fails"


def test_a_check_that_hangs_is_reported_as_failing_within_the_deadline(
        client: TestClient, db_session: Session, services: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """An exclusive lock on the probe's table stands in for a stalled write: the check gives up
    at its deadline and the other checks still answer."""
    _alive(db_session)
    monkeypatch.setenv("HEALTH_CHECK_TIMEOUT_S", "1")
    url = services["database_url"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as locker:
        locker.execute("LOCK TABLE health_probes IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
        locker.rollback()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["status"] in {"timeout", "failing"} and checks["database"]["ok"] is False
    assert checks["workers"]["ok"] is True and checks["sweeps"]["ok"] is True
    assert elapsed < 2.5, f"the answer took {elapsed:.2f}s with a 1 s check deadline"


def test_database_down_is_503_with_reason(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                          restore_settings: None) -> None:
    from sqlalchemy.engine import make_url

    from workers.embedded import free_port

    url = make_url(os.environ["DATABASE_URL"])
    _point_at(monkeypatch, DATABASE_URL=url.set(host="127.0.0.1", port=free_port())
              .render_as_string(hide_password=False))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False
    assert "OperationalError" in body["checks"]["database"]["detail"]
    assert body["checks"]["broker"]["ok"] is True


def test_broker_down_is_503_with_reason(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                        restore_settings: None) -> None:
    from workers.embedded import free_port

    _point_at(monkeypatch, BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert client.get("/readyz").status_code == 503


def test_a_heartbeat_with_the_database_down_is_skipped_not_fatal(monkeypatch: pytest.MonkeyPatch,
                                                                 restore_settings: None,
                                                                 services: dict[str, str]) -> None:
    from sqlalchemy.engine import make_url

    from workers.embedded import free_port
    from workers.heartbeats import Heartbeat

    url = make_url(os.environ["DATABASE_URL"])
    _point_at(monkeypatch, DATABASE_URL=url.set(host="127.0.0.1", port=free_port())
              .render_as_string(hide_password=False))
    assert Heartbeat("worker@down", ["default"], 10).beat() is False


def test_a_sweeper_run_by_a_real_worker_records_its_run(celery_worker: object, db_session: Session) -> None:
    from tasks.inbound import redrive
    from tests.conftest import wait_for

    redrive.delay()
    row = wait_for(lambda: db_session.execute(text(
        "SELECT interval_s, runs FROM sweep_runs WHERE task = 'tasks.inbound.redrive'")).first())
    assert row == (60.0, 1)


def test_status_shows_heartbeats_and_late_sweeps(db_session: Session) -> None:
    from click.testing import CliRunner

    from workers.cli import main

    _alive(db_session)
    db_session.execute(text("UPDATE sweep_runs SET last_run_at = now() - interval '1 hour'"
                            " WHERE task = 'tasks.polling.dispatch_due'"))
    db_session.commit()
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    assert "Worker notify@test" in result.output and "last heartbeat" in result.output
    assert "Late sweeps: tasks.polling.dispatch_due last ran 3600s ago" in result.output
    import json

    data = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)
    assert {w["name"] for w in data["liveness"]["workers"]} == {"worker@test", "notify@test"}
    late = data["liveness"]["late_sweeps"]
    assert len(late) == 1 and late[0].startswith("tasks.polling.dispatch_due last ran"), late


def test_a_spooled_dead_letter_is_reported_but_not_a_503(client: TestClient, db_session: Session,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead letter the database refused needs a human, not a platform backing off: ``/healthz``
    names it and still answers 200 while everything else is well."""
    from domain.core import spool

    _alive(db_session)
    monkeypatch.setattr(spool, "pending_count", lambda: 2)
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    check = response.json()["checks"]["dead_letter_spool"]
    assert check["ok"] is False and "2 dead letter(s) spooled" in check["detail"]
