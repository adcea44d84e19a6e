"""Shipping accounts polled and their stored webhooks drained: the connector's I/O between
transactions, around ``domain.shipping.rules.take`` (``tasks.shipping`` runs these).

* **Poll** under the account's lease: each page of shipments since the cursor is stored with the
  cursor in one transaction and its follow-ups sent after the commit; then the account's shipments
  still on their way have their scans read again (ShipStation V2 tracking), one transaction each.
* **Drain**: a webhook is stored once in the inbox (``workers.shipping_webhooks``, source
  ``ship:<account>``); the drain parses it, GETs what it names (ShipStation's ``resource_url``)
  outside any transaction, then takes the row ``FOR UPDATE SKIP LOCKED`` — still pending, or
  another drain has it — and applies the records in the same transaction that marks it done. A
  provider refusal that retrying cannot change (a ``resource_url`` off the provider's host, a body
  that does not parse) quarantines that row alone; a transient one leaves it pending for the retry.

External calls happen between transactions, never inside one.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

import domain.core.env_settings as runtime_settings
from connectors.carrier_registry import build_shipping_connector
from connectors.carriers import ShipmentRecord, ShippingConnector, TrackRequest
from connectors.errors import MalformedPayloadError, PermanentError
from domain.core.clock import utcnow
from domain.core.db import state_is
from domain.core.models import InboxEvent, Shipment, ShippingAccount
from domain.core.shipping_config import ShippingAccountConfig
from domain.core.stages import FollowUp
from domain.shipping import accounts, rules
from domain.shipping.shipments import MOVING
from flows.connections import env_config

#: Inbox rows of shipping webhooks are kept under ``ship:<account key>`` (store keys have no colon).
SOURCE_PREFIX = "ship:"
#: Shipments whose scans one poll reads again at most (the rest wait for the next poll).
TRACK_PER_POLL = 100
Send = Callable[[list[FollowUp]], None]


class LeaseLost(RuntimeError):
    """Another poll holds the account now (ours expired): stop without writing more."""


def account_config(key: str) -> ShippingAccountConfig:
    found = runtime_settings.current().config.shipping.account(key)
    if found is None:
        raise PermanentError(f"shipping account {key!r} is not in the business file")
    return found


def connector_for(account: ShippingAccountConfig, *, require_credentials: bool = True,
                  **kwargs: Any) -> ShippingConnector:
    """The account's connector from the variables its table names; a missing one is named."""
    config = env_config("shipping account", account.key, account.provider, account.base_url, account.credentials,
                        account.webhook_secret_env, account.options, require_credentials=require_credentials)
    return build_shipping_connector(account.provider, config, **kwargs)


@dataclass
class PollReport:
    account: str
    pages: int = 0
    records: int = 0
    tracked: int = 0
    skipped: bool = False

    def summary(self) -> str:
        if self.skipped:
            return f"{self.account}: another poll holds the lease, or the account is gone; skipped"
        return f"{self.account}: {self.pages} pages, {self.records} shipments, {self.tracked} tracked"


