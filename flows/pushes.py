"""Write-back orchestration: one SKU × store push (plan from the truth, pace, write, record), and
waking a store's push drain when its rows fall due (``domain.stock.pushes`` holds the rows).

``tasks.channels`` holds the thin tasks; what they run is here: each push claims its row, plans
the figures from the truth (``domain.stock.propagation``), writes them in as few product updates as the
platform allows, and on success records what it wrote (so the store's echo of it is recognised)
and the delay it measured. Changes that arrived while it ran leave the row due, and the finished
push dispatches the next one (``push_due``). A Redis flag per store coalesces wake-ups, as for
the inbox: a store whose drain is already on its way needs no second message.
"""
from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import select

from connectors.base import Capability, StatusWriter, require
from connectors.errors import ConnectorError, TransientError
from connectors.types import ListingRef
from domain.core import audit, blocked_writes, coalesce, log_context
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.db import session_scope
from domain.core.models import ChannelListing, Sku, Store, StoreLocation
from domain.core.ratelimit import get_limiter
from domain.core.stages import FollowUp, Stage
from domain.messaging import alerts
from domain.stock import propagation, pushes
from flows import metrics
from flows.connections import connector_for
from flows.spine import dispatch, for_ids
from flows.work import UnitOfWork

trail = log_context.get_logger(__name__)
#: Failed attempts of one push before staff are alerted and the row waits for the next change.
MAX_ATTEMPTS = 8
#: Longest single pause for a pacing token inside the task (it waits again until granted).
MAX_PACING_SLEEP_S = 5.0


class PushRunner(Protocol):
    """What a push needs of its task (``tasks.base.DbTask``): transactions, sending after one has
    committed, and keeping a dead letter."""

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]: ...

    def send(self, follow_ups: list[FollowUp]) -> None: ...

    def keep_dead_letter(self, stage: Stage, task_id: str, args: list[Any], exc: BaseException) -> str: ...


def wake_key(store_id: int) -> str:
    return f"push:{store_id}"


def enqueue_due(uow: UnitOfWork, due: list[pushes.Due], now: datetime) -> None:
    """Wake one ``push_store`` per store with rows that just became due, when the first is due;
    a store whose drain is already on its way (its flag stands) needs no second one."""
    first: dict[int, datetime] = {}
    for row in due:
        first[row.store_id] = min(first.get(row.store_id, row.due_at), row.due_at)
    if not first:
        return
    # the flag lives about as long as the drain's countdown, so an unconsumed one soon lapses
    ttl_s = max(first.values()).timestamp() - now.timestamp() + 2.0
    wanted = set(coalesce.should_wake_many((wake_key(store_id) for store_id in sorted(first)), ttl_s))
    for store_id, due_at in sorted(first.items()):
        if wake_key(store_id) in wanted:
            dispatch(uow, [FollowUp(Stage.PUSH_STORE, (store_id,))],
                     countdown=max(0.0, (due_at - now).total_seconds()))


def alert_push_failed(task: PushRunner, sku_id: int, store_id: int, reason: str, cause: str) -> None:
    """Staff hear of a push that failed for good: one alert per cause, sent once it is stored."""
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
    task.send(for_ids(Stage.DELIVER, outbox_ids))


def run_push(task: PushRunner, sku_id: int, store_id: int) -> int:
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
        log_context.bind(store=store_key, sku=uow.session.scalar(select(Sku.code).where(Sku.id == sku_id)))
        # a back office (``sells = false``) is told the backorder status, not figures
        status = _status_write(uow.session, sku_id, store) if store is not None and not store.sells else None
        planned = propagation.plan_store(uow.session, sku_id, store_id, now) if status is None else None
        connector, setup_error = None, None
        written: list[tuple[int, int, int]] = []
        wanted = store is not None and planned is not None and bool(planned.pushes) and not propagation.already_shown(
            planned, pushes.last_levels(uow.session, sku_id, store_id),
            pushes.last_backorder(uow.session, sku_id, store_id))
        if wanted and planned is not None and blocked_writes.held_back(
                uow.session, store, "channel.push", "sku", sku_id, backorder=planned.backorder,
                levels={_level_key(k): v for k, v in planned.levels().items()}):
            wanted = False  # read-only: recorded, not written; the row is released below
        if wanted and store is not None and planned is not None:
            try:
                connector = connector_for(store)
            except ConnectorError as exc:  # e.g. its credentials are not set: staff must act
                setup_error = exc
            else:
                written = _written(planned, connector.stock_per_location, _default_location(uow.session, store_id))
    if status is not None:
        return _push_status(task, claimed, store_key, status)
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
        for result in results:
            metrics.pushed(store_key, "ok" if result.ok else "refused")
            trail.info("channel.pushed", ok=result.ok, status_code=result.status_code, backorder=planned.backorder,
                       levels={_level_key(k): v for k, v in result.levels.items()})
        pushes.save_levels(uow.session, sku_id, store_id, written, done)
        next_at = pushes.finish(uow.session, claimed, done, len(results), planned.backorder)
        if next_at is not None:
            dispatch(uow, [FollowUp(Stage.PUSH_DUE, (sku_id, store_id))],
                     countdown=max(0.0, (next_at - done).total_seconds()))
    return len(results)


