"""Answer every platform and provider within a budget, whatever PostgreSQL is doing.

Probe: PostgreSQL stopped (SIGSTOP) for 6 s while Shopify-style webhooks arrived with a 5 s
sender timeout: 6 of 6 deliveries timed out without an answer. A platform that sees timeouts
retries and, after enough of them, disables the webhook; a 503 with ``Retry-After`` is the
answer it expects from a receiver that cannot store right now. So every request a platform or
provider makes (``DEADLINE_PATHS``) carries a deadline of ``WEBHOOK_DEADLINE_S`` (default 3 s,
Shopify allows 5) from its arrival:

* ``DeadlineMiddleware`` (outermost) answers 503 with ``Retry-After`` when the handler has not
  started its answer by the deadline. The handler is not cancelled — a thread cannot be — it is
  abandoned: it finishes on its own and its answer is dropped. Every handler here is idempotent
  (the inbox dedupes webhooks, callbacks move an outbox row forward), so a write that commits
  after its 503 makes the platform's retry a duplicate 200, never a second effect.
* Blocking database work of the webhook path runs through ``run_blocking`` on a small executor
  of its own, so threads stuck on a stalled server cannot starve the server's thread pool.
* The inbox writer (``workers.ingest_writer``) abandons a batch at the deadline and discards its
  connection, so the next batch starts on a fresh one.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from typing import Any, TypeVar

from domain.core.liveness import positive_float

log = logging.getLogger("workers.deadlines")
T = TypeVar("T")

#: Where platforms and providers post: webhooks, delivery callbacks, inbound SMS.
DEADLINE_PATHS = ("/webhooks/", "/callbacks/", "/sms/")
#: Seconds of the budget kept for writing the answer once the work gave up.
ANSWER_MARGIN_S = 0.25
#: What a 503 tells the platform to wait before its retry.
RETRY_AFTER_S = 5
SCOPE_KEY = "backorders.deadline"


class DeadlineExceeded(Exception):
    """The work did not finish before the request's deadline; it was abandoned, not cancelled."""


@lru_cache(maxsize=1)
def budget_s() -> float:
    """``WEBHOOK_DEADLINE_S``: the longest a platform waits for our answer (default 3 s)."""
    return positive_float(os.environ, "WEBHOOK_DEADLINE_S", 3.0)


def deadline_of(scope: dict[str, Any]) -> float:
    """The request's deadline (``time.monotonic()``), set on arrival by ``DeadlineMiddleware``."""
    deadline = scope.get(SCOPE_KEY)
    if deadline is None:
        deadline = scope[SCOPE_KEY] = time.monotonic() + budget_s()
    return float(deadline)


def work_deadline(deadline: float) -> float:
    """When the work itself must give up, leaving time to send the 503."""
    return deadline - ANSWER_MARGIN_S


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=int(os.environ.get("DEADLINE_THREADS", "16")),
                              thread_name_prefix="deadline")


async def run_blocking(deadline: float, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` in a thread and wait for it until ``deadline`` (monotonic); raise
    ``DeadlineExceeded`` past it. The thread is abandoned, not stopped: it ends when its own
    timeouts (connect, statement, TCP) or the server let it."""
    future = asyncio.get_running_loop().run_in_executor(_executor(), fn, *args)
    try:
        return await asyncio.wait_for(future, timeout=max(0.0, work_deadline(deadline) - time.monotonic()))
    except TimeoutError:
        raise DeadlineExceeded(getattr(fn, "__name__", "work")) from None


def unavailable_body(reason: str) -> bytes:
    return json.dumps({"error": reason}).encode()


class DeadlineMiddleware:
    """ASGI middleware: a request on ``DEADLINE_PATHS`` gets an answer by its deadline, a 503 with
    ``Retry-After`` if the handler has not begun one. See the module docstring."""

    def __init__(self, app: Any, paths: tuple[str, ...] = DEADLINE_PATHS) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope.get("path", "").startswith(self.paths):
            await self.app(scope, receive, send)
            return
        deadline = deadline_of(scope)
        started = False
        abandoned = False

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if abandoned:
                return  # the platform already has its 503
            started = True
            await send(message)

        # A task, so this call can return with a 503 while the handler goes on; one future that
        # the handler's end or a timer opens, not ``asyncio.wait`` (its sets, waiter and callbacks
        # cost 8 µs per request against 5 here, measured with uvloop; every webhook pays it).
        loop = asyncio.get_running_loop()
        handler = loop.create_task(self.app(scope, receive, guarded_send))
        gate = loop.create_future()
        handler.add_done_callback(partial(_open, gate))
        timer = loop.call_later(max(0.0, deadline - time.monotonic()), _open, gate)
        try:
            await gate
        finally:
            timer.cancel()
        if handler.done():
            handler.result()  # re-raise what the handler raised, as without this middleware
            return
        if started:  # the answer is on its way (a large body, a slow client): let it finish
            await handler
            return
        abandoned = True
        handler.add_done_callback(_log_abandoned(scope.get("path", "")))
        log.error("%s: no answer within %.1fs; answered 503 and left the handler to finish", scope.get("path"),
                  budget_s())
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", str(RETRY_AFTER_S).encode())]})
        await send({"type": "http.response.body",
                    "body": unavailable_body(f"not handled within {budget_s():g}s, retry later")})


def _open(gate: asyncio.Future[None], _: object = None) -> None:
    if not gate.done():
        gate.set_result(None)


def _log_abandoned(path: str) -> Callable[[asyncio.Future[None]], None]:
    def done(task: asyncio.Future[None]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.warning("%s: the abandoned handler failed afterwards: %r", path, task.exception())
        else:
            log.info("%s: the abandoned handler finished afterwards (a retry will see its effect)", path)
    return done
