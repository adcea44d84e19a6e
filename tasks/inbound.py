"""Draining the inbox: stored webhooks applied in batches, with detection and the first customer
notice for what changed done in the same transaction (one task hop from webhook to delivery)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from sqlalchemy import select

from domain import alerts, coalesce, effects, inbox, journey
from domain.clock import utcnow
from domain.config import current_config
from domain.inbound import apply_events
from domain.models import Store
from tasks.base import DbTask, UnitOfWork
from tasks.connections import connector_for
from tasks.followups import enqueue_follow_ups, offer
from tasks.notify import deliver
from tasks.stock import detect, evaluate

log = logging.getLogger(__name__)
BATCH_SIZE = 1000
"""Inbox rows claimed and applied per transaction. bench.batching (20,000 events, 2 processes)
measured 11.7–12.7 × the no-op task rate at 1,000 against 9.9–11.3 × at 500: one statement per
step serves twice the events, and a burst's transaction is still a fraction of a second."""


@shared_task(base=DbTask, bind=True, name="tasks.inbound.drain")
def drain(self: DbTask, source: str, max_batches: int = 20) -> int:
    """Apply pending events of one store in batches; re-queue itself if more remain."""
    total = 0
    coalesce.clear(source)
    for _ in range(max_batches):
        with self.unit_of_work() as uow:
            store = uow.session.scalar(select(Store).where(Store.key == source))
            if store is None:
                log.error("inbox has events for unknown store %s", source)
                return total
            events = inbox.claim_pending(uow.session, source, BATCH_SIZE)
            if not events:
                return total
            result = apply_events(uow.session, store.id, connector_for(store), events)
            total += len(events)
            for backorder_id in result.backorder_ids:  # customer notices first: they queue first
                inline(uow, offer, (backorder_id,), offer_now, self, uow, backorder_id)
            if result.changed_sku_ids:
                changed = sorted(result.changed_sku_ids)
                inline(uow, evaluate, (changed,), detect, uow, changed, self,
                       fallback=lambda: effects.record(uow.session, effects.EVALUATE, changed, utcnow()))
            routes = current_config().notifications.routes
            for event_id, reason in result.quarantined:
                for outbox_id in quarantine_alert(uow.session, store, event_id, reason, routes):
                    uow.enqueue(deliver, outbox_id)
        if len(events) < BATCH_SIZE:
            return total
    drain.delay(source, max_batches)
    return total


def offer_now(task: DbTask, uow: UnitOfWork, backorder_id: int) -> None:
    """``tasks.followups.offer``'s work in the caller's transaction."""
    enqueue_follow_ups(task, uow, journey.offer(uow.session, backorder_id, journey._current_settings()))


def inline(uow: UnitOfWork, task: Task, args: tuple[Any, ...], step: Callable[..., object], *step_args: Any,
           fallback: Callable[[], None] | None = None) -> None:
    """Do a follow-on task's work in the drain's own transaction, so it costs no task hop: an
    alert or a customer notice is queued for delivery the moment the batch commits.

    The step runs in a savepoint. When it fails, its writes and queued messages are dropped and
    the task is queued instead, exactly as before: the task retries, and dead-letters, on its own,
    and the batch is still applied. ``fallback`` records the queued work as a row in the batch's
    transaction (detection's ``evaluate`` row), so a lost message is swept, not lost.
    """
    queued = len(uow.after_commit)
    try:
        with uow.session.begin_nested():
            step(*step_args)
    except Exception:
        del uow.after_commit[queued:]
        log.warning("%s%r failed inside the drain; queued as a task instead", task.name, args, exc_info=True)
        if fallback is not None:
            fallback()
        uow.enqueue(task, *args)


def quarantine_alert(session: object, store: Store, event_id: int, reason: str, routes: object) -> list[int]:
    context = {"event": "channel.push_failed", "sku": "-", "title": f"webhook #{event_id} from {store.name}",
               "from_state": "", "to_state": "quarantined", "available": 0, "threshold": 0, "open_demand": 0,
               "locations": [], "channels": [store.name],
               "detail": f"Webhook quarantined, not applied: {reason}. Add the SKU or location to the "
                         f"configuration, then run `backorders redrive --inbox {event_id}`."}
    return alerts.raise_alert(session, event="channel.push_failed", dedupe_key=f"quarantine:{event_id}",  # type: ignore[arg-type]
                              message=context["detail"], context=context, routes=routes,  # type: ignore[arg-type]
                              store_id=store.id)


@shared_task(base=DbTask, bind=True, name="tasks.inbound.redrive")
def redrive(self: DbTask) -> int:
    """Beat: wake a drain for every store whose pending events have waited too long."""
    with self.unit_of_work() as uow:
        sources = inbox.sources_with_stranded(uow.session)
        for source in sources:
            uow.enqueue(drain, source)
    return len(sources)
