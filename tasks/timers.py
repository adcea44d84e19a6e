"""The clock's hand: beat calls ``fire_due`` and every due timer row fires once, in batches."""
from __future__ import annotations

import logging

from celery import shared_task

import domain.cases.sla  # noqa: F401  (registers the case SLA timer handler)
import domain.chargebacks.deadlines  # noqa: F401  (registers the dispute deadline and reminder handlers)
import domain.journey.customer_journey  # noqa: F401  (registers the backorder timer handlers)
import domain.purchasing.merchandising  # noqa: F401  (registers the escalation of an auto-cancel)
import domain.purchasing.vendor_loop  # noqa: F401  (registers the purchase-order timer handlers)
import domain.stock.subscription_renewals  # noqa: F401  (registers the webhook subscription renewal)
import domain.shipping.rules  # noqa: F401  (registers the stuck-shipment timer handler)
from domain.core import timers
from domain.core.stages import FollowUp, Stage
from flows.spine import dispatch, send_now
from tasks.base import DbTask

log = logging.getLogger(__name__)
BATCH_SIZE = 200


@shared_task(base=DbTask, bind=True, name="tasks.timers.fire_due")
def fire_due(self: DbTask, max_batches: int = 50) -> int:
    """Fire due timers; each batch is one transaction, so a crash re-offers only that batch.

    Re-queues itself when batches remain, rather than looping for minutes inside one task.
    """
    fired = 0
    for _ in range(max_batches):
        with self.unit_of_work() as uow:
            due = timers.claim_due(uow.session, limit=BATCH_SIZE)
            for timer in due:
                dispatch(uow, timers.fire(uow.session, timer))
            fired += len(due)
        if len(due) < BATCH_SIZE:
            return fired
    send_now([FollowUp(Stage.FIRE_TIMERS, (max_batches,))], self.app)
    return fired