def poll(sessions: sessionmaker[Session], account_id: int, owner: str, send: Send,
         connector: ShippingConnector | None = None) -> PollReport:
    with sessions() as session, session.begin():
        account = session.get(ShippingAccount, account_id)
        if account is None or not account.enabled or not accounts.acquire_lease(session, account_id, owner):
            return PollReport(account.key if account else str(account_id), skipped=True)
        key, cursor, interval = account.key, account.cursor, account.poll_interval_s
    report = PollReport(key)
    try:
        connector = connector or connector_for(account_config(key))
        settings = runtime_settings.current()
        for page in connector.fetch_shipments(cursor):
            cursor = page.cursor if page.cursor is not None else cursor
            with sessions() as session, session.begin():
                if not accounts.save_cursor(session, account_id, owner, cursor):
                    raise LeaseLost(f"shipping account {key}: the lease passed to another poll")
                follow_ups = rules.take(session, account_id, page.records, settings)
            send(follow_ups)
            report.pages, report.records = report.pages + 1, report.records + len(page.records)
        report.tracked = track(sessions, account_id, connector, send, timedelta(seconds=interval / 2))
    except Exception as exc:
        with sessions() as session, session.begin():
            accounts.finish(session, account_id, owner, error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    with sessions() as session, session.begin():
        accounts.finish(session, account_id, owner)
    return report


def track(sessions: sessionmaker[Session], account_id: int, connector: ShippingConnector, send: Send,
          fresh_for: timedelta, now: datetime | None = None) -> int:
    """Read again the scans of the account's shipments still on their way (oldest read first)."""
    now = now or utcnow()
    with sessions() as session:
        due = session.execute(select(Shipment.id, Shipment.external_id, Shipment.carrier, Shipment.tracking_number,
                                     Shipment.label_ref)
                              .where(Shipment.account_id == account_id, Shipment.status.in_((*MOVING, "exception")),
                                     Shipment.tracking_number != "",
                                     or_(Shipment.last_tracked_at.is_(None), Shipment.last_tracked_at < now - fresh_for))
                              .order_by(Shipment.last_tracked_at.asc().nulls_first(), Shipment.id)
                              .limit(TRACK_PER_POLL)).tuples().all()
    settings = runtime_settings.current()
    tracked = 0
    for shipment_id, external_id, carrier, number, label_ref in due:
        scans = connector.track(TrackRequest(external_id, carrier, number, label_ref))
        if scans is None:
            return tracked  # the provider's own walk brings scans
        with sessions() as session, session.begin():
            follow_ups = rules.take(session, account_id, [ShipmentRecord(external_id, None, scans=tuple(scans))],
                                    settings)
            shipment = session.get(Shipment, shipment_id)
            if shipment is not None:
                shipment.last_tracked_at = utcnow()
        send(follow_ups)
        tracked += 1
    return tracked


def drain(sessions: sessionmaker[Session], account_key: str, send: Send, limit: int = 50,
          connector: ShippingConnector | None = None) -> int:
    """Apply up to ``limit`` stored webhooks of the account; how many rows were looked at."""
    source = SOURCE_PREFIX + account_key
    with sessions() as session:
        account_id = session.scalar(select(ShippingAccount.id).where(ShippingAccount.key == account_key))
        rows = session.execute(select(InboxEvent.id, InboxEvent.payload).where(
            InboxEvent.source == source, state_is(InboxEvent.state, "pending"))
            .order_by(InboxEvent.id).limit(limit)).tuples().all()
    if not rows:
        return 0
    if account_id is None:  # a webhook before the first poll: the rows follow the file
        with sessions() as session, session.begin():
            account_id = accounts.sync(session, runtime_settings.current().config.shipping).get(account_key)
        if account_id is None:
            raise PermanentError(f"shipping account {account_key!r} is not in the business file")
    connector = connector or connector_for(account_config(account_key))
    settings = runtime_settings.current()
    for event_id, payload in rows:
        try:
            records = fetch_records(connector, payload)
        except (MalformedPayloadError, PermanentError) as exc:
            _finish(sessions, event_id, "quarantined", f"{type(exc).__name__}: {exc}")
            continue
        with sessions() as session, session.begin():
            row = session.scalar(select(InboxEvent).where(InboxEvent.id == event_id,
                                                          state_is(InboxEvent.state, "pending"))
                                 .with_for_update(skip_locked=True))
            if row is None:
                continue  # another drain has it, or had it
            follow_ups = rules.take(session, account_id, records, settings)
            row.state, row.processed_at, row.attempts = "done", utcnow(), row.attempts + 1
        send(follow_ups)
    return len(rows)


def fetch_records(connector: ShippingConnector, payload: dict[str, Any]) -> list[ShipmentRecord]:
    """The records a stored delivery carries, and those its resource URLs name (fetched now)."""
    notice = connector.parse_delivery(payload.get("headers") or {}, str(payload.get("body", "")).encode("utf-8"))
    return [*notice.records, *(record for url in notice.fetch for record in connector.fetch_resource(url))]


def _finish(sessions: sessionmaker[Session], event_id: int, state: str, error: str) -> None:
    with sessions() as session, session.begin():
        row = session.get(InboxEvent, event_id, with_for_update=True)
        if row is not None and row.state == "pending":
            row.state, row.error, row.processed_at = state, error[:2000], utcnow()


def stranded_accounts(session: Session, older_than: timedelta = timedelta(minutes=1),
                      now: datetime | None = None) -> list[str]:
    """Account keys with webhooks pending longer than ``older_than``: their drain message was lost."""
    now = now or utcnow()
    sources: Iterable[str] = session.scalars(select(InboxEvent.source).where(
        InboxEvent.source.startswith(SOURCE_PREFIX), state_is(InboxEvent.state, "pending"),
        InboxEvent.received_at < now - older_than).distinct())
    return sorted(source.removeprefix(SOURCE_PREFIX) for source in sources)
