"""Write-back: make one channel show the truth for one SKU; coalesced, paced, audited, retried,
alerted on failure.

The work is a ``channel_pushes`` row (``domain.pushes``); messages carry ids only. ``push_store``
drains one store's due rows (one coalesced message per store, however many SKUs changed); each
push claims its row, plans the figures from the truth (``domain.propagation``), writes them in as
few product updates as the platform allows, and on success records what it wrote (so the store's
echo of it is recognised) and the delay it measured. Changes that arrived while it ran leave the
row due, and the finished push sends the next one (``push_due``): one push in flight per SKU ×
store, the latest figure wins. Retries live on the row too (attempts, backoff, last error);
``sweep`` (beat) wakes the stores whose rows' messages were lost.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from celery import shared_task
from sqlalchemy import select

from connectors.errors import ConnectorError, TransientError
from domain import alerts, audit, coalesce, propagation, pushes
from domain.clock import utcnow
from domain.config import current_config
from domain.db import session_scope
from domain.models import Sku, Store, StoreLocation
from domain.ratelimit import get_limiter
from domain.stages import FollowUp, Stage
from flows.connections import connector_for
from flows.pushes import enqueue_due, wake_key
from flows.spine import dispatch, for_ids, messages, task_name
from tasks.base import DbTask, record_dead_letter, send_all

__all__ = ["enqueue_due", "push", "push_due", "push_store", "run_push", "sweep", "wake_key"]

log = logging.getLogger(__name__)

#: Failed attempts of one push before staff are alerted and the row waits for the next change.
MAX_ATTEMPTS = 8
#: Longest single pause for a pacing token inside the task (it waits again until granted).
MAX_PACING_SLEEP_S = 5.0
#: Pushes one ``push_store`` runs before it hands on to a fresh message.
STORE_BATCH = 500


class PushTask(DbTask):
    """A push that failed for good raises a staff alert: a channel left unsynced is never silent."""

    abstract = True

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        super().on_failure(exc, task_id, args, kwargs, einfo)
        sku_id, store_id = args[0], args[1]
        alert_push_failed(sku_id, store_id, f"{type(exc).__name__}: {exc}", task_id)


def alert_push_failed(sku_id: int, store_id: int, reason: str, cause: str) -> None:
    config = current_config()
    with session_scope() as session:
        sku, store = session.get(Sku, sku_id), session.get(Store, store_id)
        code, channel = sku.code if sku else str(sku_id), store.name if store else str(store_id)
        outbox_ids = alerts.raise_ops_alert(
            session, "channel.push_failed", f"push_failed:{cause}", config.notifications.routes,
            detail=reason[:500], message=f"could not update {channel} for {code}: {reason[:300]}",
            sku_id=sku_id, store_id=store_id, sku=code, title=sku.title if sku else "",
            from_state=sku.state if sku else "", to_state=sku.state if sku else "",
            threshold=sku.threshold if sku else 0, channels=[channel])
    send_all(messages(for_ids(Stage.DELIVER, outbox_ids)))


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


def run_push(task: DbTask, sku_id: int, store_id: int) -> int:
    """Claim one SKU × store row and push it; returns the number of writes (0 when the row was not
    due, already in flight, or the store already shows the figures)."""
    now = utcnow()
    with task.unit_of_work() as uow:
        claimed = pushes.claim(uow.session, sku_id, store_id, now)
        if claimed is None:
            due_at, lease_until = pushes.next_due(uow.session, sku_id, store_id)
            if due_at is not None and due_at > now and (lease_until is None or lease_until < now):
                # early (a clock apart from ours): come back when it is due; the sweeper would too
                dispatch(uow, [FollowUp(Stage.PUSH_DUE, (sku_id, store_id))], countdown=(due_at - now).total_seconds())
            return 0
        store = uow.session.get(Store, store_id)
        store_key = store.key if store else str(store_id)
        platform = store.platform if store else ""
        planned = propagation.plan_store(uow.session, sku_id, store_id, now)
        connector, setup_error = None, None
        written: list[tuple[int, int, int]] = []
        if store is not None and planned is not None and planned.pushes and not propagation.already_shown(
                planned, pushes.last_levels(uow.session, sku_id, store_id),
                pushes.last_backorder(uow.session, sku_id, store_id)):
            try:
                connector = connector_for(store)
            except ConnectorError as exc:  # e.g. its credentials are not set: staff must act
                setup_error = exc
            else:
                written = _written(planned, connector.stock_per_location, _default_location(uow.session, store_id))
    if setup_error is not None:
        _failed(task, claimed, store_key, setup_error)
        return 0
    if connector is None or planned is None:
        return _finish(task, claimed, 0, None, sample=False)
    with task.unit_of_work() as uow:
        # its own transaction: recording a reading locks pushed levels before push rows, never after
        pushes.expect_echo(uow.session, sku_id, store_id, written, now)
    levels = planned.levels()
    try:
        _pace(platform, store_key, connector.write_calls(levels))
        results = connector.push_levels(planned.listing, levels, planned.backorder)
    except (ConnectorError, ValueError) as exc:
        _failed(task, claimed, store_key, exc)
        return 0
    done = utcnow()
    with task.unit_of_work() as uow:
        for result in results:
            audit.record(uow.session, "sync", "channel.push", "sku", sku_id, store=store_key,
                         location=",".join(_level_key(k) for k in result.levels) or None,
                         levels={_level_key(k): v for k, v in result.levels.items()},
                         available=sum(result.levels.values()), backorder=planned.backorder,
                         before_buffer={p.listing.location_external_id: p.before_buffer for p in planned.pushes},
                         promised=planned.promised, buffer=planned.buffer.as_dict(),
                         ok=result.ok, status_code=result.status_code, detail=result.detail, request=result.request)
        pushes.save_levels(uow.session, sku_id, store_id, written, done)
        next_at = pushes.finish(uow.session, claimed, done, len(results), planned.backorder)
        if next_at is not None:
            dispatch(uow, [FollowUp(Stage.PUSH_DUE, (sku_id, store_id))],
                     countdown=max(0.0, (next_at - done).total_seconds()))
    return len(results)


def _level_key(key: str | None) -> str:
    """A written level's key for the audit row: the platform location, or ``product`` for one
    figure per product (WooCommerce)."""
    return "product" if key is None else key


def _written(planned: propagation.StorePlan, per_location: bool, default_location: int | None
             ) -> list[tuple[int, int, int]]:
    """(our location id, figure, units withheld) as the store will report them back: per location,
    or one figure for the product at the store's default location."""
    if per_location or not planned.pushes:
        return [(p.location_id, p.available, p.withheld) for p in planned.pushes]
    location = default_location if default_location is not None else planned.pushes[0].location_id
    return [(location, sum(p.available for p in planned.pushes), sum(p.withheld for p in planned.pushes))]


