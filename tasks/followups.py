"""The customer journey's tasks: offer the choices, refund or credit, fill on restock."""
from __future__ import annotations

import logging
from datetime import timedelta
from celery import shared_task

from connectors.base import Connector
from connectors.errors import PermanentError, TransientError
from connectors.types import RefundRequest
import domain.core.env_settings as runtime_settings
from domain.core import audit, effects
from domain.core.clock import utcnow
from domain.core.models import Backorder, Order, OrderLine, Store
from domain.core.stages import FollowUp, Stage
from domain.journey import customer_journey, substitutes
from flows.connections import connector_for
from flows.effects import perform
from flows.spine import dispatch, for_ids, task_name
from tasks.base import DbTask, UnitOfWork

log = logging.getLogger(__name__)


@shared_task(base=DbTask, bind=True, name="tasks.followups.offer")
def offer(self: DbTask, backorder_id: int) -> int:
    with self.unit_of_work() as uow:
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
    """Refund or credit a cancelled line through its store; the idempotency key makes a retry safe."""
    with self.unit_of_work() as uow:
        backorder = uow.session.get(Backorder, backorder_id)
        if backorder is None or backorder.resolution_ref or backorder.state not in (
                "cancelled_by_customer", "auto_cancelled"):
            return "nothing to do"
        line = uow.session.get(OrderLine, backorder.order_line_id)
        assert line is not None
        order = uow.session.get(Order, line.order_id)
        assert order is not None
        store = uow.session.get(Store, order.store_id)
        assert store is not None
        connector = connector_for(store)
        request = RefundRequest(
            order_external_id=order.external_id, line_external_id=line.external_id, quantity=backorder.quantity,
            amount_cents=line.price_cents * backorder.quantity
            + (backorder.credit_bonus_cents if backorder.resolution == "store_credit" else 0),
            currency=order.currency,
            reason=f"Backorder cancelled ({backorder.state.replace('_', ' ')})",
            idempotency_key=f"backorder-{backorder.id}", customer_email=order.email)
        resolution = backorder.resolution or "refund"
    result = connector.credit_line(request) if resolution == "store_credit" else connector.refund_line(request)
    with self.unit_of_work() as uow:
        backorder = uow.session.get(Backorder, backorder_id, with_for_update={"key_share": True})
        assert backorder is not None
        backorder.resolution_ref = result.external_id
        audit.record(uow.session, "followups", f"backorder.{result.kind}", "backorder", backorder_id,
                     amount_cents=result.amount_cents, external_id=result.external_id, ok=result.ok,
                     status_code=result.status_code)
        settings = runtime_settings.current()
        dispatch(uow, customer_journey.notify_customer(
            uow.session, backorder, "backorder_cancelled", "1", settings, utcnow(),
            resolution=result.kind, amount_cents=result.amount_cents, reference=result.external_id))
    return f"{result.kind} {result.external_id}"


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
    """Order the customer's substitute on their store, then settle the price difference.

    Each step is claimed under a lease and recorded in its own transaction, so no database lock
    is held across a platform call and a second worker never runs the same step; a retry of a
    step whose answer was lost finds the platform record by the row's idempotency key."""
    routes = runtime_settings.current().config.notifications.routes
    connector: Connector | None = None
    unusable: PermanentError | None = None
    with self.unit_of_work() as uow:
        claim = substitutes.claim(uow.session, substitute_order_id, utcnow())
        if claim is not None:
            try:
                connector = connector_for(substitutes.store_of(uow.session, claim.store_id))
            except PermanentError as exc:  # a credential not set: the claim stands, staff are told below
                unusable = exc
    if claim is None:
        return "nothing to do"
    try:
        if unusable is not None:
            raise unusable
        assert connector is not None
        if claim.state == "pending":
            placed = connector.place_substitute(claim.order)
            with self.unit_of_work() as uow:
                substitutes.record_placed(uow.session, substitute_order_id, placed, utcnow())
        refund = connector.refund_line(claim.refund) if claim.refund else None
    except PermanentError as exc:
        with self.unit_of_work() as uow:
            dispatch(uow, substitutes.record_failure(
                uow.session, substitute_order_id, str(exc), utcnow(), permanent=True, routes=routes))
        log.error("substitute order %s needs staff: %s", substitute_order_id, exc)
        return "failed"
    except TransientError as exc:
        with self.unit_of_work() as uow:
            substitutes.record_failure(uow.session, substitute_order_id, str(exc), utcnow(), permanent=False,
                                       routes=routes)
        raise
    with self.unit_of_work() as uow:
        substitutes.record_settled(uow.session, substitute_order_id, utcnow(),
                                   refund.external_id if refund else None,
                                   refund.amount_cents if refund else None)
    return "settled"


@shared_task(base=DbTask, bind=True, name="tasks.followups.substitutes_stranded")
def substitutes_stranded(self: DbTask, limit: int = 200) -> int:
    """Beat: re-send ``place_substitute`` for unfinished substitute orders nobody is working on."""
    with self.unit_of_work() as uow:
        ids = substitutes.stranded(uow.session, utcnow(), UNOFFERED_AFTER, limit)
        dispatch(uow, for_ids(Stage.PLACE_SUBSTITUTE, ids))
    if ids:
        log.warning("re-sent %d unfinished substitute order(s): %s", len(ids), ids[:20])
    return len(ids)
