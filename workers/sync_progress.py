"""``backorders sync STORE``: progress while it runs, and what changed when it is done.

A full sync of a 20,000-record catalogue takes minutes; silence for that long reads as a hang. On
a terminal a progress bar (``rich``) shows the store's key, records read of those expected, pages,
the rate and the time left; elsewhere (a pipe, a log file, cron) a plain line every
``SYNC_PROGRESS_EVERY_S`` seconds (default 5) says the same. The expected count is the records
the store's last full poll read (its ``poll`` audit row); a first sync has none, so the bar only
counts and no time left is shown.

At the end, the SKUs whose available figure at this store changed, ``old → new`` (``-`` for one
seen for the first time), the first ``MAX_LISTED`` of them and how many in all.
"""
from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Any, TextIO

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import AuditLog, Sku, StockLevel

MAX_LISTED = 20


def expected_records(session: Session, store_id: int) -> int | None:
    """Records the store's last full poll read, if it had one."""
    value = session.scalar(select(AuditLog.data["records"].as_integer()).where(
        AuditLog.action == "poll", AuditLog.subject_type == "store", AuditLog.subject_id == str(store_id),
        AuditLog.data["full"].as_boolean().is_(True)).order_by(AuditLog.id.desc()).limit(1))
    return int(value) if value else None


def available_by_sku(session: Session, store_id: int) -> dict[int, int]:
    """Each SKU's available figure at this store (summed over its locations there)."""
    return {sku_id: int(total) for sku_id, total in session.execute(
        select(StockLevel.sku_id, func.sum(StockLevel.available)).where(StockLevel.store_id == store_id)
        .group_by(StockLevel.sku_id))}


def changes(session: Session, before: dict[int, int], after: dict[int, int]) -> list[tuple[str, int | None, int]]:
    """``(code, old, new)`` for each SKU whose figure changed, by code."""
    moved = {sku_id: new for sku_id, new in after.items() if before.get(sku_id) != new}
    if not moved:
        return []
    codes = {sku_id: code for sku_id, code in session.execute(select(Sku.id, Sku.code).where(Sku.id.in_(list(moved))))}
    return sorted((codes.get(sku_id, f"#{sku_id}"), before.get(sku_id), new) for sku_id, new in moved.items())


def print_changes(store_key: str, changed: list[tuple[str, int | None, int]], echo: Any = click.echo) -> None:
    if not changed:
        echo(f"{store_key}: no available figure changed")
        return
    echo(f"{store_key}: available changed for {len(changed)} SKU(s):")
    for code, old, new in changed[:MAX_LISTED]:
        echo(f"  {code}: {'-' if old is None else old} → {new}")
    if len(changed) > MAX_LISTED:
        echo(f"  … and {len(changed) - MAX_LISTED} more")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class SyncProgress:
    """A progress bar on a terminal, plain periodic lines otherwise; ``update`` is the poll's
    ``on_progress`` hook."""

    def __init__(self, store_key: str, expected: int | None, full: bool, stream: TextIO | None = None,
                 every_s: float | None = None, bar: bool | None = None) -> None:
        self.store_key, self.expected, self.full = store_key, expected, full
        self.stream = stream or sys.stderr
        self.every_s = float(os.environ.get("SYNC_PROGRESS_EVERY_S", "5")) if every_s is None else every_s
        self.bar = self.stream.isatty() if bar is None else bar
        self.records = self.pages = self.orders = 0
        self.started = time.monotonic()
        self._last_line = self.started
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> SyncProgress:
        self.started = self._last_line = time.monotonic()
        if self.bar:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("records"),
                TextColumn("{task.fields[pages]} pages"), TextColumn("{task.fields[rate]}/s"),
                TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=False)
            self._progress.start()
            kind = "full sync" if self.full else "sync"
            self._task = self._progress.add_task(f"{self.store_key} {kind}", total=self.expected, pages=0, rate="0")
        else:
            expected = f" of ~{self.expected:,} expected" if self.expected else ""
            self._line(f"{self.store_key}: {'full ' if self.full else ''}sync started{expected}")
        return self

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.records / elapsed if elapsed > 0 else 0.0

    def left_s(self) -> float | None:
        rate = self.rate()
        if not self.expected or rate <= 0 or self.records >= self.expected:
            return None
        return (self.expected - self.records) / rate

    def update(self, kind: str, count: int) -> None:
        """One page read: ``kind`` is ``stock`` or ``orders``."""
        if kind == "orders":
            self.orders += count
        else:
            self.records += count
            self.pages += 1
        if self._progress is not None:
            total = max(self.expected or 0, self.records) if self.expected else None
            self._progress.update(self._task, completed=self.records, total=total, pages=self.pages,
                                  rate=f"{self.rate():,.0f}")
        elif time.monotonic() - self._last_line >= self.every_s:
            self._line(self.status())

    def status(self) -> str:
        left = self.left_s()
        parts = [f"{self.records:,} records" + (f" of ~{self.expected:,}" if self.expected else ""),
                 f"{self.pages} pages", f"{self.rate():,.0f}/s", f"{_duration(time.monotonic() - self.started)} elapsed"]
        if left is not None:
            parts.append(f"~{_duration(left)} left")
        if self.orders:
            parts.append(f"{self.orders:,} orders")
        return f"{self.store_key}: " + ", ".join(parts)

    def _line(self, text: str) -> None:
        self._last_line = time.monotonic()
        print(text, file=self.stream, flush=True)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
        else:
            self._line(self.status() + (" (stopped)" if exc_type else " (done)"))
