"""Rate limits a stand-in declares: the platform's headers on every answer, 429 + ``Retry-After``.

:class:`LeakyBucket` is Shopify's REST limit: each call adds one to a per-app bucket that leaks
at a fixed rate; the fill shows in a header as ``used/size``; a call that would overflow is
refused with 429 and ``Retry-After`` (https://shopify.dev/docs/api/admin-rest/usage/rate-limits).

Every other platform counts requests in fixed windows: one :class:`Window` (``limit`` requests per
``seconds``) and one :class:`WindowLimit` that checks it, the platforms differing only in which
headers every answer carries and what a refusal adds:

* Lightspeed Retail X-Series: N requests per window per retailer, the allowance in
  ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` (:func:`ratelimit_headers`), and a refusal
  whose ``Retry-After`` is the HTTP-date the window ends (:func:`retry_at_date`;
  https://x-series-api.lightspeedhq.com/docs/rate_limiting).
* BigCommerce: a quota of requests per window (150 per 30 s on Standard and Plus plans) shared by
  every app of the store, reported on every answer as ``X-Rate-Limit-Time-Window-Ms``,
  ``X-Rate-Limit-Time-Reset-Ms``, ``X-Rate-Limit-Requests-Quota`` and ``X-Rate-Limit-Requests-Left``
  (:func:`quota_headers`); a request past the quota is answered 429 with the same headers
  (https://docs.bigcommerce.com/developer/docs/overview/api-fundamentals/rate-limits).
* Business Central (6,000 requests per 5 minutes,
  https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/dynamics-rate-limits)
  and Flexport: no headers on a good answer, a refusal naming the seconds to wait
  (:func:`retry_after_seconds`). ShipStation reads :meth:`Window.count` for its own headers.

:class:`Penalized` is Airtable's: N requests per second per base; one more is answered 429 and
so is every request for the penalty that follows (30 s), with no ``Retry-After``
(https://airtable.com/developers/web/api/rate-limits).
"""
from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit.standin import Answer, Call


@dataclass
class Bucket:
    """One instance's bucket; tests change ``size``, ``leak_rate`` and ``level`` through admin."""

    size: float = 40.0
    leak_rate: float = 2.0
    level: float = 0.0
    at: float = field(default_factory=time.monotonic)

    def fill(self, level: float) -> None:
        self.level, self.at = level, time.monotonic()

    def take(self) -> tuple[bool, str]:
        """Leak what time has drained, then add this call if it fits: (fits, ``used/size``)."""
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self.at) * self.leak_rate)
        self.at = now
        if self.level + 1 > self.size:
            return False, f"{int(self.size)}/{int(self.size)}"
        self.level += 1
        return True, f"{max(1, int(round(self.level)))}/{int(self.size)}"


@dataclass(frozen=True)
class LeakyBucket:
    """``header`` carries ``used/size`` on every answer; an overflow answers 429 with
    ``retry_after`` and ``body``. The bucket is ``state.bucket``."""

    header: str
    retry_after: str
    body: Callable[[], Any]

    def check(self, call: Call[Any]) -> dict[str, str]:
        with call.state.lock:
            ok, used = call.state.bucket.take()
        call.entry["call_limit"] = used
        if not ok:
            call.entry["status"] = 429
            raise Answer(JSONResponse(self.body(), status_code=429,
                                      headers={"Retry-After": self.retry_after, self.header: used}))
        return {self.header: used}


Headers = dict[str, str]


@dataclass
class Window:
    """``limit`` requests per fixed window of ``seconds``; tests change both (and ``used``) through admin."""

    limit: int
    seconds: float = 60.0
    start: float = field(default_factory=time.time)
    used: int = 0

    def restart(self) -> None:
        self.start, self.used = time.time(), 0

    def count(self) -> tuple[bool, int, float]:
        """Open a new window if this one is over, then count the call if it fits:
        (fits, remaining after this call, seconds until the next window)."""
        now = time.time()
        if now - self.start >= self.seconds:
            self.restart()
        left = self.start + self.seconds - now
        if self.used >= self.limit:
            return False, 0, left
        self.used += 1
        return True, self.limit - self.used, left


def whole_seconds(left: float) -> int:
    """Seconds to wait, rounded up and at least one."""
    return max(1, math.ceil(left))


def ratelimit_headers(window: Window, remaining: int, left: float) -> Headers:
    return {"X-RateLimit-Limit": str(window.limit), "X-RateLimit-Remaining": str(remaining)}


def quota_headers(window: Window, remaining: int, left: float) -> Headers:
    return {"X-Rate-Limit-Time-Window-Ms": str(int(window.seconds * 1000)),
            "X-Rate-Limit-Time-Reset-Ms": str(max(1, int(left * 1000))),
            "X-Rate-Limit-Requests-Quota": str(window.limit), "X-Rate-Limit-Requests-Left": str(remaining)}


def retry_at_date(window: Window, left: float) -> Headers:
    return {"Retry-After": email.utils.formatdate(window.start + window.seconds, usegmt=True)}


def retry_after_seconds(window: Window, left: float) -> Headers:
    return {"Retry-After": str(whole_seconds(left))}


@dataclass(frozen=True)
class WindowLimit:
    """Counts each call in the state's window (``state.<attr>``); ``every`` makes the headers every
    answer carries (kept in the request log as ``limit_headers``), and a call past the limit is
    answered 429 with ``body``, those headers and what ``refusal`` adds."""

    body: Callable[[], Any]
    every: Callable[[Window, int, float], Headers] | None = None
    refusal: Callable[[Window, float], Headers] | None = retry_after_seconds
    attr: str = "window"

    def check(self, call: Call[Any]) -> Headers:
        with call.state.lock:
            window: Window = getattr(call.state, self.attr)
            ok, remaining, left = window.count()
            headers = self.every(window, remaining, left) if self.every else {}
            if not ok:
                headers = {**headers, **(self.refusal(window, left) if self.refusal else {})}
        if self.every:
            call.entry["limit_headers"] = headers
        if not ok:
            call.entry["status"] = 429
            raise Answer(JSONResponse(self.body(), status_code=429, headers=headers))
        return headers


@dataclass
class Penalty:
    """One instance's per-second count and penalty; tests change ``per_second`` and ``penalty_s``."""

    per_second: int = 5
    penalty_s: float = 30.0
    second: float = 0.0
    used: int = 0
    until: float = 0.0

    def take(self) -> bool:
        """Whether this request may pass: none inside a penalty; the one past the second's allowance starts it."""
        now = time.monotonic()
        if now < self.until:
            return False
        if now - self.second >= 1.0:
            self.second, self.used = now, 0
        self.used += 1
        if self.used > self.per_second:
            self.until = now + self.penalty_s
            return False
        return True


@dataclass(frozen=True)
class Penalized:
    """The count is ``state.penalty``; a refusal is 429 with ``body`` and no wait named."""

    body: Callable[[], Any]

    def check(self, call: Call[Any]) -> dict[str, str]:
        with call.state.lock:
            ok = call.state.penalty.take()
        if not ok:
            call.entry["status"] = 429
            raise Answer(JSONResponse(self.body(), status_code=429))
        return {}
