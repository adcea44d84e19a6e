"""Connecting a store: read what it holds into the configuration file, then subscribe to its
webhooks, load the file and take the first full sync.

A back office (NetSuite, Odoo) is surveyed instead of copied: its locations are mapped, its items
counted (they are matched by code to the SKUs the selling stores list), and each part its
credential may not read is named with the permission to grant, while the rest is still read.

Orchestration for ``backorders stores discover`` and ``stores connect`` (``workers.cli_stores``):
the connector reads (``connectors.discovery``) and subscribes (``connectors.subscriptions``), the
file is edited without touching what the operator wrote (``domain.core.config_file``), the secret
is found or generated (``domain.core.store_secrets``), and the first sync is the ordinary poll
(``flows.poll``), which evaluates every SKU the store lists so what is already out or low alerts.
A store added by ``discover`` is read-only until the operator switches it on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from tomlkit import TOMLDocument

from connectors.base import Connector
from connectors.discovery import FoundItem, catalogue, is_back_office, locations, survey
from connectors.subscriptions import APP_SECRET, GENERATED_SECRET, PLATFORM_SECRET, REGISTRARS, Subscription, \
    address, ensure
from domain.core import audit, config_file, store_secrets
from domain.core.business_config import ConfigError, StoreConfig, load_config
from domain.core.config_file import MergeSummary, NewLocation, NewSku
from domain.core.db import get_sessionmaker, session_scope
from domain.core.models import Store
from domain.stock import subscription_renewals
from domain.stock.catalog import apply_config
from flows import poll as polling
from flows.connections import connector_for


@dataclass
class DiscoverReport:
    """What ``discover`` found on the store and what it changed in the file."""

    store_key: str
    platform: str
    locations: list[NewLocation] = field(default_factory=list)
    pages: int = 0
    items: int = 0
    without_code: list[str] = field(default_factory=list)
    repeated_codes: list[str] = field(default_factory=list)
    merge: MergeSummary = field(default_factory=MergeSummary)
    problems: list[str] = field(default_factory=list)
    read_only: bool = True
    #: A back office's survey: what its item count counts (empty when that part was refused), notes
    #: beside its locations, and each part refused with the permission it needs.
    back_office: bool = False
    counted: str = ""
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass
class ConnectReport:
    """What ``connect`` did: the secret's origin, each subscription, the first sync."""

    store_key: str
    address: str
    secret_env: str
    secret_origin: str
    subscriptions: list[Subscription] = field(default_factory=list)
    poll: polling.PollReport | None = None
    read_only: bool = False
    #: False where the platform's webhooks are registered in its own admin (or it sends none).
    subscribable: bool = True


def default_secret_env(store_key: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in store_key.upper()) + "_WEBHOOK_SECRET"


def _connector(store: StoreConfig) -> Connector:
    """A connector from the file's settings alone (the store need not be in the database yet)."""
    row = Store(key=store.key, platform=store.platform, name=store.name, base_url=store.base_url,
                credentials_env=store.credentials, webhook_secret_env=store.webhook_secret_env,
                options=dict(store.options))
    return connector_for(row)


def discover(path: Path, store_key: str, threshold: int = 0) -> DiscoverReport:
    """Map the store's locations and add its whole catalogue to ``[[skus]]``; save the file.

    Nothing the file already says is changed. A store the file did not mark either way is made
    read-only (``read_only = true``), and it is given a ``webhook_secret_env`` name if it had none.
    """
    document = config_file.load(path)
    store = config_file.read_store(document, store_key)
    connector = _connector(store)
    report = DiscoverReport(store_key, store.platform)
    if is_back_office(connector):
        _survey(document, store_key, connector, report)
        return _saved(path, document, report)
    report.locations = [NewLocation(found.external_id, found.name) for found in locations(connector)
                        if found.active]
    table = config_file.store_table(document, store_key)
    report.read_only = bool(config_file.set_default(table, "read_only", True, report.merge))
    config_file.set_default(table, "webhook_secret_env", default_secret_env(store_key), report.merge)
    config_file.merge_locations(document, store_key, report.locations, report.merge)
    seen: set[str] = set()
    for page in catalogue(connector):
        report.pages += 1
        report.items += len(page)
        config_file.merge_skus(document, store_key, _with_codes(page, seen, report), threshold, report.merge)
    return _saved(path, document, report)


