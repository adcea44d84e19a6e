"""The task base class: follow-on tasks are sent only after commit; exhausted tasks become dead letters."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import AuditLog, DeadLetter
from tests.conftest import wait_for


def _register_test_tasks(app: object) -> dict[str, object]:
    from domain.core import audit
    from tasks.base import DbTask

    tasks: dict[str, object] = getattr(app, "_test_tasks", {})
    if tasks:
        return tasks

    @app.task(base=DbTask, bind=True, name="tests.follow_on")  # type: ignore[attr-defined]
    def follow_on(self: DbTask, marker: str) -> None:
        with self.unit_of_work() as uow:
            audit.record(uow.session, "test", "follow_on", "marker", marker)

    @app.task(base=DbTask, bind=True, name="tests.first")  # type: ignore[attr-defined]
    def first(self: DbTask, marker: str, fail_after_enqueue: bool) -> None:
        with self.unit_of_work() as uow:
            audit.record(uow.session, "test", "first", "marker", marker)
            uow.enqueue(follow_on, marker)
            if fail_after_enqueue:
                raise ValueError("boom after enqueue")

    @app.task(base=DbTask, bind=True, name="tests.always_fails", max_retries=2, retry_backoff=False,
              default_retry_delay=0, autoretry_for=(ConnectionError,))  # type: ignore[attr-defined]
    def always_fails(self: DbTask) -> None:
        raise ConnectionError("provider unreachable")

    tasks = {"first": first, "follow_on": follow_on, "always_fails": always_fails}
    app._test_tasks = tasks  # type: ignore[attr-defined]
    return tasks


def _actions(session: Session, marker: str) -> list[str]:
    session.expire_all()
    return sorted(session.scalars(select(AuditLog.action).where(AuditLog.subject_id == marker)))


def test_follow_on_runs_after_commit(celery_app: object, db_session: Session) -> None:
    tasks = _register_test_tasks(celery_app)
    from celery.contrib.testing.worker import start_worker

    from celeryconfig import QUEUES

    with start_worker(celery_app, pool="threads", concurrency=2, perform_ping_check=False,  # type: ignore[arg-type]
                      loglevel="WARNING", queues=list(QUEUES), shutdown_timeout=60):
        tasks["first"].delay("ok-1", False)  # type: ignore[attr-defined]
        tasks["first"].delay("rolled-back", True)  # type: ignore[attr-defined]
        tasks["always_fails"].delay()  # type: ignore[attr-defined]
        assert wait_for(lambda: _actions(db_session, "ok-1") == ["first", "follow_on"])
        wait_for(lambda: db_session.scalar(select(func.count()).select_from(DeadLetter)) == 2)
    assert _actions(db_session, "rolled-back") == [], "a rolled-back task sends nothing and stores nothing"
    dead = {d.task_name: d for d in db_session.scalars(select(DeadLetter))}
    assert sorted(dead) == ["tests.always_fails", "tests.first"]
    assert "provider unreachable" in dead["tests.always_fails"].error
    assert dead["tests.first"].args == ["rolled-back", True]
