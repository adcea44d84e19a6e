"""Stored webhooks to records, then applied by the domain (``domain.stock.apply_events.apply_parsed``) in one
batch.

Each body is parsed once. The web edge parses it to answer 400 to a malformed one and stores the
records beside the raw body and headers (``payload["records"]``, ``connectors.webhook_records``):
those are applied as stored. A row without stored records (written before they were kept, or by
a path that stores only the body) is parsed here by its store's connector, once; so is a row
whose stored records this code cannot read, from the raw body it still holds.

The connector call lives here, not in ``domain``: the rules see parsed records only.
"""
from __future__ import annotations

import logging
from typing import cast

from sqlalchemy.orm import Session

from connectors import webhook_records
from connectors.base import Connector
from connectors.errors import MalformedPayloadError
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


def parse_events(connector: Connector, events: list[InboxEvent]) -> list[ParsedEvent]:
    """Each row's stored records, else its stored headers and body through the platform's parser;
    a malformed body is kept with its reason (the domain quarantines that event alone)."""
    parsed: list[ParsedEvent] = []
    for event in events:
        stored = stored_records(event)
        if stored is not None:
            parsed.append(ParsedEvent(event, stored))
            continue
        payload = event.payload
        try:
            parsed.append(ParsedEvent(event, connector.parse_webhook(
                payload.get("headers", {}), payload.get("body", "").encode("utf-8"))))
        except MalformedPayloadError as exc:
            parsed.append(ParsedEvent(event, None, str(exc)))
    return parsed


def apply_events(session: Session, store_id: int, connector: Connector, events: list[InboxEvent]) -> DrainResult:
    """Parse a claimed batch (once: see above) and apply it in the caller's transaction."""
    return apply_parsed(session, store_id, parse_events(connector, events))
