"""Detection: changed SKUs in, transitions stored, staff alerted, channels told."""
from __future__ import annotations

from celery import shared_task

from domain.core import effects
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.stages import Stage
from domain.stock import digest
from flows.detection import detect
from flows.effects import perform
from flows.spine import dispatch, for_ids
from tasks.base import DbTask


@shared_task(base=DbTask, bind=True, name="tasks.stock.evaluate")
def evaluate(self: DbTask, sku_ids: list[int]) -> int:
    """Detection owed after a poll page or a receipt (``evaluate`` rows of ``domain.core.effects``)."""
    return perform(self, effects.EVALUATE, sku_ids, detect)


@shared_task(base=DbTask, bind=True, name="tasks.stock.daily_digest")
def daily_digest(self: DbTask) -> int:
    """Beat calls this often; it sends the day's digest once, after the configured local time."""
    config = current_config()
    with self.unit_of_work() as uow:
        outbox_ids = digest.send_digest(uow.session, utcnow(), config.timezone, config.notifications.digest_time,
                                        config.notifications.routes)
        dispatch(uow, for_ids(Stage.DELIVER, outbox_ids))
    return len(outbox_ids)
