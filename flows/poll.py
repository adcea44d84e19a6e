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

from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector
from domain.core import audit, effects
from domain.core.clock import utcnow
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

    def summary(self, name: str | None = None) -> str:
        """One line; ``name`` (the store's key) in place of its id."""
        name = name or f"store {self.store_id}"
        if self.skipped:
            return f"{name}: another poll holds the lease; skipped"
        kind = "full" if self.full else "incremental"
        return (f"{name}: {kind} poll, {self.pages} pages, {self.records} records, "
                f"{len(self.changed_sku_ids)} SKUs changed, {self.unknown} unmatched, {self.orders} orders")


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
         on_progress: OnProgress | None = None) -> PollReport:
    """Run one poll under a lease; ``on_changed`` gets each page's changed SKU ids after its commit.

    The detection those SKUs are owed is recorded in the page's own transaction (``evaluate`` rows
    of ``domain.core.effects``), so a message ``on_changed`` sends and the broker loses is swept.
    ``on_progress`` is told of each page as it is read (``"stock"`` or ``"orders"``, its record
    count): the CLI's progress bar."""
    report = PollReport(store_id, full)
    with make_session() as session, session.begin():
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
            report.changed_sku_ids.update(result.changed_sku_ids)
            if result.changed_sku_ids:
                on_changed(result.changed_sku_ids)
        if fetch_orders:
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
        with make_session() as session, session.begin():
            poll_schedule.mark_polled(session, store_id, full)
            audit.record(session, "sync", "poll", "store", store_id, owner=owner, full=full,
                         started_at=started_at.isoformat(), finished_at=utcnow().isoformat(), pages=report.pages,
                         records=report.records, changed=len(report.changed_sku_ids), unknown=report.unknown,
                         orders=report.orders)
    finally:
        with make_session() as session, session.begin():
            poll_schedule.release_lease(session, store_id, owner)
    if report.unknown:
        log.info("store %s: %d records name SKUs or locations not in the configuration", store_id, report.unknown)
    return report
