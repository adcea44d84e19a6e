"""Group commit for the web receiver: the webhooks of concurrent requests share one insert and one commit.

Each accepted delivery used to cost its own ``INSERT`` and ``COMMIT`` (two round trips and a
WAL flush), so a process could not accept more webhooks per second than PostgreSQL could flush
commits one by one. Here one writer task per event loop (one per uvicorn worker) takes every
event that arrived while the previous batch was being written, stores them with
``webhook_inbox.accept_batch_async`` (one statement), asks Redis once per batch whether a drain must be
woken, and only then tells each waiting request its outcome. Nothing waits on a timer: under
light load a batch holds one event and costs what the single insert did; under heavy load
batches grow by themselves.

The writer runs on the event loop with psycopg's async connection, not in a thread: a thread
needs the GIL back after every socket wait, and while the loop is busy serving requests that
costs up to the interpreter's switch interval (5 ms) each time, several times per batch.

Durability is unchanged: a request hears "accepted" or "duplicate" only after the statement
holding its row (or the earlier row with its key) has committed, with ``synchronous_commit`` as
the server has it. When the database fails, every request of the batch hears the 503 answer.

Deadlines (``workers.deadlines``): each event carries its request's deadline. A batch still
unwritten at the earliest of them is abandoned: its requests hear 503 at once, the statement is
left to finish or fail on its own (it is never cancelled: a cancel request to a stopped server
would block too), and its connection is closed afterwards instead of serving another batch. If
it commits after all, the platform's retry is answered "duplicate". Server-side, the writer's
connections carry ``statement_timeout`` and ``lock_timeout``, and TCP keepalives with
``tcp_user_timeout`` end a connection whose peer stopped acknowledging. An event whose request
gave up while it still waited for a batch is withdrawn, never written after its 503.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
import weakref
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import psycopg
import redis.asyncio as aredis
from sqlalchemy.engine import make_url

import tasks.inbound  # noqa: F401  (loaded with this module: see ``enqueue_drain``)
from domain.core import coalesce, log_context
from domain.core.env_settings import get_settings
from domain.core.liveness import keepalive_options
from domain.core.stages import FollowUp, Stage
from domain.stock import webhook_inbox
from flows.spine import send_now

log = logging.getLogger("workers.ingest_writer")
#: Most events per statement; a larger backlog is written as several batches in a row.
MAX_BATCH = 500
#: Batches in flight at once per event loop (see ``InboxWriter``).
SLOTS = int(os.environ.get("INGEST_WRITER_SLOTS", "2"))
UNAVAILABLE = "database unavailable, retry later"
NOT_STORED = "could not store the event, retry later"
TOO_SLOW = "database did not answer in time, retry later"
#: Abandoned batches still running per event loop, past which new batches are not even tried
#: (each holds a connection to a server that is not answering).
MAX_ABANDONED = int(os.environ.get("INGEST_WRITER_MAX_ABANDONED", "8"))
#: Server-side limits on the writer's statements (ms): a batch insert takes milliseconds, so
#: anything near these is a stall (locks, I/O), and 503 now beats an answer after the deadline.
STATEMENT_TIMEOUT_MS = int(os.environ.get("INGEST_STATEMENT_TIMEOUT_MS", "2000"))
LOCK_TIMEOUT_MS = int(os.environ.get("INGEST_LOCK_TIMEOUT_MS", "1000"))


@dataclass(frozen=True)
class Outcome:
    """What a waiting request answers: its new inbox id, a duplicate, or why it was not stored."""

    event_id: int | None = None
    duplicate: bool = False
    error: str | None = None


def psycopg_url(database_url: str) -> str:
    """psycopg wants the plain ``postgresql://`` scheme; the settings may name a driver."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class HeldConnection:
    """The writer's own autocommit connection, kept between batches.

    A batch is ONE statement, so in autocommit it is its own transaction: PostgreSQL commits it
    (WAL flushed) before it reports the statement done, and psycopg returns only after that
    report. One round trip per batch, where a pooled connection with ``BEGIN`` … ``COMMIT`` took
    four (pre-ping, begin, insert, commit). The connection is given up after any error and
    when the configured database changes (tests point the process elsewhere); after
    ``IDLE_LIMIT_S`` without use it is pinged first, so a PostgreSQL restart during a quiet spell
    costs a reconnect, not a batch. ``reused`` tells the writer whether the last ``get`` handed
    out a connection that served an earlier batch (see ``InboxWriter.store``).
    """

    IDLE_LIMIT_S = 1.0
    CONNECT_TIMEOUT_S = 3
    APPLICATION_NAME = "backorders-inbox-writer"

    def __init__(self) -> None:
        self._url = ""
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._used_at = 0.0
        self.reused = False

    async def get(self) -> psycopg.AsyncConnection[Any]:
        url = get_settings().database_url
        if self._connection is not None and (url != self._url or self._connection.closed):
            await self.discard()
        if self._connection is not None and time.monotonic() - self._used_at > self.IDLE_LIMIT_S:
            try:
                await self._connection.execute("SELECT 1")
            except psycopg.Error:
                await self.discard()
        self.reused = self._connection is not None
        if self._connection is None:
            self._connection = await psycopg.AsyncConnection.connect(
                psycopg_url(url), autocommit=True, connect_timeout=self.CONNECT_TIMEOUT_S,
                application_name=self.APPLICATION_NAME, **connection_limits())
            self._url = url
        return self._connection

    def done(self) -> None:
        self._used_at = time.monotonic()

    async def discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(Exception):  # it may be broken already; it is going away either way
                await connection.close()


