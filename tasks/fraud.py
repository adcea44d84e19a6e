"""Fraud hints: score stored orders (``domain.fraud.scoring``) and sweep up the ones a lost message
left unscored. Scoring is its own stage after the order is stored, never part of ingest."""
from __future__ import annotations

from celery import shared_task

from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.stages import Stage
from domain.fraud import scoring
from flows.spine import dispatch, for_ids
from tasks.base import DbTask


@shared_task(base=DbTask, bind=True, name="tasks.fraud.score")
def score(self: DbTask, order_ids: list[int]) -> int:
    """Score these orders (new, or their inputs changed); returns how many were scored now."""
    config = current_config()
    if not config.fraud.enabled:
        return 0
    scored = 0
    with self.unit_of_work() as uow:
        for order_id in sorted(set(order_ids)):  # one order after another, in one order: no lock cycles
            found = scoring.score_order(uow.session, order_id, config)
            if found is not None and found.rescored:
                scored += 1
                dispatch(uow, found.follow_ups)
    return scored


@shared_task(base=DbTask, bind=True, name="tasks.fraud.sweep")
def sweep(self: DbTask) -> int:
    """Beat: send recent orders still unscored (their message was lost) or changed since their score."""
    with self.unit_of_work() as uow:
        order_ids = scoring.unscored(uow.session, current_config(), utcnow())
        dispatch(uow, for_ids(Stage.FRAUD_SCORE, order_ids))
    return len(order_ids)
