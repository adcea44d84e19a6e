"""The staff alert for a webhook that was kept but not applied, in its own words.

A webhook naming a SKU or location the configuration does not know (or one that cannot be read)
is quarantined, never dropped. Staff are told what it named, why it was held, how to fix it and
the exact ``backorders redrive --inbox ID`` that applies it afterwards: the ``webhook_quarantined``
templates, not the failed-push wording about API credentials. The alert is routed as
``channel.push_failed`` (what the store shows is behind until it is applied), so existing routes
keep hearing of it.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.orm import Session

from domain.core.business_config import RouteConfig
from domain.core.models import InboxEvent, Store
from domain.messaging import alerts

TEMPLATE = "webhook_quarantined"
EVENT = "channel.push_failed"
UNKNOWN = re.compile(r"^unknown SKU or location: (?P<code>.*?)(?: @ (?P<location>.*))?$")


def quarantine_alert(session: Session, store: Store, event_id: int, reason: str, routes: Sequence[RouteConfig]
                     ) -> list[int]:
    """Store the alert once per event (``quarantine:{id}``) and queue its messages; the outbox ids."""
    event = session.get(InboxEvent, event_id)
    topic = event.topic if event is not None and event.topic else ""
    problems = [part.strip() for part in reason.split("; ") if part.strip()]
    unknown = [match.groupdict() for part in problems if (match := UNKNOWN.match(part))]
    redrive = f"backorders redrive --inbox {event_id}"
    if unknown:
        fix = ("Add the SKU code to [[skus]] (or the location id to the store's locations) in the configuration, "
               "run `backorders config apply` — or `backorders stores discover " f"{store.key}` to bring the "
               "store's catalogue in — then re-apply it")
    else:
        fix = "Check the store's webhook payloads (the reason says what could not be read), then re-apply it"
    context = {"event": EVENT, "store": store.name, "store_key": store.key, "event_id": event_id, "topic": topic,
               "problems": problems, "unknown": [{"code": u["code"], "location": u["location"] or "-"} for u in unknown],
               "fix": fix, "redrive": redrive, "detail": f"{'; '.join(problems)[:500]}. {fix} with `{redrive}`."}
    return alerts.raise_alert(session, event=EVENT, dedupe_key=f"quarantine:{event_id}",
                              message=f"webhook #{event_id} from {store.name} not applied: {reason[:300]}",
                              context=context, routes=routes, store_id=store.id, template=TEMPLATE)
