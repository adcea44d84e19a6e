"""The customer journey's tasks: offer the choices, refund or credit, fill on restock, place a
substitute. The platform calls live in ``flows.refunds`` and ``flows.substitutes``."""
from __future__ import annotations

import logging
from datetime import timedelta
from celery import shared_task

import domain.core.env_settings as runtime_settings
from domain.core import blocked_writes, effects
from domain.core.clock import utcnow
from domain.core.stages import FollowUp, Stage
from domain.journey import customer_journey, substitutes
from flows import refunds, substitutes as substitute_orders
from flows.effects import perform
from flows.spine import dispatch, for_ids, task_name
from tasks.base import DbTask, UnitOfWork

log = logging.getLogger(__name__)


@shared_task(base=DbTask, bind=True, name="tasks.followups.offer")
def offer(self: DbTask, backorder_id: int) -> int:
    with self.unit_of_work() as uow:
        store = blocked_writes.store_of_backorder(uow.session, backorder_id)
        if blocked_writes.held_back(uow.session, store, "backorder.offer", "backorder", backorder_id):
            return 0  # read-only: the customer hears once the store is switched on (the offer sweeper)
        follow_ups = customer_journey.offer(uow.session, backorder_id, runtime_settings.current())
        dispatch(uow, follow_ups)
    return len(follow_ups)


@shared_task(base=DbTask, bind=True, name="tasks.followups.fill")
def fill(self: DbTask, sku_id: int) -> int:
    """Restock fill owed by a detection run (a ``fill`` row of ``domain.core.effects``)."""
    def work(uow: UnitOfWork, sku_ids: list[int]) -> int:
        follow_ups: list[FollowUp] = []
        for one in sku_ids:
            follow_ups += customer_journey.fill(uow.session, one, runtime_settings.current())
        dispatch(uow, follow_ups)
        return len(follow_ups)

    return perform(self, effects.FILL, [sku_id], work)


@shared_task(base=DbTask, bind=True, name="tasks.followups.refund")
def refund(self: DbTask, backorder_id: int) -> str:
    """Refund or credit a cancelled line through its store (``flows.refunds``); the idempotency
    key makes a retry safe."""
    return refunds.refund(self, backorder_id)


#: A backorder recorded this long ago and still without its first notice lost its ``offer``.
UNOFFERED_AFTER = timedelta(minutes=2)


@shared_task(base=DbTask, bind=True, name="tasks.followups.offer_stranded")
def offer_stranded(self: DbTask, limit: int = 500) -> int:
    """Beat: re-send ``offer`` for backorders whose first notice never went out (the message was
    lost with the broker or a killed worker). Safe to repeat: ``offer`` acts only on ``open``."""
    with self.unit_of_work() as uow:
        ids = customer_journey.unoffered(uow.session, utcnow(), UNOFFERED_AFTER, limit, offer_task=task_name(Stage.OFFER))
        dispatch(uow, for_ids(Stage.OFFER, ids))
    if ids:
        log.warning("re-sent the first notice of %d backorder(s) whose offer was lost: %s", len(ids), ids[:20])
    return len(ids)


@shared_task(base=DbTask, bind=True, name="tasks.followups.place_substitute")
def place_substitute(self: DbTask, substitute_order_id: int) -> str:
    """Order the customer's substitute on their store, then settle the price difference
    (``flows.substitutes``); a transient platform error is retried."""
    return substitute_orders.place(self, substitute_order_id)


@shared_task(base=DbTask, bind=True, name="tasks.followups.substitutes_stranded")
def substitutes_stranded(self: DbTask, limit: int = 200) -> int:
    """Beat: re-send ``place_substitute`` for unfinished substitute orders nobody is working on."""
    with self.unit_of_work() as uow:
        ids = substitutes.stranded(uow.session, utcnow(), UNOFFERED_AFTER, limit)
        dispatch(uow, for_ids(Stage.PLACE_SUBSTITUTE, ids))
    if ids:
        log.warning("re-sent %d unfinished substitute order(s): %s", len(ids), ids[:20])
    return len(ids)
