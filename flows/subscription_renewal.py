"""Renewing a store's expiring webhook subscriptions (``domain.stock.subscription_renewals`` fires
it): read the store, ask the platform between two transactions, then move the store's renewal row
to a day before the new expiry.

The renewal is the platform's own ``ensure`` (``connectors.subscriptions``), the one ``backorders
stores connect`` runs: a subscription expiring soon is renewed (Business Central runs the
validation handshake against our ``/webhooks/{store}/notifications`` again), one the platform
dropped is made again, the rest are left alone. The address is ``PUBLIC_BASE_URL``'s and the
client state the store's webhook secret, as at connect time.
"""
from __future__ import annotations

import logging

from connectors.errors import ConnectorError
from connectors.subscriptions import address, ensure
from domain.core import audit, store_secrets
from domain.core.env_settings import get_settings
from domain.core.models import Store
from domain.stock import subscription_renewals
from flows.connections import connector_for
from flows.work import Transactional

log = logging.getLogger(__name__)
ACTOR = "subscriptions"


def renew(task: Transactional, store_id: int) -> str:
    """``renewed:<n>`` with the number of subscriptions the platform now holds for the store, or
    why nothing was done. A failure is raised (a transient one is retried by the task); the
    store's renewal row fires again meanwhile."""
    with task.unit_of_work() as uow:
        store = uow.session.get(Store, store_id)
        if store is None or not store.enabled:
            return "skipped:store"
        connector = connector_for(store)
        env = store.webhook_secret_env
        secret = store_secrets.lookup(env) if env else None
        target = address(store.platform, get_settings().public_base_url, store.key)
    try:
        found = ensure(connector, target, secret, False)
        made = [s.secret for s in found if s.secret]  # a webhook the platform had dropped, made again
        if made and env:
            store_secrets.keep(env, made[-1])
    except ConnectorError as exc:
        log.warning("subscriptions of store %s not renewed: %s", store_id, exc)
        raise
    with task.unit_of_work() as uow:
        due = subscription_renewals.schedule(uow.session, store_id, [s.expires_at for s in found])
        audit.record(uow.session, ACTOR, "store.webhooks_renewed", "store", store_id, address=target,
                     next_renewal=due.isoformat() if due else None, subscriptions=[
                         {"id": s.external_id, "topic": s.topic, "outcome": s.outcome,
                          "expires_at": s.expires_at.isoformat() if s.expires_at else None} for s in found])
    return f"renewed:{len(found)}"
