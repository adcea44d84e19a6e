"""One poll of one store: stream pages, store them a group at a time, save the cursor, hand on.

Orchestration, not a rule: it drives the connector's I/O, a download thread and the store's lease
around the domain's ``record_batch`` / ``record_orders`` (``tasks.polling.poll_store`` runs it).

Memory stays flat in catalog size: a group of pages (``STORE_BATCH_RECORDS``) is stored and
forgotten while at most ``PREFETCH_PAGES`` more are being downloaded (the download runs ahead in
a thread, so fetching and storing overlap). Each group is its own transaction, and the cursor is
saved in it, so a poll that dies at page 40 of 400 resumes after the last group it stored on its
next slot rather than starting over.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector
from connectors.errors import ConnectorError
from connectors.permissions import missing_permission
from domain.core import audit, effects
from domain.core.clock import utcnow
from domain.core.models import ChannelListing, Store
from domain.stock import poll_schedule
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

log = logging.getLogger(__name__)

OnChanged = Callable[[list[int]], None]
OnProgress = Callable[[str, int], None]
T = TypeVar("T")
P = TypeVar("P")
#: Records stored per transaction: a full poll commits, saves its cursor and hands on every
#: 1,000 records (four Shopify pages) rather than every page; a poll that dies resumes there.
STORE_BATCH_RECORDS = 1000
#: Pages downloaded ahead of the ones being stored (see ``prefetched``): a whole group, so the
#: download never waits for the store.
PREFETCH_PAGES = 4
#: Unmatched codes a report keeps to list (the count covers them all).
UNMATCHED_KEPT = 200


class LeaseLost(RuntimeError):
    """Another poll holds the store now (ours expired): stop without writing anything more."""


@dataclass
class PollReport:
    store_id: int
    full: bool
    pages: int = 0
    records: int = 0
    stored: int = 0
    changed_sku_ids: set[int] = field(default_factory=set)
    unknown: int = 0
    orders: int = 0
    skipped: bool = False
    #: Codes (or, without one, platform ids) of the records naming no configured SKU or location,
    #: the first ``UNMATCHED_KEPT`` of them: what ``sync`` lists for the operator to add.
    unmatched: list[str] = field(default_factory=list)
    #: Optional parts of the poll the store refused, with the permission it lacks (the poll went on).
    warnings: list[str] = field(default_factory=list)
    #: SKUs evaluated because this was the store's first full sync (all it lists, changed or not).
    first_sync_evaluated: int = 0

    def summary(self, name: str | None = None) -> str:
        """One line; ``name`` (the store's key) in place of its id."""
        name = name or f"store {self.store_id}"
        if self.skipped:
            return f"{name}: another poll holds the lease; skipped"
        kind = "full" if self.full else "incremental"
        return (f"{name}: {kind} poll, {self.pages} pages, {self.records} records, "
                f"{len(self.changed_sku_ids)} SKUs changed, {self.unknown} unmatched, {self.orders} orders"
                + "".join(f"; warning: {w}" for w in self.warnings))


def prefetched(pages: Iterable[T], depth: int = PREFETCH_PAGES) -> Iterator[T]:
    """Iterate ``pages`` in a background thread, at most ``depth`` pages ahead of the consumer.

    Downloading is waiting on the platform and storing is waiting on the database; with the next
    page fetched while this one is stored, a poll takes about as long as the slower of the two
    rather than their sum. Memory stays bounded by ``depth`` pages. An error in the download is
    raised here, where the page would have been; when the consumer stops early (lease lost, an
    error), the thread stops after its current page.
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(("page", page)):
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the consumer and raised there
            put(("error", exc))
            return
        put(("end", None))

    thread = threading.Thread(target=produce, name="poll-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join(timeout=30)
        close = getattr(pages, "close", None)
        if callable(close) and not thread.is_alive():
            close()


def told(pages: Iterable[P], on_progress: OnProgress) -> Iterator[P]:
    """Pass each stock page on, telling ``on_progress`` of it as it is read."""
    for page in pages:
        on_progress("stock", len(page.records))  # type: ignore[attr-defined]
        yield page


def grouped(pages: Iterable[P], records: int) -> Iterator[list[P]]:
    """Consecutive pages gathered until they hold at least ``records`` records (the last group may
    hold fewer): one transaction, one cursor save and one detection message per group."""
    group: list[P] = []
    held = 0
    for page in pages:
        group.append(page)
        held += len(page.records)  # type: ignore[attr-defined]
        if held >= records:
            yield group
            group, held = [], 0
    if group:
        yield group


def poll(make_session: sessionmaker[Session], connector: Connector, store_id: int, owner: str, *,
         full: bool, stock_cursor: str | None, order_cursor: str | None, on_changed: OnChanged,
         fetch_orders: bool = True, on_backorders: OnChanged | None = None,
         on_progress: OnProgress | None = None, on_orders: OnChanged | None = None) -> PollReport:
    """Run one poll under a lease; ``on_changed`` gets each page's changed SKU ids after its commit.

    The detection those SKUs are owed is recorded in the page's own transaction (``evaluate`` rows
    of ``domain.core.effects``), so a message ``on_changed`` sends and the broker loses is swept.
    ``on_progress`` is told of each page as it is read (``"stock"`` or ``"orders"``, its record
    count): the CLI's progress bar. ``on_orders`` gets each orders page's stored order ids after
    its commit (the fraud stage scores them; its sweeper finds any a lost message missed)."""
    report = PollReport(store_id, full)
    with make_session() as session, session.begin():
        first_full = session.scalar(select(Store.last_full_sync_at).where(Store.id == store_id)) is None
        if not poll_schedule.acquire_lease(session, store_id, owner):
            report.skipped = True
            return report
    started_at = utcnow()  # once the lease is ours: the audit row brackets exactly the leased time
    try:
        pages = prefetched(connector.fetch_stock(None if full else stock_cursor))
        if on_progress is not None:
            pages = told(pages, on_progress)
        for group in grouped(pages, STORE_BATCH_RECORDS):
            records = [record for page in group for record in page.records]
            with make_session() as session, session.begin():
                if not poll_schedule.renew_lease(session, store_id, owner):
                    raise LeaseLost(f"store {store_id}: lease lost during the poll")
                result = record_batch(session, store_id, records)
                effects.record(session, effects.EVALUATE, result.changed_sku_ids, utcnow())
                poll_schedule.save_stock_cursor(session, store_id, owner, group[-1].cursor)
            report.pages += len(group)
            report.records += len(records)
            report.stored += result.stored
            report.unknown += len(result.unknown)
            note_unmatched(report, result.unknown)
            report.changed_sku_ids.update(result.changed_sku_ids)
            if result.changed_sku_ids:
                on_changed(result.changed_sku_ids)
        if full and first_full:
            everything = _evaluate_listed(make_session, store_id, report.changed_sku_ids)
            report.first_sync_evaluated = len(everything) + len(report.changed_sku_ids)
            if everything:
                report.changed_sku_ids.update(everything)
                on_changed(everything)
        if fetch_orders:
            try:
                _read_orders(make_session, connector, store_id, owner, order_cursor, report, on_changed,
                             on_backorders, on_progress, on_orders)
            except ConnectorError as exc:
                needed = missing_permission(connector.platform, "orders", exc)
                if needed is None:
                    raise
                report.warnings.append(f"orders not read: {needed} missing (HTTP {exc.status_code}); "
                                       "stock was stored and evaluated")
                log.warning("store %s: orders not read, %s missing (HTTP %s)", store_id, needed, exc.status_code)
        with make_session() as session, session.begin():
            poll_schedule.mark_polled(session, store_id, full)
            audit.record(session, "sync", "poll", "store", store_id, owner=owner, full=full,
                         started_at=started_at.isoformat(), finished_at=utcnow().isoformat(), pages=report.pages,
                         records=report.records, changed=len(report.changed_sku_ids), unknown=report.unknown,
                         orders=report.orders, **({"warnings": report.warnings} if report.warnings else {}),
                         **({"unmatched": report.unmatched[:20]} if report.unmatched else {}))
    finally:
        with make_session() as session, session.begin():
            poll_schedule.release_lease(session, store_id, owner)
    if report.unknown:
        log.info("store %s: %d records name SKUs or locations not in the configuration", store_id, report.unknown)
    return report


def _read_orders(make_session: sessionmaker[Session], connector: Connector, store_id: int, owner: str,
                 order_cursor: str | None, report: PollReport, on_changed: OnChanged,
                 on_backorders: OnChanged | None, on_progress: OnProgress | None = None,
                 on_orders: OnChanged | None = None) -> None:
    """The orders part of a poll, each page in its own transaction with its cursor."""
    for order_page in connector.fetch_orders(order_cursor):
        with make_session() as session, session.begin():
            if not poll_schedule.renew_lease(session, store_id, owner):
                raise LeaseLost(f"store {store_id}: lease lost during the poll")
            recorded = record_orders(session, store_id, order_page.records)
            effects.record(session, effects.EVALUATE, recorded.sku_ids, utcnow())
            poll_schedule.save_order_cursor(session, store_id, owner, order_page.cursor)
        report.orders += len(order_page.records)
        if on_progress is not None:
            on_progress("orders", len(order_page.records))
        if recorded.sku_ids:
            report.changed_sku_ids.update(recorded.sku_ids)
            on_changed(recorded.sku_ids)
        if recorded.backorder_ids and on_backorders is not None:
            on_backorders(recorded.backorder_ids)
        if recorded.order_ids and on_orders is not None:
            on_orders(recorded.order_ids)


def note_unmatched(report: PollReport, records: Iterable[Any]) -> None:
    """Keep the codes (platform ids when a record has no code) of records matching no configured
    SKU or location, once each, up to ``UNMATCHED_KEPT``."""
    for record in records:
        if len(report.unmatched) >= UNMATCHED_KEPT:
            return
        name = record.sku or f"{record.external_id} (no SKU code)"
        if name not in report.unmatched:
            report.unmatched.append(name)


def _evaluate_listed(make_session: sessionmaker[Session], store_id: int, evaluated: set[int]) -> list[int]:
    """After a store's first full sync every SKU it lists is evaluated, changed or not, so what is
    already out or low when the store is connected alerts at once. Recorded as owed detection
    (``effects``) in its own transaction, like each stored page."""
    with make_session() as session, session.begin():
        listed = sorted(set(session.scalars(select(ChannelListing.sku_id).where(ChannelListing.store_id == store_id)))
                        - evaluated)
        effects.record(session, effects.EVALUATE, listed, utcnow())
    return listed
