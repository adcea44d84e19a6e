"""Webhook subscriptions kept alive: the renewal a store's timer row asks for
(``flows.subscription_renewal`` says how)."""
from __future__ import annotations

from celery import shared_task

from flows import subscription_renewal
from tasks.base import DbTask


@shared_task(base=DbTask, bind=True, name="tasks.subscriptions.renew")
def renew(self: DbTask, store_id: int) -> str:
    """Renew what expires soon, make again what the platform dropped; schedule the next renewal."""
    return subscription_renewal.renew(self, store_id)
