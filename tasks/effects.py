"""Pending effects (``domain.effects``): how a task performs its rows, and the sweeper that finds
rows whose message was lost.

``record`` queues an effect inside a decision's transaction: the row, and the message sent after
the commit. ``perform`` is the body of every task that carries out an effect: claim the rows, do
the work and delete the rows in one transaction, give them back if the work fails. ``sweep``
(beat) re-sends what no message claimed within ``EFFECT_SWEEP_AFTER_S``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from celery import shared_task

from domain import effects
from domain.clock import utcnow
from domain.db import session_scope
from tasks.base import DbTask, UnitOfWork

log = logging.getLogger(__name__)


def record(task: DbTask, uow: UnitOfWork, kind: str, sku_ids: Iterable[int]) -> None:
    """Owe ``kind`` for these SKUs in this transaction, and send its message after the commit."""
    ids = sorted(set(sku_ids))
    if not ids:
        return
    effects.record(uow.session, kind, ids, utcnow())
    for name, args in effects.messages(kind, ids):
        uow.enqueue(task.app.signature(name), *args)


def perform(task: DbTask, kind: str, sku_ids: Iterable[int], work: Callable[[UnitOfWork, list[int]], int]) -> int:
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
            for name, args in effects.messages(kind, again):
                uow.enqueue(task.app.signature(name), *args)
    except BaseException as exc:
        try:
            with session_scope() as session:
                effects.release(session, claimed, utcnow(), f"{type(exc).__name__}: {exc}")
        except Exception:  # the database is gone too: the lease expires and the sweeper re-sends it
            log.warning("could not give back %s rows %s", kind, claimed.sku_ids, exc_info=True)
        raise
    return result


@shared_task(base=DbTask, bind=True, name="tasks.effects.sweep")
def sweep(self: DbTask) -> int:
    """Beat: re-send every effect whose message was lost (due for ``EFFECT_SWEEP_AFTER_S`` and not
    claimed) or whose run died holding its lease; returns the rows found."""
    with self.unit_of_work() as uow:
        found = effects.stranded(uow.session, utcnow())
        for kind, sku_ids in sorted(found.items()):
            for name, args in effects.messages(kind, sku_ids):
                uow.enqueue(self.app.signature(name), *args)
    count = sum(len(ids) for ids in found.values())
    if count:
        log.warning("re-sent %d pending effect(s) whose message was lost: %s", count,
                    {kind: ids[:20] for kind, ids in found.items()})
    return count
