"""Injected faults, the same on every stand-in: consumed by the first request they match.

A fault answers in place of the platform (a 5xx, a 429 with ``Retry-After``, a read timeout), or
with ``after_apply`` lets the request be handled and only spoils its answer. Platforms differ in
which options they accept (``parse_fault``), in what a request is matched against (its path, or
for JSON-RPC the called ``model.method``) and in the error body of a fault that brings none —
a JSON body, or a whole :class:`~fastapi.responses.Response` such as a proxy's HTML page.
"""
from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response

from sandbox.kit.instances import Instances, PlatformState

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


def http_date_fault(payload: Mapping[str, Any]) -> Fault:
    """:func:`answering_fault`, where ``retry_after_in_s`` becomes an HTTP-date that far ahead
    (``Retry-After`` is seconds or an HTTP-date, RFC 9110 §10.2.3; X-Series sends the date)."""
    seconds = payload.get("retry_after_in_s")
    return answering_fault(payload, None if seconds is None else email.utils.formatdate(time.time() + float(seconds),
                                                                                        usegmt=True))


def any_fault(payload: Mapping[str, Any]) -> Fault:
    """Every option (Shopify, WooCommerce): also ``method`` and ``after_apply``; ``status`` may be
    left out, which with ``after_apply`` only delays the answer."""
    retry_after = payload.get("retry_after")
    return Fault(status=int(payload.get("status") or 0), remaining=int(payload.get("count", 1)),
                 retry_after=None if retry_after is None else str(retry_after), body=payload.get("body"),
                 delay_s=float(payload.get("delay_s", 0)), path_contains=payload.get("path_contains"),
                 method=payload.get("method"), after_apply=bool(payload.get("after_apply", False)))


def respond(content: Any, status: int, headers: dict[str, str] | None) -> Response:
    """``content`` as JSON, unless the platform's error body is already a whole response."""
    return content if isinstance(content, Response) else JSONResponse(content, status_code=status, headers=headers)


def fault_answer(state: PlatformState, request: Request, entry: dict[str, Any], default_body: DefaultBody,
                 target: str | None = None) -> Response | None:
    """The answer an injected fault gives instead of the platform, or None to handle the request.

    Consumes one use of the first fault matching the request. An ``after_apply`` fault is only
    noted on the log entry (:func:`late_answer` spoils the answer after the write). Any other
    waits ``delay_s`` — holding the instance lock, as the stand-ins always have — and answers its
    status with its body, or with the platform's ``default_body`` when it brought none.
    ``path_contains`` is matched against ``target`` (the request path unless the platform names
    another, e.g. the JSON-RPC method called).
    """
    with state.lock:
        for fault in state.faults:
            if fault.matches(request.method, request.url.path if target is None else target):
                fault.remaining -= 1
                if fault.after_apply:
                    entry["late_fault"] = fault.late_view()
                    return None
                if fault.delay_s:
                    time.sleep(fault.delay_s)
                entry["status"] = fault.status
                content = fault.body if fault.body is not None else default_body(fault.status)
                return respond(content, fault.status, retry_headers(fault.retry_after))
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
