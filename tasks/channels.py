"""Write-back: make one channel show the truth for one SKU; audited, retried, alerted on failure."""
from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from connectors.errors import PermanentError
from domain import alerts, audit, propagation
from domain.config import current_config
from domain.db import session_scope
from domain.models import Sku, Store
from tasks.base import DbTask, send_all
from tasks.connections import connector_for

log = logging.getLogger(__name__)


class PushTask(DbTask):
    """A push that failed for good raises a staff alert: a channel left unsynced is never silent."""

    abstract = True

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        super().on_failure(exc, task_id, args, kwargs, einfo)
        sku_id, store_id = args[0], args[1]
        alert_push_failed(sku_id, store_id, f"{type(exc).__name__}: {exc}", task_id)


def alert_push_failed(sku_id: int, store_id: int, reason: str, cause: str) -> None:
    from tasks.notify import deliver

    config = current_config()
    with session_scope() as session:
        sku, store = session.get(Sku, sku_id), session.get(Store, store_id)
        context = {"event": "channel.push_failed", "sku": sku.code if sku else str(sku_id),
                   "title": sku.title if sku else "", "from_state": sku.state if sku else "",
                   "to_state": sku.state if sku else "", "available": 0, "threshold": sku.threshold if sku else 0,
                   "open_demand": 0, "locations": [], "channels": [store.name if store else str(store_id)],
                   "detail": reason[:500]}
        outbox_ids = alerts.raise_alert(
            session, event="channel.push_failed", dedupe_key=f"push_failed:{cause}",
            message=f"could not update {context['channels'][0]} for {context['sku']}: {reason[:300]}",
            context=context, routes=config.notifications.routes, sku_id=sku_id, store_id=store_id)
    send_all([(deliver, (outbox_id,), {}) for outbox_id in outbox_ids])


@shared_task(base=PushTask, bind=True, name="tasks.channels.push")
def push(self: PushTask, sku_id: int, store_id: int) -> int:
    with self.unit_of_work() as uow:
        store = uow.session.get(Store, store_id)
        planned = propagation.plan(uow.session, sku_id, store_id)
        if store is None or not planned:
            return 0
        connector = connector_for(store)
    done = 0
    for item in planned:
        try:
            result = connector.push_availability(item.listing, item.available, item.backorder)
        except PermanentError as exc:
            with session_scope() as session:
                audit.record(session, "sync", "channel.push_failed", "sku", sku_id, store=store.key,
                             location=item.listing.location_external_id, error=str(exc),
                             status_code=exc.status_code)
            raise
        with session_scope() as session:
            audit.record(session, "sync", "channel.push", "sku", sku_id, store=store.key,
                         location=item.listing.location_external_id, available=item.available,
                         backorder=item.backorder, ok=result.ok, status_code=result.status_code,
                         detail=result.detail, request=result.request)
        done += 1
    return done
