"""The task base class: owns the database transaction and sends follow-on tasks only after commit.

A task that enqueued its successor before committing could have the successor run before the
row it needs exists, or run at all when the transaction then rolled back. Here a task body asks
``self.unit_of_work()`` for a session; ``flows.spine.dispatch(uow, follow_ups)`` buffers the
messages until the commit succeeds. Messages carry IDs only, and every piece of work is a row a sweeper finds again, so a
message lost between commit and send delays work and never loses it.

Database errors are retried when :mod:`domain.core.db_errors` calls them transient (read-only,
serialization failure, deadlock, lock or statement timeout, shutdown, a lost connection), with the
same backoff as a connector's transient errors; any other database error fails at once. A dead
letter the database will not take goes to the local spool (:mod:`domain.core.spool`) instead.
"""
from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from celery import Celery, Task
from celery.exceptions import Ignore, Retry
from celery.utils.time import get_exponential_backoff_interval

from connectors.errors import TransientError
from domain.core import db_errors, spool
from domain.core.clock import utcnow
from domain.core.db import get_sessionmaker, session_scope
from domain.core.models import DeadLetter
from domain.core.stages import FollowUp, Stage
from flows import metrics, spine
from flows.work import UnitOfWork

__all__ = ["DbTask", "Standalone", "UnitOfWork", "record_dead_letter", "send_all", "unit_of_work"]
log = logging.getLogger(__name__)


class DbTask(Task):
    """Base for every task: late ack, retried on transient failures, dead-lettered when exhausted."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    autoretry_for = (TransientError,)
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 8

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task; a transient database error is retried with backoff, like a connector's.

        Celery's ``autoretry_for`` matches exception classes, and the class SQLAlchemy gives a
        database error does not say whether waiting helps (``25006`` read-only arrives as
        ``InternalError``, ``23505`` unique violation as ``IntegrityError``, both ``DBAPIError``):
        :func:`domain.core.db_errors.is_transient` reads the SQLSTATE instead.
        """
        try:
            return super().__call__(*args, **kwargs)
        except (Ignore, Retry):
            raise
        except Exception as exc:
            if not db_errors.is_transient(exc) or self.request.called_directly:
                raise
            countdown = get_exponential_backoff_interval(
                factor=int(max(1.0, float(self.retry_backoff))), retries=self.request.retries,
                maximum=self.retry_backoff_max, full_jitter=self.retry_jitter,
            ) if self.retry_backoff else self.default_retry_delay
            log.warning("%s[%s]: database error %s, retry %d of %s in %ss", self.name, self.request.id,
                        db_errors.describe(exc), self.request.retries + 1, self.max_retries, countdown)
            raise self.retry(exc=exc, countdown=countdown) from exc

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        flow = spine.BY_TASK.get(self.name)
        return unit_of_work(self.app, flow.stage if flow else None)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Every retry is spent (or the error is not retryable): keep the task as a dead letter."""
        record_dead_letter(self.name, task_id, list(args or ()), dict(kwargs or {}), exc)

    def send(self, follow_ups: Iterable[FollowUp]) -> None:
        """Send now, for work done in a transaction of its own that has committed already (a
        broker error is logged: the rows are in PostgreSQL and the sweepers find them)."""
        send_all(spine.messages(follow_ups, self.app))

    def keep_dead_letter(self, stage: Stage, task_id: str, args: list[Any], exc: BaseException) -> str:
        """A dead letter for ``stage``'s task, as if it had failed for good (``backorders redrive``
        re-sends it); returns where it was kept."""
        return record_dead_letter(spine.task_name(stage), task_id, args, {}, exc)


Messages = list[tuple[Any, tuple[Any, ...], dict[str, Any]]]


@contextmanager
def unit_of_work(app: Celery | None = None, stage: Stage | None = None,
                 send: Callable[[Messages], None] | None = None) -> Iterator[UnitOfWork]:
    """One session in its own transaction: committed when the block ends, rolled back when it
    raises, closed either way; once it has committed, its ``after_commit`` messages go to ``send``
    (:func:`send_all` unless given)."""
    with session_scope() as session:
        uow = UnitOfWork(session, app=app, stage=stage)
        yield uow
    (send or send_all)(uow.after_commit)


class Standalone:
    """Units of work for a caller with no task (the command line), as ``flows.work.Transactional``:
    each its own transaction, its messages sent once it has committed."""

    def __init__(self, app: Celery | None = None) -> None:
        self.app = app

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        return unit_of_work(self.app)


def send_all(messages: Messages) -> None:
    for task, args, options in messages:
        try:
            task.apply_async(args=args, **options)
        except Exception:  # the broker is down: the sweepers find the rows again
            log.exception("could not enqueue %s%r after commit; its sweeper will pick it up", task.name, args)


def record_dead_letter(task_name: str, task_id: str, args: list[Any], kwargs: dict[str, Any],
                       exc: BaseException) -> str:
    """Keep a task that failed for good: a ``dead_letters`` row, else a line in the local spool.

    Returns where it went (``database`` or ``spool``) for logs and tests.
    """
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    metrics.dead_letter(task_name)
    try:
        from sqlalchemy.dialects.postgresql import insert

        with get_sessionmaker()() as session:
            session.execute(insert(DeadLetter).values(
                task_name=task_name, task_id=task_id, args=args, kwargs=kwargs, error=error[:4000],
            ).on_conflict_do_nothing(index_elements=["task_id"]))
            session.commit()
    except Exception as db_exc:
        entry = {"task_name": task_name, "task_id": task_id, "args": args, "kwargs": kwargs,
                 "error": error[:4000], "failed_at": utcnow().isoformat()}
        try:
            path = spool.write(entry)
        except OSError:  # neither the database nor the disk: the log line is all that is left
            log.critical("task %s[%s] failed for good and its dead letter could be kept nowhere: %r",
                         task_name, task_id, entry, exc_info=True)
            return "log"
        log.error("task %s[%s] failed for good: %s; the dead letter could not be written to the database "
                  "(%s) and was spooled to %s", task_name, task_id, error, db_errors.describe(db_exc), path)
        return "spool"
    log.error("task %s[%s] failed for good: %s", task_name, task_id, error)
    spool.try_import()
    return "database"
