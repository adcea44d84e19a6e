"""Group commit for the web receiver: the webhooks of concurrent requests share one insert and one commit.

Each accepted delivery used to cost its own ``INSERT`` and ``COMMIT`` (two round trips and a
WAL flush), so a process could not accept more webhooks per second than PostgreSQL could flush
commits one by one. Here one writer thread per process takes everything that arrived while the
previous batch was being written, stores it with ``inbox.accept_batch`` (one statement), commits
once, asks Redis once per batch whether a drain must be woken, and only then tells each
waiting request its outcome. Nothing waits on a timer: under light load a batch holds one
event and costs what the single insert did; under heavy load batches grow by themselves.

Durability is unchanged: a request hears "accepted" or "duplicate" only after the commit that
holds its row (or the earlier row with its key) returned, with ``synchronous_commit`` as the
server has it. When the database fails, every request of the batch hears the 503 answer.
"""
from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from domain import coalesce, inbox
from domain.db import get_engine

log = logging.getLogger("workers.ingest_writer")
#: Most events per statement; a larger backlog is written as several batches in a row.
MAX_BATCH = 500


@dataclass(frozen=True)
class Outcome:
    """What a waiting request answers: its new inbox id, a duplicate, or why it was not stored."""

    event_id: int | None = None
    duplicate: bool = False
    error: str | None = None


@dataclass(frozen=True)
class _Waiting:
    event: inbox.NewEvent
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Outcome]


class InboxWriter:
    """One thread that writes queued events in batches and resolves each submitter's future."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._connection = HeldConnection()
        self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        self._thread.start()

    def submit(self, event: inbox.NewEvent) -> asyncio.Future[Outcome]:
        """Queue ``event``; the future completes once its batch is committed (or failed)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._queue.put(_Waiting(event, loop, future))
        return future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                outcomes = write_batch(self._connection, [w.event for w in batch])
            except Exception:  # the thread must outlive any surprise, or every later request would hang
                log.exception("%d webhook(s) not stored", len(batch))
                outcomes = [Outcome(error="could not store the event, retry later")] * len(batch)
            resolve(batch, outcomes)


class HeldConnection:
    """The writer's own autocommit connection, kept between batches.

    A batch is ONE statement, so in autocommit it is its own transaction: PostgreSQL commits
    it (WAL flushed, ``synchronous_commit`` as configured) before it reports the statement done,
    and psycopg returns only after that report. One round trip per batch, where a pooled
    connection with ``BEGIN`` … ``COMMIT`` took four (pre-ping, begin, insert, commit). The
    connection is given up after any error, when the engine was replaced (tests point the
    process at another database), and after ``IDLE_LIMIT_S`` without use, so a PostgreSQL
    restart during a quiet spell costs no batch: the next checkout's pre-ping finds it.
    """

    IDLE_LIMIT_S = 1.0

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._connection: Connection | None = None
        self._used_at = 0.0

    def get(self) -> Connection:
        engine = get_engine()
        if self._connection is not None and (
                engine is not self._engine or time.monotonic() - self._used_at > self.IDLE_LIMIT_S):
            self.discard()
        if self._connection is None:
            self._connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._engine = engine
        return self._connection

    def done(self) -> None:
        self._used_at = time.monotonic()

    def discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(Exception):  # it may be broken already; it is going away either way
                connection.invalidate()
                connection.close()


def write_batch(held: HeldConnection, events: list[inbox.NewEvent]) -> list[Outcome]:
    """Store (one autocommit statement), wake drains; one outcome per event, never raises."""
    try:
        connection = held.get()
        ids = inbox.accept_batch(connection, events)
        connection.commit()  # ends SQLAlchemy's bookkeeping; the statement committed already
        held.done()
    except OperationalError as exc:
        held.discard()
        log.error("%d webhook(s) not stored, database unavailable: %s", len(events), str(exc).splitlines()[0])
        return [Outcome(error="database unavailable, retry later")] * len(events)
    except Exception:  # SQLAlchemyError or anything else: no 500, and never a dead writer thread
        held.discard()
        log.exception("%d webhook(s) not stored", len(events))
        return [Outcome(error="could not store the event, retry later")] * len(events)
    try:
        wake_drains([e.source for e, event_id in zip(events, ids) if event_id is not None])
    except Exception:  # the rows are committed; the inbox sweeper wakes a drain for them
        log.exception("could not wake drains after storing %d webhook(s)", len(events))
    return [Outcome(event_id=event_id) if event_id is not None else Outcome(duplicate=True) for event_id in ids]


def wake_drains(sources: list[str]) -> None:
    """After the commit: enqueue a drain for each source whose coalescing flag was not standing."""
    from tasks.inbound import drain

    for source in coalesce.should_wake_many(sources):
        try:
            drain.delay(source)
        except Exception:  # broker down: the row is committed and the inbox sweeper will wake a drain
            log.exception("could not enqueue drain for %s; the inbox sweeper will pick it up", source)
            coalesce.clear(source)


def resolve(batch: list[_Waiting], outcomes: list[Outcome]) -> None:
    """Hand each request its outcome on its own event loop: one wake-up per loop, not per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Outcome], Outcome]]] = {}
    for waiting, outcome in zip(batch, outcomes):
        by_loop.setdefault(waiting.loop, []).append((waiting.future, outcome))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, settled)
        except RuntimeError:  # that event loop is closed: nobody is waiting any more
            log.debug("%d webhook outcome(s) dropped: their event loop is closed", len(settled))


def _settle(settled: list[tuple[asyncio.Future[Outcome], Outcome]]) -> None:
    for future, outcome in settled:
        if not future.done():  # the client may have gone away meanwhile
            future.set_result(outcome)


_writer: InboxWriter | None = None
_writer_pid = 0
_writer_lock = threading.Lock()


def get_writer() -> InboxWriter:
    """This process's writer, started on first use (and again in a forked child)."""
    global _writer, _writer_pid
    pid = os.getpid()
    if _writer is None or _writer_pid != pid:
        with _writer_lock:
            if _writer is None or _writer_pid != pid:
                _writer, _writer_pid = InboxWriter(), pid
    return _writer
