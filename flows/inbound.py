"""Stored webhooks to records: each claimed inbox row's body parsed once, by its store's connector,
then applied by the domain (``domain.stock.apply_events.apply_parsed``) in one batch.

The connector call lives here, not in ``domain``: the rules see parsed records only.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from connectors.base import Connector
from connectors.errors import MalformedPayloadError
from domain.core.models import InboxEvent
from domain.stock.apply_events import DrainResult, ParsedEvent, apply_parsed


def parse_events(connector: Connector, events: list[InboxEvent]) -> list[ParsedEvent]:
    """Each row's stored headers and body through the platform's parser; a malformed body is kept
    with its reason (the domain quarantines that event alone)."""
    parsed: list[ParsedEvent] = []
    for event in events:
        payload = event.payload
        try:
            parsed.append(ParsedEvent(event, connector.parse_webhook(
                payload.get("headers", {}), payload.get("body", "").encode("utf-8"))))
        except MalformedPayloadError as exc:
            parsed.append(ParsedEvent(event, None, str(exc)))
    return parsed


def apply_events(session: Session, store_id: int, connector: Connector, events: list[InboxEvent]) -> DrainResult:
    """Parse a claimed batch and apply it in the caller's transaction."""
    return apply_parsed(session, store_id, parse_events(connector, events))
