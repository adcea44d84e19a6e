"""The sweeper of pending effects (``domain.core.effects``): rows whose message was lost are sent again.

How a decision owes an effect and how a task performs one is ``flows.effects``.
"""
from __future__ import annotations

import logging

from celery import shared_task

from flows import effects as effect_rows
from tasks.base import DbTask

log = logging.getLogger(__name__)


@shared_task(base=DbTask, bind=True, name="tasks.effects.sweep")
def sweep(self: DbTask) -> int:
    """Beat: re-send every effect whose message was lost (due for ``EFFECT_SWEEP_AFTER_S`` and not
    claimed) or whose run died holding its lease; returns the rows found."""
    with self.unit_of_work() as uow:
        found = effect_rows.stranded(uow)
    count = sum(len(ids) for ids in found.values())
    if count:
        log.warning("re-sent %d pending effect(s) whose message was lost: %s", count,
                    {kind: ids[:20] for kind, ids in found.items()})
    return count