def connection_limits() -> dict[str, Any]:
    """libpq options for the writer's connections: statement and lock timeouts, keepalives."""
    return {"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS}",
            **keepalive_options(STATEMENT_TIMEOUT_MS / 1000)}


class InboxWriter:
    """Tasks on one event loop that write queued events in batches and resolve their futures.

    ``slots`` batches may be in flight at once, each on its own connection: a request that
    arrives while one batch waits for its commit starts in the next batch at once instead of
    waiting a whole round trip for its turn, and one batch's drain-flag check overlaps the
    next one's insert. Keys are inserted in a fixed order, so concurrent batches never deadlock.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_batch: int = MAX_BATCH, slots: int = SLOTS) -> None:
        self.max_batch = max_batch
        self._waiting: list[tuple[webhook_inbox.NewEvent, asyncio.Future[Outcome], float]] = []
        self._abandoned: set[asyncio.Task[list[Outcome]]] = set()
        self._wakeup = asyncio.Event()
        self._redis: aredis.Redis | None = None
        self._tasks = [loop.create_task(self._run(HeldConnection()), name=f"inbox-writer-{n}") for n in range(slots)]

    def submit(self, event: webhook_inbox.NewEvent, deadline: float | None = None) -> asyncio.Future[Outcome]:
        """Queue ``event``; the future completes once its batch is committed (or failed, or
        abandoned at ``deadline``, a ``time.monotonic()`` reading; default: no deadline)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future, float("inf") if deadline is None else deadline))
        self._wakeup.set()
        return future

    def withdraw(self, future: asyncio.Future[Outcome]) -> bool:
        """Take back an event not yet handed to a batch (its request gave up): True if it was."""
        for index, (_, waiting, _) in enumerate(self._waiting):
            if waiting is future:
                del self._waiting[index]
                return True
        return False

    @property
    def abandoned(self) -> int:
        """Batches given up on whose statements have not ended yet."""
        return len(self._abandoned)

    def running(self) -> bool:
        return not any(task.done() for task in self._tasks)

    async def _run(self, held: HeldConnection) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._waiting:
                    batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
                    try:
                        outcomes, held = await self.write_by(min(d for _, _, d in batch), held,
                                                             [event for event, _, _ in batch])
                    except Exception:  # the task must outlive any surprise, or later requests would hang
                        log.exception("%d webhook(s) not stored", len(batch))
                        outcomes = [Outcome(error=NOT_STORED)] * len(batch)
                    for (_, future, _), outcome in zip(batch, outcomes):
                        if not future.done():  # the client may have gone away meanwhile
                            future.set_result(outcome)
        finally:
            await held.discard()
            redis_client, self._redis = self._redis, None
            if redis_client is not None:
                with suppress(Exception):
                    await redis_client.aclose()

    async def write_by(self, deadline: float, held: HeldConnection, events: list[webhook_inbox.NewEvent]
                       ) -> tuple[list[Outcome], HeldConnection]:
        """``write`` bounded by ``deadline`` (monotonic): its outcomes and the connection to use next.

        Past the deadline the write is abandoned (503 for the batch) and keeps running in the
        background with its connection, which it closes when it ends; the slot goes on with a
        fresh ``HeldConnection``."""
        if len(self._abandoned) >= MAX_ABANDONED:
            log.error("%d webhook(s) not tried: %d earlier batches still wait on the database", len(events),
                      len(self._abandoned))
            return [Outcome(error=TOO_SLOW)] * len(events), held
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return [Outcome(error=TOO_SLOW)] * len(events), held
        task = asyncio.ensure_future(self.write(held, events))
        done, _ = await asyncio.wait({task}, timeout=None if remaining == float("inf") else remaining)
        if done:
            return task.result(), held
        self._abandoned.add(task)
        task.add_done_callback(lambda finished: self._forget(finished, held, len(events)))
        log.error("%d webhook(s) answered 503: the database did not answer within the deadline; "
                  "the batch is abandoned (a later commit makes the retry a duplicate)", len(events))
        return [Outcome(error=TOO_SLOW)] * len(events), HeldConnection()

    def _forget(self, task: asyncio.Task[list[Outcome]], held: HeldConnection, count: int) -> None:
        """An abandoned batch ended: close its connection (never reused) and say how it ended."""
        self._abandoned.discard(task)
        asyncio.ensure_future(held.discard())
        if task.cancelled():
            return
        if task.exception() is not None:
            log.warning("abandoned batch of %d webhook(s) failed: %r", count, task.exception())
        else:
            stored = sum(1 for outcome in task.result() if outcome.error is None)
            log.warning("abandoned batch of %d webhook(s) finished late: %d stored (their retries are duplicates)",
                        count, stored)

    async def write(self, held: HeldConnection, events: list[webhook_inbox.NewEvent]) -> list[Outcome]:
        """Store (one autocommit statement), wake drains; one outcome per event."""
        try:
            ids, retried = await self.store(held, events)
        except psycopg.OperationalError as exc:
            await held.discard()
            log.error("%d webhook(s) not stored, database unavailable: %s", len(events),
                      str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return [Outcome(error=UNAVAILABLE)] * len(events)
        except Exception:  # any other failure: 503 (never 500), and a fresh connection next time
            await held.discard()
            log.exception("%d webhook(s) not stored", len(events))
            return [Outcome(error=NOT_STORED)] * len(events)
        try:
            # After a retry, "duplicate" may mean "committed by the lost first attempt": wake for all.
            woken = [e for e, event_id in zip(events, ids) if event_id is not None or retried]
            await self.wake_drains([e.source for e in woken], correlation_ids(woken))
        except Exception:  # the rows are committed; the inbox sweeper wakes a drain for them
            log.exception("could not wake drains after storing %d webhook(s)", len(events))
        return [Outcome(event_id=event_id) if event_id is not None else Outcome(duplicate=True) for event_id in ids]

    async def store(self, held: HeldConnection, events: list[webhook_inbox.NewEvent]) -> tuple[list[int | None], bool]:
        """The batch statement; once more on a new connection when a kept one turns out broken.
        Returns the ids and whether the statement was retried.

        A connection that served earlier batches can be dead without the client knowing yet
        (PostgreSQL restarted, the backend was terminated). Retrying is safe even if the first
        attempt committed before the connection broke: its keys are then in the inbox and the
        second attempt answers them "duplicate" — still a 200 for a stored row, never a second row.
        """
        connection = await held.get()
        try:
            ids = await webhook_inbox.accept_batch_async(connection, events)
            retried = False
        except psycopg.OperationalError as exc:
            if not held.reused:
                raise
            log.warning("inbox writer connection lost (%s); retrying the batch on a new one",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            await held.discard()
            ids = await webhook_inbox.accept_batch_async(await held.get(), events)
            retried = True
        held.done()
        return ids, retried

    async def wake_drains(self, sources: list[str], correlation: dict[str, str] | None = None) -> None:
        """After the commit: enqueue a drain for each source whose coalescing flag was not standing.
        The flag check is one pipelined round trip per batch; publishing (rare: once per drain)
        runs in a thread, since the broker client blocks. The drain carries the correlation id of
        the first webhook of its store in the batch (``correlation``: source → id)."""
        if not sources:
            return
        if self._redis is None:
            self._redis = coalesce.async_client()
        for source in await coalesce.should_wake_many_async(self._redis, sources):
            await asyncio.get_running_loop().run_in_executor(None, enqueue_drain, source,
                                                             (correlation or {}).get(source))


def correlation_ids(events: list[webhook_inbox.NewEvent]) -> dict[str, str]:
    """Each source's first correlation id among ``events`` (set by the receiver on the payload)."""
    found: dict[str, str] = {}
    for event in events:
        value = event.payload.get(log_context.CORRELATION_ID)
        if value and event.source not in found:
            found[event.source] = str(value)
    return found


def enqueue_drain(source: str, correlation_id: str | None = None) -> None:
    """Publish a drain through the pipeline's table (``flows.spine``), in a thread: the broker
    client blocks. The drain's task module is imported with this module, not here: loading Celery
    and the task modules holds the GIL for a second, which during the first wake-up under traffic
    stalled every request of the process."""
    try:
        with log_context.bound(correlation_id=correlation_id, store=source):
            send_now([FollowUp(Stage.DRAIN, (source,))])
    except Exception:  # broker down: the row is committed and the inbox sweeper will wake a drain
        log.exception("could not enqueue drain for %s; the inbox sweeper will pick it up", source)
        coalesce.clear(source)


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, InboxWriter] = weakref.WeakKeyDictionary()


def get_writer() -> InboxWriter:
    """The running event loop's writer, started on first use (a test client may use many loops)."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None or not writer.running():
        writer = _writers[loop] = InboxWriter(loop)
    return writer