def _survey(document: TOMLDocument, store_key: str, connector: Connector, report: DiscoverReport) -> None:
    """A back office: its locations mapped, its items counted, what its credential may not read.

    Nothing is written to a back office but purchase orders, which read-only does not hold back,
    and the backorder status once ``options.backorder_status`` asks for it, so it is not made
    read-only; it does not sell (``sells = false``) unless the file says so."""
    found = survey(connector)
    report.locations = [NewLocation(place.external_id, place.name) for place in found.locations if place.active]
    report.items, report.counted = found.items or 0, found.counted
    report.notes, report.missing, report.read_only, report.back_office = found.notes, found.missing, False, True
    config_file.set_default(config_file.store_table(document, store_key), "sells", False, report.merge)
    config_file.merge_locations(document, store_key, report.locations, report.merge)


def _saved(path: Path, document: TOMLDocument, report: DiscoverReport) -> DiscoverReport:
    """Write the file, then note what it still lacks (a problem ``config check`` would list)."""
    config_file.save(path, document)
    try:
        load_config(path)
    except ConfigError as exc:
        report.problems = exc.problems
    return report


def _with_codes(page: list[FoundItem], seen: set[str], report: DiscoverReport) -> list[NewSku]:
    """Items that can be matched: those with a code, each code once (a code on two items is noted)."""
    out = []
    for item in page:
        if item.sku is None:
            report.without_code.append(f"{item.title} (id {item.external_id})")
        elif item.sku in seen:
            report.repeated_codes.append(item.sku)
        else:
            seen.add(item.sku)
            out.append(NewSku(item.sku, item.title, item.price, item.backorders_allowed))
    return out


def _secret(store: StoreConfig, secret_env: str) -> tuple[str | None, str, bool]:
    """(secret, where it came from, whether this run made it). Shopify and Lightspeed sign with the
    app's own secret, which only the operator can give; WooCommerce takes one we choose."""
    found = store_secrets.lookup(secret_env)
    if found:
        origin = "environment" if os.environ.get(secret_env) else f"kept in {store_secrets.secrets_file()}"
        return found, origin, False
    if store.platform in PLATFORM_SECRET:
        return None, "made by the platform, kept from its subscription", False
    if store.platform not in GENERATED_SECRET:
        raise ConfigError([f"stores[{store.key}].webhook_secret_env: set {secret_env} to "
                           f"{APP_SECRET.get(store.platform, 'the secret the platform signs with')} "
                           f"({store.platform} signs webhooks with it; docs/connect-a-store.md says where to find it)"])
    secret, kept = store_secrets.generate(secret_env)
    return secret, f"generated, kept in {kept}", True


def keep_platform_secret(secret_env: str | None, subscriptions: list[Subscription]) -> None:
    """A secret the platform made for a new subscription (Airtable's MAC secret) becomes the store's."""
    made = [s.secret for s in subscriptions if s.secret]
    if made and secret_env:
        store_secrets.keep(secret_env, made[-1])


def connect(path: Path, store_key: str, public_base_url: str, owner: str) -> ConnectReport:
    """Subscribe the store's webhooks (only what is missing), load the file, and take the first
    full sync when the store has never had one. Raises ``ConfigError`` naming what to fix first."""
    document = config_file.load(path)
    table = config_file.store_table(document, store_key)
    summary = MergeSummary()
    config_file.set_default(table, "webhook_secret_env", default_secret_env(store_key), summary)
    if summary.keys_set:
        config_file.save(path, document)
    config = load_config(path)
    store = next(s for s in config.stores if s.key == store_key)
    assert store.webhook_secret_env is not None
    subscribable = store.platform in REGISTRARS
    secret, origin, is_new = _secret(store, store.webhook_secret_env) if subscribable else (None, "", False)
    report = ConnectReport(store_key, address(store.platform, public_base_url, store_key), store.webhook_secret_env,
                           origin, read_only=store.read_only, subscribable=subscribable)
    with session_scope() as session:
        apply_config(session, config)
    with session_scope() as session:
        row = session.scalar(select(Store).where(Store.key == store_key))
        assert row is not None
        connector = connector_for(row)
        store_id, synced, cursors = row.id, row.last_full_sync_at is not None, (row.stock_cursor, row.order_cursor)
    if subscribable:
        report.subscriptions = ensure(connector, report.address, secret, is_new)
        keep_platform_secret(store.webhook_secret_env, report.subscriptions)
        with session_scope() as session:
            audit.record(session, "cli", "store.webhooks", "store", store_id, address=report.address,
                         secret=origin.split(",")[0], subscriptions=[
                             {"id": s.external_id, "topic": s.topic, "outcome": s.outcome}
                             for s in report.subscriptions])
            # subscriptions that expire (Business Central's) are renewed by a timer row from now on
            subscription_renewals.schedule(session, store_id, [s.expires_at for s in report.subscriptions])
    if not synced:
        report.poll = polling.poll(get_sessionmaker(), connector, store_id, owner, full=True, stock_cursor=cursors[0],
                                   order_cursor=cursors[1], on_changed=lambda ids: None, fetch_orders=store.sells)
    return report

