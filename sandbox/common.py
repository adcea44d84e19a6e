"""What every platform stand-in shares: injected faults, the request log, per-instance state.

The platform modules (Shopify, WooCommerce, Lightspeed, NetSuite, Odoo) differ in their wire
formats — error bodies, auth, rate limits, which requests they log, which fault options they
accept — and agree on the rest: a fault is consumed by the first request it matches, the log
answers ``GET _admin/requests?method=&path_contains=``, and an instance's state is created the
first time its name is used. That agreement lives here once, and ``sandbox.kit`` builds a whole
stand-in on it, so the admin endpoints behave the same on every platform (docs/sandbox.md).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

#: How many requests an instance's log keeps; the oldest fall off first.
REQUEST_LOG_SIZE = 10_000

#: The platform's own error body for a fault that brings none, given the answer's status.
DefaultBody = Callable[[int], Any]


def retry_headers(retry_after: str | None) -> dict[str, str] | None:
    """A ``Retry-After`` header when there is a value to send, else no extra headers at all."""
    return {"Retry-After": retry_after} if retry_after else None


@dataclass
class Fault:
    """An injected misbehaviour for the next ``remaining`` API requests that match it.

    A plain fault answers ``status`` (after ``delay_s``, which simulates a read timeout) instead
    of handling the request. An ``after_apply`` fault lets the request be handled and only spoils
    its answer: the "applied, but the answer was lost" case that idempotent retries must survive.
    """

    status: int
    remaining: int
    retry_after: str | None = None
    body: Any = None
    delay_s: float = 0.0
    path_contains: str | None = None
    method: str | None = None
    after_apply: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and (not self.path_contains or self.path_contains in path) \
            and (not self.method or self.method.upper() == method.upper())

    def late_view(self) -> dict[str, Any]:
        """What an ``after_apply`` fault does to the answer, kept in the (JSON) request log entry."""
        return {"status": self.status, "delay_s": self.delay_s, "retry_after": self.retry_after,
                "body": self.body}


def answering_fault(payload: Mapping[str, Any], retry_after: Any = None) -> Fault:
    """A fault that answers in place of the platform: ``status`` (required), ``count``,
    ``retry_after`` (sent verbatim unless the caller computed one), ``body``, ``delay_s``,
    ``path_contains``. Lightspeed and NetSuite accept no more than this."""
    if retry_after is None:
        retry_after = payload.get("retry_after")
    return Fault(status=int(payload["status"]), remaining=int(payload.get("count", 1)),
                 retry_after=None if retry_after is None else str(retry_after), body=payload.get("body"),
                 delay_s=float(payload.get("delay_s", 0)), path_contains=payload.get("path_contains"))


def any_fault(payload: Mapping[str, Any]) -> Fault:
    """Every option (Shopify, WooCommerce): also ``method`` and ``after_apply``; ``status`` may be
    left out, which with ``after_apply`` only delays the answer."""
    retry_after = payload.get("retry_after")
    return Fault(status=int(payload.get("status") or 0), remaining=int(payload.get("count", 1)),
                 retry_after=None if retry_after is None else str(retry_after), body=payload.get("body"),
                 delay_s=float(payload.get("delay_s", 0)), path_contains=payload.get("path_contains"),
                 method=payload.get("method"), after_apply=bool(payload.get("after_apply", False)))


class RequestLog:
    """The API requests one instance received, oldest first: how tests assert what a connector sent.

    Entries are plain dicts the handler keeps filling in (``status`` once it answers, plus any
    platform extras), so the log shows what was answered, not only what was asked.
    """

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        self._entries.append(entry)
        return entry

    def record(self, request: Request, body: Any, at: str) -> dict[str, Any]:
        """The usual entry: method, path, query, body (as the platform chose to keep it), time."""
        return self.append({"method": request.method, "path": request.url.path,
                            "query": dict(request.query_params), "body": body, "status": None, "at": at})

    def rows(self, method: str | None = None, path_contains: str | None = None) -> list[dict[str, Any]]:
        return [r for r in list(self._entries)
                if (not method or r["method"] == method.upper())
                and (not path_contains or path_contains in r["path"])]

    def clear(self) -> None:
        self._entries.clear()


@dataclass
class PlatformState:
    """What every instance has besides its platform's data: its name, faults, log and lock.

    Platform states subclass it and add only fields with defaults, so ``State(name)`` builds one.
    """

    name: str
    faults: list[Fault] = field(default_factory=list)
    requests: RequestLog = field(default_factory=RequestLog)
    lock: threading.RLock = field(default_factory=threading.RLock)


State = TypeVar("State", bound=PlatformState)


class Instances(Generic[State]):
    """Every instance's state, created with defaults the first time its name is used.

    One per sandbox app (kept on ``app.state.<platform>``, not in module globals), so a test can
    run several independent sandboxes.
    """

    def __init__(self, factory: Callable[[str], State]) -> None:
        self.instances: dict[str, State] = {}
        self._factory = factory
        self._lock = threading.Lock()

    def get(self, name: str) -> State:
        with self._lock:
            if name not in self.instances:
                self.instances[name] = self._factory(name)
            return self.instances[name]


def fault_answer(state: PlatformState, request: Request, entry: dict[str, Any],
                 default_body: DefaultBody) -> JSONResponse | None:
    """The answer an injected fault gives instead of the platform, or None to handle the request.

    Consumes one use of the first fault matching the request. An ``after_apply`` fault is only
    noted on the log entry (:func:`late_answer` spoils the answer after the write). Any other
    waits ``delay_s`` — holding the instance lock, as the stand-ins always have — and answers its
    status with its body, or with the platform's ``default_body`` when it brought none.
    """
    with state.lock:
        for fault in state.faults:
            if fault.matches(request.method, request.url.path):
                fault.remaining -= 1
                if fault.after_apply:
                    entry["late_fault"] = fault.late_view()
                    return None
                if fault.delay_s:
                    time.sleep(fault.delay_s)
                entry["status"] = fault.status
                content = fault.body if fault.body is not None else default_body(fault.status)
                headers = retry_headers(fault.retry_after)
                return JSONResponse(content, status_code=fault.status, headers=headers)
    return None


def late_answer(entry: dict[str, Any], content: Any, status: int, headers: dict[str, str] | None,
                default_body: DefaultBody) -> tuple[Any, int, dict[str, str] | None]:
    """The answer to a handled request after an ``after_apply`` fault noted on its log entry.

    The write already happened: only the answer is delayed by ``delay_s`` and, when the fault
    has a status, replaced by it. Without such a fault the answer passes unchanged.
    """
    late = entry.get("late_fault")
    if not late:
        return content, status, headers
    time.sleep(late["delay_s"])
    if late["status"]:
        status = late["status"]
        content = late["body"] if late["body"] is not None else default_body(status)
        headers = retry_headers(late["retry_after"])
    return content, status, headers


def add_fault_routes(admin: APIRouter, sandbox: Instances[Any], parse: Callable[[dict[str, Any]], Fault],
                     describe: Callable[[Fault], dict[str, Any]] | None = None) -> None:
    """``POST _admin/faults`` (``parse`` reads the platform's options; ``describe`` adds to the
    answer) and ``DELETE _admin/faults`` on a platform's admin router."""

    @admin.post("/faults")
    def add_fault(instance: str, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
        state = sandbox.get(instance)
        fault = parse(payload)
        with state.lock:
            state.faults.append(fault)
            return {"faults": len(state.faults), **(describe(fault) if describe else {})}

    @admin.delete("/faults")
    def clear_faults(instance: str) -> dict[str, Any]:
        state = sandbox.get(instance)
        with state.lock:
            state.faults.clear()
        return {"faults": 0}


def add_request_log_routes(admin: APIRouter, sandbox: Instances[Any], filters: bool = True) -> None:
    """``GET _admin/requests`` (with ``?method=&path_contains=`` unless ``filters`` is off, as on
    Odoo, whose documented log takes none) and ``DELETE _admin/requests``."""

    if filters:
        @admin.get("/requests")
        def list_requests(instance: str, method: str | None = None, path_contains: str | None = None,
                          ) -> JSONResponse:
            return JSONResponse({"requests": sandbox.get(instance).requests.rows(method, path_contains)})
    else:
        @admin.get("/requests")
        def list_all_requests(instance: str) -> JSONResponse:
            return JSONResponse({"requests": sandbox.get(instance).requests.rows()})

    @admin.delete("/requests")
    def clear_requests(instance: str) -> dict[str, Any]:
        sandbox.get(instance).requests.clear()
        return {"requests": 0}


def to_cents(value: Any) -> int:
    """Platform money (``"199.00"`` or a number) to integer cents; ValueError when it is not an amount."""
    try:
        return int((Decimal(str(value)) * 100).quantize(Decimal(1)))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def to_money(amount_cents: int) -> str:
    """Integer cents as the platforms write money (``1999`` → ``"19.99"``)."""
    return f"{Decimal(amount_cents) / 100:.2f}"
