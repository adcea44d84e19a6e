"""Pending effects (``domain.core.effects``) as work: owe one in a decision's transaction, perform one
in a task.

``record`` stores the rows and dispatches the stage that performs them after the commit;
``perform`` is the body of every task that carries out an effect: claim the rows, do the work and
delete the rows in one transaction, give them back if the work fails. The sweeper
(``tasks.effects.sweep``) re-sends what no message claimed within ``EFFECT_SWEEP_AFTER_S``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from domain.core import effects
from domain.core.clock import utcnow
from domain.core.db import session_scope
from domain.core.stages import FollowUp, Stage
from flows.spine import dispatch, for_ids
from flows.work import Transactional, UnitOfWork

log = logging.getLogger(__name__)



def follow_ups(kind: str, sku_ids: Iterable[int]) -> list[FollowUp]:
    """The messages that perform ``kind`` for these SKUs (the stage of the same name)."""
    return for_ids(Stage(kind), sku_ids)


def record(uow: UnitOfWork, kind: str, sku_ids: Iterable[int]) -> None:
    """Owe ``kind`` for these SKUs in this transaction, and send its message after the commit."""
    ids = sorted(set(sku_ids))
    if not ids:
        return
    effects.record(uow.session, kind, ids, utcnow())
    dispatch(uow, follow_ups(kind, ids))


def perform(task: Transactional, kind: str, sku_ids: Iterable[int],
            work: Callable[[UnitOfWork, list[int]], int]) -> int:
    """Run ``work`` for the SKUs whose rows this run claims (and those the caller named that have
    no row), deleting the rows in the transaction that does the work. A row another run holds is
    left to it; a row a decision marked due again while we worked is sent once more."""
    now = utcnow()
    with task.unit_of_work() as uow:
        claimed = effects.claim(uow.session, kind, list(sku_ids), now)
    if not claimed.work:
        return 0
    try:
        with task.unit_of_work() as uow:
            result = work(uow, claimed.work)
            again = effects.done(uow.session, claimed)  # the last statement: every other lock is held
            dispatch(uow, follow_ups(kind, again))
    except BaseException as exc:
        try:
            with session_scope() as session:
                effects.release(session, claimed, utcnow(), f"{type(exc).__name__}: {exc}")
        except Exception:  # the database is gone too: the lease expires and the sweeper re-sends it
            log.warning("could not give back %s rows %s", kind, claimed.sku_ids, exc_info=True)
        raise
    return result


def stranded(uow: UnitOfWork) -> dict[str, list[int]]:
    """Re-send every effect whose message was lost; returns kind → SKU ids found."""
    found = effects.stranded(uow.session, utcnow())
    for kind, sku_ids in sorted(found.items()):
        dispatch(uow, follow_ups(kind, sku_ids))
    return found


__all__ = ["follow_ups", "perform", "record", "stranded"]
