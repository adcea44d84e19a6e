"""Helpdesk webhook deliveries, stored once in the inbox for triage to take.

The web edge (``workers.helpdesk_webhooks``) verifies a delivery with the helpdesk's connector and
stores it with :func:`accept`: one ``inbox`` row under the source ``helpdesk:{key}`` and the
delivery's ``dedupe_key`` (Zendesk's event id, Intercom's notification id, Gorgias' ticket +
event + update time), kind ``helpdesk``, the topic, and the payload ``{"delivery": …}`` — the
ticket as :class:`~connectors.helpdesk.contract.TicketRecord` JSON plus the raw event. A
redelivery finds its row and is not stored again. Rows stay ``pending`` until triage takes them
(``FOR UPDATE SKIP LOCKED`` by source, as the other inbox drains do); :func:`pending` reads them.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connectors.helpdesk.contract import HelpdeskDelivery, TicketRecord
from domain.core.models import InboxEvent

SOURCE_PREFIX = "helpdesk:"
KIND = "helpdesk"


def source(helpdesk: str) -> str:
    return f"{SOURCE_PREFIX}{helpdesk}"


def accept(session: Session, helpdesk: str, delivery: HelpdeskDelivery) -> int | None:
    """Store the delivery once; its new inbox id, or None when it was stored before. The caller commits."""
    ticket = delivery.ticket
    return session.execute(insert(InboxEvent).values(
        source=source(helpdesk), dedupe_key=delivery.dedupe_key[:300], kind=KIND, topic=delivery.topic[:100],
        payload={"delivery": delivery.as_json()}, occurred_at=ticket.updated_at if ticket else None,
    ).on_conflict_do_nothing(index_elements=["source", "dedupe_key"]).returning(InboxEvent.id)).scalar()


def pending(session: Session, helpdesk: str, limit: int = 100) -> list[tuple[InboxEvent, TicketRecord | None]]:
    """The helpdesk's pending rows in arrival order, locked for the caller (others skip them), each
    with its ticket read back."""
    rows = session.scalars(select(InboxEvent).where(InboxEvent.source == source(helpdesk),
                                                    InboxEvent.state == "pending")
                           .order_by(InboxEvent.id).limit(limit).with_for_update(skip_locked=True)).all()
    return [(row, TicketRecord.from_json(row.payload["delivery"]["ticket"])
             if row.payload.get("delivery", {}).get("ticket") else None) for row in rows]
