"""Returns (RMA): one return's next step, and the sweeper that finds the ones a lost message left
(``flows.returns`` says how)."""
from __future__ import annotations

from celery import shared_task

from flows import returns
from tasks.base import DbTask


@shared_task(base=DbTask, bind=True, name="tasks.returns.step")
def step(self: DbTask, return_id: int) -> str:
    """Run one return's next step, at most once."""
    return returns.step(self, return_id)


@shared_task(base=DbTask, bind=True, name="tasks.returns.sweep")
def sweep(self: DbTask) -> int:
    """Beat: send again the returns whose step is due."""
    return returns.sweep(self)


@shared_task(base=DbTask, bind=True, name="tasks.returns.write_store")
def write_store(self: DbTask, row_id: int) -> str:
    """Write our decision on a store's own return to the store, at most once."""
    return returns.write_store(self, row_id)
