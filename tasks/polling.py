"""Polling tasks: beat dispatches due stores; each poll runs under the store's lease."""
from __future__ import annotations

import logging
import time

from celery import shared_task

from domain.core import log_context
from domain.stock import poll_schedule, sync_results
from flows import metrics
from flows import poll as sync
from domain.core.db import get_sessionmaker
from domain.core.models import Store
from domain.core.stages import FollowUp, Stage
from domain.fraud import scoring
from flows.connections import connector_for
from flows.spine import dispatch, for_ids, messages
from tasks.base import DbTask, send_all

log = logging.getLogger(__name__)
trail = log_context.get_logger(__name__)


@shared_task(base=DbTask, bind=True, name="tasks.polling.dispatch_due")
def dispatch_due(self: DbTask) -> int:
    """Start a poll for every store whose interval has passed (each slot once, even with two beats)."""
    with self.unit_of_work() as uow:
        count = dispatch(uow, [FollowUp(Stage.POLL, (due.store_id, due.full))
                               for due in poll_schedule.claim_due(uow.session)])
    return count


@shared_task(base=DbTask, bind=True, name="tasks.polling.poll_store")
def poll_store(self: DbTask, store_id: int, full: bool = False) -> str:
    with get_sessionmaker()() as session:
        store = session.get(Store, store_id)
        if store is None or not store.enabled:
            return f"store {store_id}: gone or disabled"
        connector = connector_for(store)
        stock_cursor, order_cursor, sells, store_key = store.stock_cursor, store.order_cursor, store.sells, store.key
    log_context.bind(store=store_key)  # until the task ends (``workers.correlation`` restores the context)

    def hand_on(sku_ids: list[int]) -> None:  # each stored group of pages has committed
        send_all(messages(for_ids(Stage.EVALUATE, sku_ids), self.app))

    def follow_up(backorder_ids: list[int]) -> None:
        send_all(messages(for_ids(Stage.OFFER, backorder_ids), self.app))

    def score(order_ids: list[int]) -> None:  # fraud hints, when the file has [fraud]
        send_all(messages(for_ids(Stage.FRAUD_SCORE, order_ids), self.app))

    owner = self.request.id or "inline"
    started = time.monotonic()
    try:
        report = sync.poll(get_sessionmaker(), connector, store_id, owner=owner, full=full,
                           stock_cursor=stock_cursor, order_cursor=order_cursor, on_changed=hand_on,
                           fetch_orders=sells, on_backorders=follow_up,
                           on_orders=score if scoring.enabled() else None)
    except Exception as exc:
        metrics.polled(store_key, full, time.monotonic() - started, 0, "failed")
        keep_failure(store_id, owner, full, exc)
        raise
    seconds = time.monotonic() - started
    metrics.polled(store_key, full, seconds, report.records, "skipped" if report.skipped else "done")
    trail.info("poll.done", full=full, skipped=report.skipped, pages=report.pages, records=report.records,
               changed_skus=len(report.changed_sku_ids), unmatched=report.unknown, orders=report.orders,
               warnings=report.warnings, seconds=round(seconds, 3))
    return report.summary()


def keep_failure(store_id: int, owner: str, full: bool, exc: BaseException) -> None:
    """Record why the poll failed where ``backorders status`` reads it (``domain.stock.sync_results``);
    a database that refuses the row must not hide the poll's own error, so that is only logged."""
    try:
        with get_sessionmaker()() as session, session.begin():
            sync_results.record_failure(session, store_id, owner, full, exc)
    except Exception:  # noqa: BLE001 - the poll's error is the one raised
        log.exception("store %s: could not record the failed poll", store_id)
