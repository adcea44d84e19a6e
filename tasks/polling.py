"""Polling tasks: beat dispatches due stores; each poll runs under the store's lease."""
from __future__ import annotations

import logging

from celery import shared_task

from domain import polling, sync
from domain.db import get_sessionmaker
from domain.models import Store
from tasks.base import DbTask, send_all
from tasks.connections import connector_for
from tasks.followups import offer
from tasks.stock import evaluate

log = logging.getLogger(__name__)
#: SKUs per detection message: one message per stored group of pages (``domain.sync``).
EVALUATE_CHUNK = 1000


@shared_task(base=DbTask, bind=True, name="tasks.polling.dispatch_due")
def dispatch_due(self: DbTask) -> int:
    """Start a poll for every store whose interval has passed (each slot once, even with two beats)."""
    with self.unit_of_work() as uow:
        for due in polling.claim_due(uow.session):
            uow.enqueue(poll_store, due.store_id, due.full)
        count = len(uow.after_commit)
    return count


@shared_task(base=DbTask, bind=True, name="tasks.polling.poll_store")
def poll_store(self: DbTask, store_id: int, full: bool = False) -> str:
    with get_sessionmaker()() as session:
        store = session.get(Store, store_id)
        if store is None or not store.enabled:
            return f"store {store_id}: gone or disabled"
        connector = connector_for(store)
        stock_cursor, order_cursor, sells = store.stock_cursor, store.order_cursor, store.sells

    def hand_on(sku_ids: list[int]) -> None:
        send_all([(evaluate, (sku_ids[i:i + EVALUATE_CHUNK],), {})
                  for i in range(0, len(sku_ids), EVALUATE_CHUNK)])

    def follow_up(backorder_ids: list[int]) -> None:
        send_all([(offer, (backorder_id,), {}) for backorder_id in backorder_ids])

    report = sync.poll(get_sessionmaker(), connector, store_id, owner=self.request.id or "inline", full=full,
                       stock_cursor=stock_cursor, order_cursor=order_cursor, on_changed=hand_on,
                       fetch_orders=sells, on_backorders=follow_up)
    log.info(report.summary())
    return report.summary()
