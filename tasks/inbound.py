"""Draining the inbox: stored webhooks applied in batches, then detection for what changed."""
from __future__ import annotations

import logging

from celery import shared_task
from sqlalchemy import select

from domain import alerts, coalesce, inbox
from domain.config import current_config
from domain.inbound import apply_events
from domain.models import Store
from tasks.base import DbTask
from tasks.connections import connector_for
from tasks.followups import offer
from tasks.notify import deliver
from tasks.stock import evaluate

log = logging.getLogger(__name__)
BATCH_SIZE = 500


@shared_task(base=DbTask, bind=True, name="tasks.inbound.drain")
def drain(self: DbTask, source: str, max_batches: int = 20) -> int:
    """Apply pending events of one store in batches; re-queue itself if more remain."""
    total = 0
    coalesce.clear(source)
    for _ in range(max_batches):
        with self.unit_of_work() as uow:
            store = uow.session.scalar(select(Store).where(Store.key == source))
            if store is None:
                log.error("inbox has events for unknown store %s", source)
                return total
            events = inbox.claim_pending(uow.session, source, BATCH_SIZE)
            if not events:
                return total
            result = apply_events(uow.session, store.id, connector_for(store), events)
            total += len(events)
            if result.changed_sku_ids:
                uow.enqueue(evaluate, sorted(result.changed_sku_ids))
            for backorder_id in result.backorder_ids:
                uow.enqueue(offer, backorder_id)
            routes = current_config().notifications.routes
            for event_id, reason in result.quarantined:
                for outbox_id in quarantine_alert(uow.session, store, event_id, reason, routes):
                    uow.enqueue(deliver, outbox_id)
        if len(events) < BATCH_SIZE:
            return total
    drain.delay(source, max_batches)
    return total


def quarantine_alert(session: object, store: Store, event_id: int, reason: str, routes: object) -> list[int]:
    context = {"event": "channel.push_failed", "sku": "-", "title": f"webhook #{event_id} from {store.name}",
               "from_state": "", "to_state": "quarantined", "available": 0, "threshold": 0, "open_demand": 0,
               "locations": [], "channels": [store.name],
               "detail": f"Webhook quarantined, not applied: {reason}. Add the SKU or location to the "
                         f"configuration, then run `backorders redrive --inbox {event_id}`."}
    return alerts.raise_alert(session, event="channel.push_failed", dedupe_key=f"quarantine:{event_id}",  # type: ignore[arg-type]
                              message=context["detail"], context=context, routes=routes,  # type: ignore[arg-type]
                              store_id=store.id)


@shared_task(base=DbTask, bind=True, name="tasks.inbound.redrive")
def redrive(self: DbTask) -> int:
    """Beat: wake a drain for every store whose pending events have waited too long."""
    with self.unit_of_work() as uow:
        sources = inbox.sources_with_stranded(uow.session)
        for source in sources:
            uow.enqueue(drain, source)
    return len(sources)
