"""Write-back: make one channel show the truth for one SKU; coalesced, paced, audited, retried,
alerted on failure.

The work is a ``channel_pushes`` row (``domain.stock.pushes``); messages carry ids only. ``push_store``
drains one store's due rows (one coalesced message per store, however many SKUs changed); each
push (``flows.pushes.run_push``) claims its row, plans the figures from the truth, writes them and
records what it wrote; the finished push sends the next one (``push_due``): one push in flight per
SKU × store, the latest figure wins. Retries live on the row too (attempts, backoff, last error);
``sweep`` (beat) wakes the stores whose rows' messages were lost.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from domain.core import coalesce
from domain.core.clock import utcnow
from domain.core.stages import FollowUp, Stage
from domain.stock import pushes
from flows.pushes import alert_push_failed, enqueue_due, run_push, wake_key
from flows.spine import dispatch, for_ids
from tasks.base import DbTask

__all__ = ["enqueue_due", "push", "push_due", "push_store", "sweep", "wake_key"]

log = logging.getLogger(__name__)

#: Pushes one ``push_store`` runs before it hands on to a fresh message.
STORE_BATCH = 500


class PushTask(DbTask):
    """A push that failed for good raises a staff alert: a channel left unsynced is never silent."""

    abstract = True

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        super().on_failure(exc, task_id, args, kwargs, einfo)
        sku_id, store_id = args[0], args[1]
        alert_push_failed(self, sku_id, store_id, f"{type(exc).__name__}: {exc}", task_id)


@shared_task(base=PushTask, bind=True, name="tasks.channels.push")
def push(self: PushTask, sku_id: int, store_id: int) -> int:
    """Push this SKU to this store now: the caller knows its truth moved (a restock fill)."""
    with self.unit_of_work() as uow:
        pushes.request(uow.session, sku_id, store_id, utcnow())
    return run_push(self, sku_id, store_id)


@shared_task(base=PushTask, bind=True, name="tasks.channels.push_due")
def push_due(self: PushTask, sku_id: int, store_id: int) -> int:
    """Run the row's push if it is due and none is in flight; returns the number of writes."""
    return run_push(self, sku_id, store_id)


@shared_task(base=DbTask, bind=True, name="tasks.channels.push_store")
def push_store(self: DbTask, store_id: int, limit: int = STORE_BATCH) -> int:
    """Run every due push of one store, oldest first; come back for the next that falls due.

    One message per store however many SKUs changed (a full sync changes thousands): the rows are
    the work, this task drains them, as ``tasks.inbound.drain`` drains the inbox. The wake-up flag
    is cleared before the first look, so a row scheduled after that always wakes a new drain.
    """
    coalesce.clear(wake_key(store_id))
    handled = 0
    while handled < limit:
        with self.unit_of_work() as uow:
            sku_ids = pushes.due_for_store(uow.session, store_id, utcnow(), min(50, limit - handled))
        if not sku_ids:
            break
        for sku_id in sku_ids:
            run_push(self, sku_id, store_id)
        handled += len(sku_ids)
    with self.unit_of_work() as uow:
        now = utcnow()
        next_at = pushes.next_for_store(uow.session, store_id, now)
        if next_at is not None:
            dispatch(uow, [FollowUp(Stage.PUSH_STORE, (store_id, limit))],
                     countdown=max(0.0, (next_at - now).total_seconds()))
    return handled


@shared_task(base=DbTask, bind=True, name="tasks.channels.sweep")
def sweep(self: DbTask) -> int:
    """Beat: wake the stores whose pushes are overdue with none in flight (their message was lost)
    or whose push died holding its lease."""
    with self.unit_of_work() as uow:
        stranded = pushes.stranded(uow.session, utcnow())
        dispatch(uow, for_ids(Stage.PUSH_STORE, sorted({store_id for _sku, store_id in stranded})))
    if stranded:
        log.warning("re-sent %d stranded channel push(es): %s", len(stranded), stranded[:20])
    return len(stranded)
