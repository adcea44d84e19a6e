"""Stored webhooks to records, then applied by the domain (``domain.stock.apply_events.apply_parsed``) in one
batch.

Each body is parsed once. The web edge parses it to answer 400 to a malformed one and stores the
records beside the raw body and headers (``payload["records"]``, ``connectors.webhook_records``):
those are applied as stored. A row without stored records (written before they were kept, or by
a path that stores only the body) is parsed here by its store's connector, once; so is a row
whose stored records this code cannot read, from the raw body it still holds.

The connector call lives here, not in ``domain``: the rules see parsed records only.

Webhooks that name their resources by id only (BigCommerce's carry ``data: {type, id}``:
https://developer.bigcommerce.com/docs/integrations/webhooks/events ) hold no records to apply.
:func:`parse_events` defers such an event (it stays pending, untouched) unless its resources were
fetched already; the drain then has them fetched by :func:`fetch_named` — after its transaction
commits, so no row lock is held across the platform's answer — and claims the event again with
the fetched records in hand. The records are what the platform holds when it is asked, so an
event that arrives late never brings back an old figure. A store's return that is to open ours
and does not list all its lines (Shopify's ``returns/request`` may not) is deferred and read the
same way (``connectors.store_returns``: the GraphQL ``return(id:)`` query).
"""
from __future__ import annotations

import logging
from typing import cast

from sqlalchemy.orm import Session

from connectors import webhook_records
from connectors.base import Connector
from connectors.errors import MalformedPayloadError, PermanentError
from connectors.store_returns import needs_details
from connectors.types import WebhookEvent, WebhookKind
from domain.core.models import InboxEvent
from domain.stock.apply_events import DrainResult, ParsedEvent, apply_parsed

log = logging.getLogger(__name__)


def stored_records(event: InboxEvent) -> WebhookEvent | None:
    """The records the edge stored with this row, or None when it has none this code can read."""
    data = event.payload.get(webhook_records.PAYLOAD_KEY)
    if data is None:
        return None
    try:
        return webhook_records.load(data, cast(WebhookKind, event.kind), event.topic, event.dedupe_key,
                                    event.occurred_at)
    except webhook_records.UnreadableRecords as exc:
        log.warning("inbox %s: stored records unreadable (%s); parsing its body", event.id, exc)
        return None


#: Kinds whose event is worth nothing without its records: a thin one of these is fetched.
FETCHED_KINDS = frozenset({"inventory_update", "order_created", "sku_modified"})
#: Fetched events by inbox id, kept by the drain between its transactions; a string is why the
#: platform refused the fetch for good (the event is quarantined with it, to be re-driven).
Fetched = dict[int, WebhookEvent | str]


def names_only(parsed: WebhookEvent) -> bool:
    """True for an event that names resources but carries none of their records."""
    return parsed.kind in FETCHED_KINDS and bool(parsed.resource_ids) and not (parsed.stock or parsed.orders)


def parse_events(connector: Connector, events: list[InboxEvent], fetched: Fetched | None = None) -> list[ParsedEvent]:
    """Each row's stored records, else its stored headers and body through the platform's parser;
    a malformed body is kept with its reason (the domain quarantines that event alone). An event
    of a platform whose webhooks name ids only takes its ``fetched`` records, else is deferred."""
    parsed: list[ParsedEvent] = []
    for event in events:
        stored = stored_records(event)
        if stored is None:
            payload = event.payload
            try:
                stored = connector.parse_webhook(payload.get("headers", {}), payload.get("body", "").encode("utf-8"))
            except MalformedPayloadError as exc:
                parsed.append(ParsedEvent(event, None, str(exc)))
                continue
        if (names_only(stored) and connector.thin_webhooks) or needs_details(stored):
            found = (fetched or {}).get(event.id)
            parsed.append(ParsedEvent(event, stored, deferred=True) if found is None else
                          ParsedEvent(event, None, found) if isinstance(found, str) else ParsedEvent(event, found))
            continue
        parsed.append(ParsedEvent(event, stored))
    return parsed


def fetch_named(connector: Connector, deferred: list[ParsedEvent]) -> Fetched:
    """The records of every deferred event's resources, read from the platform now. Call it
    outside any transaction: it waits on the platform. A refusal that retrying cannot change (a
    revoked token) is kept as the event's reason to be quarantined; a transient one is raised, so
    the drain is retried with its events still pending."""
    fetched: Fetched = {}
    for item in deferred:
        if item.parsed is None:
            continue
        try:
            fetched[item.event.id] = connector.resolve_webhook(item.parsed)
        except PermanentError as exc:
            fetched[item.event.id] = f"could not fetch {', '.join(item.parsed.resource_ids)}: {exc}"
    return fetched


def apply_events(session: Session, store_id: int, connector: Connector, events: list[InboxEvent],
                 fetched: Fetched | None = None) -> DrainResult:
    """Parse a claimed batch (once: see above) and apply it in the caller's transaction."""
    return apply_parsed(session, store_id, parse_events(connector, events, fetched))
