"""Detection inside a caller's transaction: transitions, alerts, pushes, fills and planning owed."""
from __future__ import annotations

from domain.core import effects
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.stages import Stage
from domain.journey import customer_journey
from domain.stock import detection, pushes, transition_alerts
from flows import effects as effect_rows
from flows.pushes import enqueue_due
from flows.spine import dispatch, for_ids
from flows.work import UnitOfWork


def detect(uow: UnitOfWork, sku_ids: list[int]) -> int:
    """Detection for these SKUs inside the caller's transaction: transitions, their audit rows and
    alerts are stored set-based, and every follow-on task is queued for after the commit (alert
    messages first, so staff hear before channels are pushed). Returns the number of transitions.

    Every effect it decides is a row in this same transaction: the pushes (``channel_pushes``),
    the restock fill of SKUs with waiting backorders and purchase planning (``pending_effects``),
    so a message lost after the commit delays them and never loses them.

    Every SKU here changed (a figure, an order, a receipt), so every selling store that lists it is
    due a push of its new sellable figure, whether or not the state moved: ``domain.stock.pushes``
    coalesces them per SKU × store. Our own pushes' echoes never get here (``domain.stock.levels``).

    ``tasks.inbound.drain`` calls this in its own transaction, so a webhook's alert needs no task
    hop of its own; the poll sends ``evaluate`` instead, which overlaps with its next download.
    """
    config = current_config()
    transitions = detection.evaluate(uow.session, sku_ids, config.policy.atp_drift_tolerance,
                                     detection.store_tolerances(uow.session, config.drift_tolerances()))
    dispatch(uow, for_ids(Stage.DELIVER, transition_alerts.alerts_for_transitions(uow.session, transitions,
                                                                       config.notifications.routes)))
    now = utcnow()
    enqueue_due(uow, pushes.schedule(uow.session, list(sku_ids), now), now)
    effect_rows.record(uow, effects.FILL, customer_journey.has_waiting(uow.session, list(sku_ids)))
    effect_rows.record(uow, effects.PLAN, sku_ids)
    return len(transitions)
