"""Purchasing tasks: plan drafts from detected needs, close due draft windows (beat)."""
from __future__ import annotations

from collections import defaultdict

from celery import shared_task

from domain.core import effects
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.stages import Stage
from domain.purchasing import purchase_orders, scorecards
from flows.effects import perform
from flows.spine import dispatch, for_ids
from tasks.base import DbTask, UnitOfWork


@shared_task(base=DbTask, bind=True, name="tasks.purchasing.plan_for_skus")
def plan_for_skus(self: DbTask, sku_ids: list[int]) -> int:
    """Put the needs among these SKUs on their vendors' drafts; returns the lines added or grown.

    The work is the ``plan`` rows of ``domain.core.effects`` detection recorded. Idempotent: a SKU
    already on an open PO is never ordered twice, so a redelivered message changes nothing.
    Vendors are planned in id order (their rows are the planning locks)."""
    config = current_config()
    now = utcnow()

    def work(uow: UnitOfWork, ids: list[int]) -> int:
        by_vendor: dict[int, list[purchase_orders.Need]] = defaultdict(list)
        for need in purchase_orders.needs_for(uow.session, ids, now):
            by_vendor[need.vendor_id].append(need)
        changed = 0
        for vendor_id in sorted(by_vendor):
            result = purchase_orders.plan(uow.session, vendor_id, by_vendor[vendor_id], config.policy, now,
                                    timezone=config.timezone)
            changed += len(result.added_sku_ids) + len(result.raised_sku_ids)
        return changed

    return perform(self, effects.PLAN, sku_ids, work)


@shared_task(base=DbTask, bind=True, name="tasks.purchasing.close_windows")
def close_windows(self: DbTask) -> int:
    """Beat: close drafts whose window passed; approved ones go to the vendor, the rest to a buyer."""
    config = current_config()
    with self.unit_of_work() as uow:
        closed = purchase_orders.close_due_windows(uow.session, utcnow(), config.policy,
                                              routes=config.notifications.routes)
        dispatch(uow, for_ids(Stage.SEND_PO, sorted(set(closed.approved)
                                                     | set(purchase_orders.approved_unsent(uow.session, utcnow())))))
        dispatch(uow, closed.follow_ups)
    return len(closed.approved) + len(closed.awaiting_approval)


@shared_task(base=DbTask, bind=True, name="tasks.purchasing.send_scorecard")
def send_scorecard(self: DbTask) -> int:
    """Beat calls this often; the vendor scorecard goes to the buyer once per scheduled period
    (``[notifications] scorecard_schedule``); returns the messages queued."""
    config = current_config()
    with self.unit_of_work() as uow:
        outbox_ids = scorecards.send_scorecard(uow.session, utcnow(), config.timezone,
                                               config.notifications.scorecard_schedule, config.name,
                                               config.notifications.routes)
        dispatch(uow, for_ids(Stage.DELIVER, outbox_ids))
    return len(outbox_ids)
