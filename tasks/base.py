"""The task base class: owns the database transaction and sends follow-on tasks only after commit.

A task that enqueued its successor before committing could have the successor run before the
row it needs exists, or run at all when the transaction then rolled back. Here a task body asks
``self.unit_of_work()`` for a session and an ``enqueue`` that buffers messages until the commit
succeeds. Messages carry IDs only, and every piece of work is a row a sweeper finds again, so a
message lost between commit and send delays work and never loses it.
"""
from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from celery import Task
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from connectors.errors import TransientError
from domain.db import get_sessionmaker
from domain.models import DeadLetter

log = logging.getLogger(__name__)


@dataclass
class UnitOfWork:
    """A session plus the messages to send once it has committed."""

    session: Session
    after_commit: list[tuple[Task, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def enqueue(self, task: Task, *args: Any, **options: Any) -> None:
        self.after_commit.append((task, args, options))


class DbTask(Task):
    """Base for every task: late ack, retried on transient failures, dead-lettered when exhausted."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    autoretry_for = (TransientError, OperationalError)
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 8

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        session = get_sessionmaker()()
        uow = UnitOfWork(session)
        try:
            yield uow
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        send_all(uow.after_commit)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Every retry is spent (or the error is not retryable): keep the task as a dead letter."""
        record_dead_letter(self.name, task_id, list(args or ()), dict(kwargs or {}), exc)


def send_all(messages: list[tuple[Task, tuple[Any, ...], dict[str, Any]]]) -> None:
    for task, args, options in messages:
        try:
            task.apply_async(args=args, **options)
        except Exception:  # the broker is down: the sweepers find the rows again
            log.exception("could not enqueue %s%r after commit; its sweeper will pick it up", task.name, args)


def record_dead_letter(task_name: str, task_id: str, args: list[Any], kwargs: dict[str, Any],
                       exc: BaseException) -> None:
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    try:
        from sqlalchemy.dialects.postgresql import insert

        with get_sessionmaker()() as session:
            session.execute(insert(DeadLetter).values(
                task_name=task_name, task_id=task_id, args=args, kwargs=kwargs, error=error[:4000],
            ).on_conflict_do_nothing(index_elements=["task_id"]))
            session.commit()
    except Exception:
        log.exception("could not record dead letter for %s[%s]: %s", task_name, task_id, error)
    log.error("task %s[%s] failed for good: %s", task_name, task_id, error)
