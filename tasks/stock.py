"""Detection: changed SKUs in, transitions stored, staff alerted, channels told."""
from __future__ import annotations

from celery import shared_task

from domain import alerts, detection, digest, journey, pushes
from domain.clock import utcnow
from domain.config import current_config
from tasks.base import DbTask, UnitOfWork
from tasks.channels import enqueue_due
from tasks.followups import fill
from tasks.notify import deliver
from tasks.purchasing import plan_for_skus


@shared_task(base=DbTask, bind=True, name="tasks.stock.evaluate")
def evaluate(self: DbTask, sku_ids: list[int]) -> int:
    with self.unit_of_work() as uow:
        return detect(uow, sku_ids)


def detect(uow: UnitOfWork, sku_ids: list[int]) -> int:
    """Detection for these SKUs inside the caller's transaction: transitions, their audit rows and
    alerts are stored set-based, and every follow-on task is queued for after the commit (alert
    messages first, so staff hear before channels are pushed). Returns the number of transitions.

    Every SKU here changed (a figure, an order, a receipt), so every selling store that lists it is
    due a push of its new sellable figure, whether or not the state moved: ``domain.pushes``
    coalesces them per SKU × store. Our own pushes' echoes never get here (``domain.stock``).

    ``tasks.inbound.drain`` calls this in its own transaction, so a webhook's alert needs no task
    hop of its own; the poll sends ``evaluate`` instead, which overlaps with its next download.
    """
    config = current_config()
    transitions = detection.evaluate(uow.session, sku_ids, config.policy.atp_drift_tolerance,
                                     detection.store_tolerances(uow.session, config.drift_tolerances()))
    for outbox_id in alerts.alerts_for_transitions(uow.session, transitions, config.notifications.routes):
        uow.enqueue(deliver, outbox_id)
    now = utcnow()
    enqueue_due(uow, pushes.schedule(uow.session, list(sku_ids), now), now)
    for sku_id in journey.has_waiting(uow.session, list(sku_ids)):
        uow.enqueue(fill, sku_id)
    uow.enqueue(plan_for_skus, sorted(set(sku_ids)))
    return len(transitions)


@shared_task(base=DbTask, bind=True, name="tasks.stock.daily_digest")
def daily_digest(self: DbTask) -> int:
    """Beat calls this often; it sends the day's digest once, after the configured local time."""
    config = current_config()
    with self.unit_of_work() as uow:
        outbox_ids = digest.send_digest(uow.session, utcnow(), config.timezone, config.notifications.digest_time,
                                        config.notifications.routes)
        for outbox_id in outbox_ids:
            uow.enqueue(deliver, outbox_id)
    return len(outbox_ids)
