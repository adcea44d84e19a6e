"""Outbound notifications: one outbox row in, at most one provider request per attempt out.

The sending lives in ``flows.delivery`` (claim, send, record: three short transactions) and the
settling of ``unknown`` rows in ``flows.reconcile``; these tasks hand them ids and map the
outcome to Celery: send again later without spending a retry, spend a retry, or done.
"""
from __future__ import annotations

import logging

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from domain.core.clock import utcnow
from domain.messaging import replay
from flows import delivery, reconcile as reconciling
from flows.delivery import Attempt
from tasks.base import DbTask

__all__ = ["deliver", "purge_replay_tokens", "reconcile", "redrive"]

log = logging.getLogger(__name__)


def attempt(task: DbTask) -> Attempt:
    """This try as the task's retry policy counts it, with the backoff (full jitter) it would wait."""
    return Attempt(task.request.retries, task.max_retries, float(get_exponential_backoff_interval(
        factor=int(task.retry_backoff), retries=task.request.retries, maximum=int(task.retry_backoff_max),
        full_jitter=bool(task.retry_jitter))))


@shared_task(base=DbTask, bind=True, name="tasks.notify.deliver")
def deliver(self: DbTask, outbox_id: int) -> str:
    """Send one outbox row once; returns what happened (for logs and tests)."""
    outcome = delivery.deliver(self, outbox_id, attempt(self))
    if outcome.retry_in_s is not None:
        raise self.retry(countdown=outcome.retry_in_s, exc=outcome.error)
    if outcome.again_in_s is not None:  # pacing or a short wait: no retry spent
        self.signature_from_request(countdown=outcome.again_in_s, retries=self.request.retries).apply_async()
    return outcome.status


@shared_task(base=DbTask, bind=True, name="tasks.notify.redrive")
def redrive(self: DbTask, limit: int = 500) -> int:
    """Beat's sweeper: re-enqueue pending rows the broker lost and deferred rows now due.

    ``unknown`` rows are never picked up here: they wait for a provider callback or an operator.
    Rows stuck in ``sending`` past the task time limit become ``unknown`` for the same reason.
    """
    with self.unit_of_work() as uow:
        ids, stale = delivery.redrive(uow, utcnow(), limit)
    if stale:
        log.warning("outbox rows %s were stuck in sending; marked unknown", stale)
    return len(ids)


@shared_task(base=DbTask, bind=True, name="tasks.notify.reconcile")
def reconcile(self: DbTask, limit: int = 100) -> dict[str, int]:
    """Beat: settle ``unknown`` rows from the provider's own records (``flows.reconcile``)."""
    return reconciling.reconcile_due(self, limit)


@shared_task(base=DbTask, bind=True, name="tasks.notify.purge_replay_tokens")
def purge_replay_tokens(self: DbTask, limit: int = 10_000) -> int:
    """Beat's sweeper: delete callback tokens past their validity window (``domain.messaging.replay``)."""
    with self.unit_of_work() as uow:
        return replay.purge_expired(uow.session, limit=limit)
