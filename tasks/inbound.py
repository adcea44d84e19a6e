"""Draining the inbox: stored webhooks applied in batches, with detection and the first customer
notice for what changed done in the same transaction (one task hop from webhook to delivery)."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import shared_task
from sqlalchemy import select

import domain.core.env_settings as runtime_settings
from domain.core import coalesce, effects, log_context
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.models import Store
from domain.core.stages import FollowUp, Stage
from domain.fraud import scoring
from domain.journey import customer_journey, shipped
from domain.messaging import alerts
from domain.payments import store_refunds
from domain.returns import store_returns
from domain.stock import poll_schedule, quarantine_alerts, webhook_inbox
from flows import metrics
from flows.connections import connector_for
from flows.detection import detect
from flows.inbound import Fetched, apply_events, fetch_named
from flows.spine import dispatch, for_ids, send_now
from flows.stage_events import announce
from tasks.base import DbTask, UnitOfWork

log = logging.getLogger(__name__)
trail = log_context.get_logger(__name__)
BATCH_SIZE = 1000
"""Inbox rows claimed and applied per transaction. bench.batching (20,000 events, 2 processes)
measured 11.7–12.7 × the no-op task rate at 1,000 against 9.9–11.3 × at 500: one statement per
step serves twice the events, and a burst's transaction is still a fraction of a second."""


@shared_task(base=DbTask, bind=True, name="tasks.inbound.drain")
def drain(self: DbTask, source: str, max_batches: int = 20) -> int:
    """Apply pending events of one store in batches; re-queue itself if more remain.

    Events that name their resources by id only are left pending by a batch, fetched once it has
    committed (``flows.inbound.fetch_named``: never inside a transaction) and applied by the next."""
    total = 0
    coalesce.clear(source)
    fetched: Fetched = {}
    for _ in range(max_batches):
        with self.unit_of_work() as uow:
            store = uow.session.scalar(select(Store).where(Store.key == source))
            if store is None:
                log.error("inbox has events for unknown store %s", source)
                return total
            events = webhook_inbox.claim_pending(uow.session, source, BATCH_SIZE)
            if not events:
                return total
            applied_at = utcnow()
            connector = connector_for(store)
            result = apply_events(uow.session, store.id, connector, events, fetched)
            waiting = {item.event.id for item in result.deferred}
            events = [event for event in events if event.id not in waiting]
            total += len(events)
            metrics.drained(source, ((applied_at - event.received_at).total_seconds() for event in events))
            if events:
                trail.info("inbox.applied", events=len(events), first_id=events[0].id, last_id=events[-1].id,
                           changed_skus=len(result.changed_sku_ids), backorders=len(result.backorder_ids),
                           quarantined=len(result.quarantined),
                           webhook_correlation_ids=sorted({str(e.payload.get(log_context.CORRELATION_ID))
                                                           for e in events[:50] if isinstance(e.payload, dict)
                                                           and e.payload.get(log_context.CORRELATION_ID)}) or None)
            for backorder_id in result.backorder_ids:  # customer notices first: they queue first
                inline(self, uow, FollowUp(Stage.OFFER, (backorder_id,)), offer_now, uow, backorder_id)
            if result.changed_sku_ids:
                changed = sorted(result.changed_sku_ids)
                inline(self, uow, FollowUp(Stage.EVALUATE, (changed,)), detect, uow, changed,
                       fallback=lambda: effects.record(uow.session, effects.EVALUATE, changed, utcnow()))
            if result.read_now:  # notifications named what changed: read it now (the beat hands the slot out)
                poll_schedule.due_now(uow.session, store.id)
                dispatch(uow, [FollowUp(Stage.DISPATCH_POLLS, ())])
            if result.fulfillments:  # the store shipped backordered lines: their customers hear of it
                dispatch(uow, shipped.ship_fulfilled(uow.session, store.id, result.fulfillments,
                                                     runtime_settings.current(), utcnow()))
            if result.refunds:  # refunds made at the store: kept on their orders, ours not paid twice
                store_refunds.record(uow.session, store, result.refunds, utcnow())
            if result.returns:  # the store's own returns: ours opened, closed or noted to match
                taken = store_returns.apply(uow.session, current_config(), store, result.returns, utcnow())
                dispatch(uow, taken.follow_ups)
                result.quarantined += taken.quarantined
            if result.order_ids and scoring.enabled():  # scored after this commit, not inside it
                dispatch(uow, for_ids(Stage.FRAUD_SCORE, result.order_ids))
            routes = current_config().notifications.routes
            for event_id, reason in result.quarantined:
                dispatch(uow, for_ids(Stage.DELIVER, quarantine_alert(uow.session, store, event_id, reason, routes)))
        if result.deferred:
            fetched.update(fetch_named(connector, result.deferred))
            continue
        if len(events) < BATCH_SIZE:
            return total
    send_now([FollowUp(Stage.DRAIN, (source, max_batches))], self.app)
    return total


def offer_now(uow: UnitOfWork, backorder_id: int) -> None:
    """The ``offer`` stage's work in the caller's transaction."""
    dispatch(uow, customer_journey.offer(uow.session, backorder_id, runtime_settings.current()))


def inline(task: DbTask, uow: UnitOfWork, follow_up: FollowUp, step: Callable[..., object], *step_args: Any,
           fallback: Callable[[], None] | None = None) -> None:
    """Do a follow-on task's work in the drain's own transaction, so it costs no task hop: an
    alert or a customer notice is queued for delivery the moment the batch commits.

    The step runs in a savepoint. When it fails, its writes and queued messages are dropped and
    the task is queued instead, exactly as before: the task retries, and dead-letters, on its own,
    and the batch is still applied. ``fallback`` records the queued work as a row in the batch's
    transaction (detection's ``evaluate`` row), so a lost message is swept, not lost.

    The stage is announced as it ends (``flows.stage_events``: a ``task-stage`` event and a
    ``stage=…`` log line), so Flower and the logs show it although no task of its name ran.
    """
    queued = len(uow.after_commit)
    ids = list(follow_up.args[0]) if isinstance(follow_up.args[0], list) else list(follow_up.args)
    started = time.perf_counter()
    try:
        with uow.session.begin_nested():
            step(*step_args)
    except Exception:
        del uow.after_commit[queued:]
        log.warning("%s%r failed inside the drain; queued as a task instead", follow_up.stage.value,
                    follow_up.args, exc_info=True)
        if fallback is not None:
            fallback()
        dispatch(uow, [follow_up])
        announce(task, follow_up.stage, ids, "fell back", time.perf_counter() - started)
        return
    announce(task, follow_up.stage, ids, "done", time.perf_counter() - started)


def quarantine_alert(session: object, store: Store, event_id: int, reason: str, routes: object) -> list[int]:
    """The ``webhook_quarantined`` alert (``domain.stock.quarantine_alerts``): what the webhook named,
    the fix and the redrive command."""
    return quarantine_alerts.quarantine_alert(session, store, event_id, reason, routes)  # type: ignore[arg-type]


@shared_task(base=DbTask, bind=True, name="tasks.inbound.redrive")
def redrive(self: DbTask) -> int:
    """Beat: wake a drain for every store whose pending events have waited too long."""
    with self.unit_of_work() as uow:
        sources = webhook_inbox.sources_with_stranded(uow.session)
        dispatch(uow, [FollowUp(Stage.DRAIN, (source,)) for source in sources])
    return len(sources)
