"""Placing a customer's chosen substitute on their store, then settling the price difference.

Each step is claimed under a lease and recorded in its own transaction (``domain.journey.substitutes``),
so no database lock is held across a platform call and a second worker never runs the same step;
a retry of a step whose answer was lost finds the platform record by the row's idempotency key.
Errors keep their classes (``connectors.errors``): permanent → the row fails and staff are told;
transient → the failure is recorded and the error propagates, so the task retries it.
"""
from __future__ import annotations

import logging

import domain.core.env_settings as runtime_settings
from connectors.base import Connector
from connectors.errors import PermanentError, TransientError
from domain.core import blocked_writes
from domain.core.clock import utcnow
from domain.journey import substitutes
from flows.connections import connector_for
from flows.spine import dispatch
from flows.work import Transactional

log = logging.getLogger(__name__)


def place(task: Transactional, substitute_order_id: int) -> str:
    """Place and settle one substitute order: ``settled``, ``failed`` (staff told) or ``nothing
    to do``; a transient platform error is raised for the task to retry."""
    routes = runtime_settings.current().config.notifications.routes
    connector: Connector | None = None
    unusable: PermanentError | None = None
    with task.unit_of_work() as uow:
        claim = substitutes.claim(uow.session, substitute_order_id, utcnow())
        if claim is not None:
            store = substitutes.store_of(uow.session, claim.store_id)
            if blocked_writes.held_back(uow.session, store, "substitute.place", "substitute_order",
                                        substitute_order_id, state=claim.state):
                return f"held back: store {store.key} is read-only"
            try:
                connector = connector_for(store)
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
            with task.unit_of_work() as uow:
                substitutes.record_placed(uow.session, substitute_order_id, placed, utcnow())
        refund = connector.refund_line(claim.refund) if claim.refund else None
    except PermanentError as exc:
        with task.unit_of_work() as uow:
            dispatch(uow, substitutes.record_failure(
                uow.session, substitute_order_id, str(exc), utcnow(), permanent=True, routes=routes))
        log.error("substitute order %s needs staff: %s", substitute_order_id, exc)
        return "failed"
    except TransientError as exc:
        with task.unit_of_work() as uow:
            substitutes.record_failure(uow.session, substitute_order_id, str(exc), utcnow(), permanent=False,
                                       routes=routes)
        raise
    with task.unit_of_work() as uow:
        substitutes.record_settled(uow.session, substitute_order_id, utcnow(),
                                   refund.external_id if refund else None,
                                   refund.amount_cents if refund else None)
    return "settled"