def _default_location(session: Any, store_id: int) -> int | None:
    """Where a store's readings without a location land (``domain.stock``): its ``default``."""
    mapping = dict(session.execute(select(StoreLocation.external_id, StoreLocation.location_id)
                                   .where(StoreLocation.store_id == store_id)).all())
    return mapping.get("default") or (min(mapping.values()) if mapping else None)


def _finish(task: DbTask, claimed: pushes.Claim, writes: int, backorder: bool | None, sample: bool = True) -> int:
    with task.unit_of_work() as uow:
        now = utcnow()
        next_at = pushes.finish(uow.session, claimed, now, writes, backorder, sample=sample)
        if next_at is not None:
            dispatch(uow, [FollowUp(Stage.PUSH_DUE, (claimed.sku_id, claimed.store_id))],
                     countdown=max(0.0, (next_at - now).total_seconds()))
    return writes


def _pace(platform: str, store_key: str, calls: int) -> None:
    """Take one token per request from the store's fleet-wide bucket (``domain.ratelimit``); the
    connector's own pacer still follows the platform's headers within this process."""
    limiter = get_limiter()
    for _ in range(calls):
        while True:
            wait = limiter.acquire(platform, bucket=f"push:{store_key}")
            if wait <= 0:
                break
            time.sleep(min(wait, MAX_PACING_SLEEP_S))


def _failed(task: DbTask, claimed: pushes.Claim, store_key: str, exc: BaseException) -> None:
    """Transient failures come back after a backoff, up to ``MAX_ATTEMPTS``; then, or at once for
    a refusal that retrying cannot change, staff are alerted, a dead letter is kept and the row
    waits for the next change (or ``backorders redrive``)."""
    retry = isinstance(exc, TransientError) and claimed.attempts + 1 < MAX_ATTEMPTS
    reason = f"{type(exc).__name__}: {exc}"
    with task.unit_of_work() as uow:
        now = utcnow()
        due_at, attempts = pushes.fail(uow.session, claimed, now, reason, retry)
        audit.record(uow.session, "sync", "channel.push_failed", "sku", claimed.sku_id, store=store_key,
                     error=str(exc)[:500], status_code=getattr(exc, "status_code", None), attempts=attempts,
                     retrying=retry)
        if due_at is not None:
            wait = max(0.0, (due_at - now).total_seconds())
            if isinstance(exc, TransientError) and exc.retry_after_s:
                wait = max(wait, exc.retry_after_s)
            dispatch(uow, [FollowUp(Stage.PUSH_DUE, (claimed.sku_id, claimed.store_id))], countdown=wait)
    if not retry:
        # as any task that failed for good: a dead letter `backorders status` lists and
        # `backorders redrive` re-sends as ``tasks.channels.push`` once the cause is fixed
        cause = f"push:{claimed.sku_id}:{claimed.store_id}:{int(claimed.claimed_at.timestamp() * 1_000_000)}"
        record_dead_letter(task_name(Stage.PUSH), cause, [claimed.sku_id, claimed.store_id], {}, exc)
        alert_push_failed(claimed.sku_id, claimed.store_id, reason, cause)
