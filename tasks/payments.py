"""Refund decisions paid back once, provider events applied, and the sweeper that finds what a lost
message left behind (``flows.payments`` says how)."""
from __future__ import annotations

from celery import shared_task

from flows import payments
from tasks.base import DbTask


@shared_task(base=DbTask, bind=True, name="tasks.payments.pay")
def pay(self: DbTask, execution_id: int) -> str:
    """Pay one refund execution at its provider or store, at most once."""
    return payments.pay(self, execution_id)


@shared_task(base=DbTask, bind=True, name="tasks.payments.poll")
def poll(self: DbTask, execution_id: int) -> str:
    """Ask the provider about a refund it left pending."""
    return payments.poll(self, execution_id)


@shared_task(base=DbTask, bind=True, name="tasks.payments.apply_events")
def apply_events(self: DbTask, account: str) -> int:
    """Hand one account's stored provider events to their handlers."""
    return payments.apply_events(self, account)


@shared_task(base=DbTask, bind=True, name="tasks.payments.sweep")
def sweep(self: DbTask) -> int:
    """Beat: plan, re-send, free, ask again and drain what nothing else will."""
    return payments.sweep(self)