@dataclass(frozen=True)
class StatusWrite:
    """What one back-office status push writes: ``connector`` None when there is nothing to write
    (or it is held back), ``error`` when the store cannot take it (credentials, platform)."""

    backorder: bool
    listing: ListingRef | None = None
    connector: Any = None
    error: ConnectorError | None = None


def _status_write(session: Any, sku_id: int, store: Store) -> StatusWrite:
    """A back office's copy of the SKU's backorder status (seed §1.3: the ERP reflects it too),
    due when the SKU went into or out of BACKORDER since the last write (``domain.stock.pushes``
    schedules only those), held back while the store is read-only; a platform without a place for
    it is refused by name (``Capability.BACKORDER_STATUS``)."""
    code, state = session.execute(select(Sku.code, Sku.state).where(Sku.id == sku_id)).one()
    backorder = state == "BACKORDER"
    listing = session.scalar(select(ChannelListing).where(ChannelListing.sku_id == sku_id,
                                                          ChannelListing.store_id == store.id))
    if listing is None or backorder == bool(pushes.last_backorder(session, sku_id, store.id)) \
            or blocked_writes.held_back(session, store, "channel.push", "sku", sku_id, backorder=backorder):
        return StatusWrite(backorder)
    ref = ListingRef(sku=code, external_id=listing.external_id, inventory_item_id=listing.inventory_item_id)
    try:
        connector = connector_for(store)
        require(connector, Capability.BACKORDER_STATUS)
    except ConnectorError as exc:  # credentials not set, or a platform that has no such field
        return StatusWrite(backorder, ref, error=exc)
    return StatusWrite(backorder, ref, connector)


def _push_status(task: PushRunner, claimed: pushes.Claim, store_key: str, status: StatusWrite) -> int:
    """Write the status between two transactions, on the row's lease, retries and alerts."""
    if status.error is not None:
        _failed(task, claimed, store_key, status.error)
        return 0
    if status.connector is None or status.listing is None:
        return _finish(task, claimed, 0, None, sample=False)
    try:
        result = cast(StatusWriter, status.connector).write_backorder_status(status.listing, status.backorder)
    except (ConnectorError, ValueError) as exc:
        _failed(task, claimed, store_key, exc)
        return 0
    metrics.pushed(store_key, "ok" if result.ok else "refused")
    with task.unit_of_work() as uow:
        audit.record(uow.session, "sync", "erp.backorder_status", "sku", claimed.sku_id, store=store_key,
                     backorder=status.backorder, ok=result.ok, status_code=result.status_code, detail=result.detail,
                     request=result.request)
    return _finish(task, claimed, 1, status.backorder, sample=False)


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
    """Where a store's readings without a location land (``domain.stock.levels``): its ``default``."""
    mapping = dict(session.execute(select(StoreLocation.external_id, StoreLocation.location_id)
                                   .where(StoreLocation.store_id == store_id)).all())
    return mapping.get("default") or (min(mapping.values()) if mapping else None)


def _finish(task: PushRunner, claimed: pushes.Claim, writes: int, backorder: bool | None, sample: bool = True) -> int:
    with task.unit_of_work() as uow:
        now = utcnow()
        next_at = pushes.finish(uow.session, claimed, now, writes, backorder, sample=sample)
        if next_at is not None:
            dispatch(uow, [FollowUp(Stage.PUSH_DUE, (claimed.sku_id, claimed.store_id))],
                     countdown=max(0.0, (next_at - now).total_seconds()))
    return writes


def _pace(platform: str, store_key: str, calls: int) -> None:
    """Take one token per request from the store's fleet-wide bucket (``domain.core.ratelimit``); the
    connector's own pacer still follows the platform's headers within this process."""
    limiter = get_limiter()
    for _ in range(calls):
        while True:
            wait = limiter.acquire(platform, bucket=f"push:{store_key}")
            if wait <= 0:
                break
            time.sleep(min(wait, MAX_PACING_SLEEP_S))


def _failed(task: PushRunner, claimed: pushes.Claim, store_key: str, exc: BaseException) -> None:
    """Transient failures come back after a backoff, up to ``MAX_ATTEMPTS``; then, or at once for
    a refusal that retrying cannot change, staff are alerted, a dead letter is kept and the row
    waits for the next change (or ``backorders redrive``)."""
    retry = isinstance(exc, TransientError) and claimed.attempts + 1 < MAX_ATTEMPTS
    reason = f"{type(exc).__name__}: {exc}"
    metrics.pushed(store_key, "failed")
    trail.warning("channel.push_failed", error=reason[:500], retrying=retry, attempts=claimed.attempts + 1)
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
        task.keep_dead_letter(Stage.PUSH, cause, [claimed.sku_id, claimed.store_id], exc)
        alert_push_failed(task, claimed.sku_id, claimed.store_id, reason, cause)
