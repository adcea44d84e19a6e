"""Detection: changed SKUs in, transitions stored, staff alerted, channels told."""
from __future__ import annotations

from celery import shared_task

from domain import alerts, detection, digest, effects, journey, pushes
from domain.clock import utcnow
from domain.config import current_config
from tasks import effects as effect_rows
from tasks.base import DbTask, UnitOfWork
from tasks.channels import enqueue_due
from tasks.notify import deliver


@shared_task(base=DbTask, bind=True, name="tasks.stock.evaluate")
def evaluate(self: DbTask, sku_ids: list[int]) -> int:
    """Detection owed after a poll page or a receipt (``evaluate`` rows of ``domain.effects``)."""
    return effect_rows.perform(self, effects.EVALUATE, sku_ids, lambda uow, ids: detect(uow, ids, self))


def detect(uow: UnitOfWork, sku_ids: list[int], task: DbTask | None = None) -> int:
    """Detection for these SKUs inside the caller's transaction: transitions, their audit rows and
    alerts are stored set-based, and every follow-on task is queued for after the commit (alert
    messages first, so staff hear before channels are pushed). Returns the number of transitions.

    Every effect it decides is a row in this same transaction: the pushes (``channel_pushes``),
    the restock fill of SKUs with waiting backorders and purchase planning (``pending_effects``),
    so a message lost after the commit delays them and never loses them.

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
    owner = task or evaluate
    effect_rows.record(owner, uow, effects.FILL, journey.has_waiting(uow.session, list(sku_ids)))
    effect_rows.record(owner, uow, effects.PLAN, sku_ids)
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
