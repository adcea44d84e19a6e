"""Waking a store's push drain when its rows fall due (``domain.pushes`` holds the rows).

A Redis flag per store coalesces wake-ups, as for the inbox: a store whose drain is already on its
way needs no second message.
"""
from __future__ import annotations

from datetime import datetime

from domain import coalesce, pushes
from domain.stages import FollowUp, Stage
from flows.spine import dispatch
from flows.work import UnitOfWork


def wake_key(store_id: int) -> str:
    return f"push:{store_id}"


def enqueue_due(uow: UnitOfWork, due: list[pushes.Due], now: datetime) -> None:
    """Wake one ``push_store`` per store with rows that just became due, when the first is due;
    a store whose drain is already on its way (its flag stands) needs no second one."""
    first: dict[int, datetime] = {}
    for row in due:
        first[row.store_id] = min(first.get(row.store_id, row.due_at), row.due_at)
    if not first:
        return
    # the flag lives about as long as the drain's countdown, so an unconsumed one soon lapses
    ttl_s = max(first.values()).timestamp() - now.timestamp() + 2.0
    wanted = set(coalesce.should_wake_many((wake_key(store_id) for store_id in sorted(first)), ttl_s))
    for store_id, due_at in sorted(first.items()):
        if wake_key(store_id) in wanted:
            dispatch(uow, [FollowUp(Stage.PUSH_STORE, (store_id,))],
                     countdown=max(0.0, (due_at - now).total_seconds()))
