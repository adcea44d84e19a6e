"""Payment-provider events: stored once in the inbox, then handed to the handler registered for
their kind.

The web edge verifies a delivery (``connectors.payments``: Stripe's signature, Adyen's HMAC,
PayPal's verify call) and stores each event it carries with :func:`accept` — one ``inbox`` row
per provider event id under the source ``payments:{account}``, so a redelivered or replayed
event is stored once. ``tasks.payments.apply_events`` then takes the account's pending rows
(:func:`apply_pending`, ``FOR UPDATE SKIP LOCKED``) and calls every handler registered for the
event's ``kind``: ``"refund"`` (a refund's outcome: built in, below), ``"dispute"`` (a
:class:`~connectors.payments.contract.DisputeNotice` in ``event.dispute``) and ``"other"``.

**The registry.** A part that acts on payment events registers a handler at import::

    from domain.payments import events

    @events.handler("dispute")
    def open_chargeback(session: Session, account: str, event: ProviderEvent, now: datetime) -> list[FollowUp]:
        ...

A handler runs in the drain's transaction, inside a savepoint: what it writes commits with the
event marked done; if it raises, its writes roll back, the event stays ``pending`` with the error
and is tried again (``MAX_ATTEMPTS`` times, then ``failed``). It must be idempotent by the event's
``event_id`` / ``dispute_ref`` (a retried batch runs it again). The follow-ups it returns are sent
after the commit; each stage it returns must be listed in the ``apply_payment_events`` row of
``flows/spine.py``. The module that registers must be imported by every worker process (as
``flows.spine`` imports ``domain.cases.backorder_cases``).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connectors.payments.common import ProviderEvent
from domain.core.db import state_is
from domain.core.models import InboxEvent
from domain.core.stages import FollowUp
from domain.payments import executions, notices

log = logging.getLogger(__name__)
SOURCE_PREFIX = "payments:"
KIND = "payment"
#: Tries of one event whose handler fails before it is set aside as ``failed``.
MAX_ATTEMPTS = 5
Handler = Callable[[Session, str, ProviderEvent, datetime], list[FollowUp]]
HANDLERS: dict[str, list[Handler]] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` for events of ``kind`` (``refund``, ``dispute``, ``other``); once per function."""
    def register(fn: Handler) -> Handler:
        registered = HANDLERS.setdefault(kind, [])
        if fn not in registered:
            registered.append(fn)
        return fn
    return register


def source(account: str) -> str:
    return f"{SOURCE_PREFIX}{account}"


def accept(session: Session, account: str, received: Sequence[ProviderEvent]) -> list[int | None]:
    """Store each event once (per provider and event id); per event its new inbox id, or None for one
    stored before. The caller commits."""
    ids: list[int | None] = []
    for event in received:
        ids.append(session.execute(insert(InboxEvent).values(
            source=source(account), dedupe_key=f"{event.provider}:{event.event_id}"[:300], kind=KIND,
            topic=event.topic[:100], payload={"event": event.as_json()},
        ).on_conflict_do_nothing(index_elements=["source", "dedupe_key"]).returning(InboxEvent.id)).scalar())
    return ids


def apply_pending(session: Session, account: str, now: datetime, limit: int = 200) -> tuple[int, list[FollowUp]]:
    """Hand the account's pending events to their handlers, in arrival order; (events taken, follow-ups)."""
    rows = list(session.scalars(select(InboxEvent).where(
        InboxEvent.source == source(account), state_is(InboxEvent.state, "pending"))
        .order_by(InboxEvent.id).limit(limit).with_for_update(skip_locked=True)))
    follow_ups: list[FollowUp] = []
    for row in rows:
        row.attempts += 1
        try:
            event = ProviderEvent.from_json(row.payload["event"])
            with session.begin_nested():
                done = [f for fn in HANDLERS.get(event.kind, []) for f in fn(session, account, event, now)]
        except Exception as exc:  # one event's failure must not stop the others: kept, tried again
            log.warning("payment event %s (%s) failed: %s", row.id, row.topic, exc, exc_info=True)
            row.error = f"{exc.__class__.__name__}: {exc}"[:2000]
            if row.attempts >= MAX_ATTEMPTS:
                row.state, row.processed_at = "failed", now
            continue
        follow_ups += done
        row.state, row.processed_at, row.error = "done", now, None
    return len(rows), follow_ups


def stranded_accounts(session: Session, now: datetime, older_than: timedelta) -> list[str]:
    """Accounts with pending events older than ``older_than``: their drain message was lost."""
    sources = session.scalars(select(InboxEvent.source).where(
        InboxEvent.source.startswith(SOURCE_PREFIX), state_is(InboxEvent.state, "pending"),
        InboxEvent.received_at < now - older_than).distinct())
    return [one[len(SOURCE_PREFIX):] for one in sources]


@handler("refund")
def refund_outcome(session: Session, account: str, event: ProviderEvent, now: datetime) -> list[FollowUp]:
    """A refund's outcome (Adyen's REFUND notification, Stripe's ``refund.updated``) settles its
    execution, found by the provider's refund id or by our key in Adyen's ``merchantReference``."""
    if event.refund is None:
        return []
    reference = event.raw.get("merchantReference") if isinstance(event.raw, dict) else None
    settled = executions.apply_outcome(session, event.refund, now, str(reference) if reference else None)
    return notices.notify_paid(session, settled) if settled is not None else []
