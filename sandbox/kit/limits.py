"""Rate limits a stand-in declares: the platform's headers on every answer, 429 + ``Retry-After``.

:class:`LeakyBucket` is Shopify's REST limit: each call adds one to a per-app bucket that leaks
at a fixed rate; the fill shows in a header as ``used/size``; a call that would overflow is
refused with 429 and ``Retry-After`` (https://shopify.dev/docs/api/admin-rest/usage/rate-limits).

:class:`PerWindow` is a window counted without headers whose refusal says the seconds to wait, as
Business Central's 6,000 requests per 5 minutes
(https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/dynamics-rate-limits).

:class:`FixedWindow` is Lightspeed Retail X-Series': N requests per window per retailer, the
allowance in ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining``, and a refusal whose
``Retry-After`` is the HTTP-date the window ends (https://x-series-api.lightspeedhq.com/docs/rate_limiting).

:class:`Penalized` is Airtable's: N requests per second per base; one more is answered 429 and
so is every request for the penalty that follows (30 s), with no ``Retry-After``
(https://airtable.com/developers/web/api/rate-limits).

:class:`QuotaWindow` is BigCommerce's: a quota of requests per window (150 per 30 s on Standard and
Plus plans) shared by every app of the store, reported on every answer as
``X-Rate-Limit-Time-Window-Ms``, ``X-Rate-Limit-Time-Reset-Ms``, ``X-Rate-Limit-Requests-Quota``
and ``X-Rate-Limit-Requests-Left``; a request past the quota is answered 429 with the same headers
(https://docs.bigcommerce.com/developer/docs/overview/api-fundamentals/rate-limits).
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


@dataclass
class Window:
    """One instance's window; tests change ``limit`` and ``seconds`` through admin."""

    limit: int
    seconds: float
    start: float = field(default_factory=time.time)
    used: int = 0

    def restart(self) -> None:
        self.start, self.used = time.time(), 0

    def take(self) -> tuple[bool, dict[str, str]]:
        """Open a new window if this one is over, then count the call if it fits: (fits, headers)."""
        now = time.time()
        if now - self.start >= self.seconds:
            self.restart()
        if self.used >= self.limit:
            return False, {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": "0",
                           "Retry-After": email.utils.formatdate(self.start + self.seconds, usegmt=True)}
        self.used += 1
        return True, {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.limit - self.used)}


@dataclass(frozen=True)
class FixedWindow:
    """The window is ``state.window``; a refusal answers 429 with ``body`` and the window's headers."""

    body: Callable[[], Any]

    def check(self, call: Call[Any]) -> dict[str, str]:
        with call.state.lock:
            ok, headers = call.state.window.take()
        call.entry["limit_headers"] = headers
        if not ok:
            call.entry["status"] = 429
            raise Answer(JSONResponse(self.body(), status_code=429, headers=headers))
        return headers


@dataclass
class MinuteWindow:
    """Requests counted in fixed windows (a minute by default), for stand-ins whose platform states
    its own headers: :meth:`take` gives what they are made of (ShipStation V1's ``X-Rate-Limit-*``,
    a ``Retry-After`` in seconds)."""

    limit: int
    seconds: float = 60.0
    start: float = field(default_factory=time.time)
    used: int = 0

    def take(self) -> tuple[bool, int, int]:
        """(fits, remaining after this call, whole seconds until the next window)."""
        now = time.time()
        if now - self.start >= self.seconds:
            self.start, self.used = now, 0
        reset = max(1, math.ceil(self.start + self.seconds - now))
        if self.used >= self.limit:
            return False, 0, reset
        self.used += 1
        return True, self.limit - self.used, reset


@dataclass
class Quota:
    """One store's quota window; tests change ``quota`` and ``window_ms`` through admin."""

    quota: int = 150
    window_ms: int = 30_000
    start: float = field(default_factory=time.monotonic)
    used: int = 0

    def take(self) -> tuple[bool, dict[str, str]]:
        """Open a new window if this one is over, then count the call if it fits: (fits, headers)."""
        now = time.monotonic()
        if (now - self.start) * 1000 >= self.window_ms:
            self.start, self.used = now, 0
        fits = self.used < self.quota
        self.used += int(fits)
        reset_ms = max(1, int(self.window_ms - (now - self.start) * 1000))
        return fits, {"X-Rate-Limit-Time-Window-Ms": str(self.window_ms), "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
                      "X-Rate-Limit-Requests-Quota": str(self.quota),
                      "X-Rate-Limit-Requests-Left": str(self.quota - self.used)}


@dataclass(frozen=True)
class QuotaWindow:
    """The quota is ``state.quota``; every answer carries its headers, a refusal is 429 with ``body``."""

    body: Callable[[], Any]

    def check(self, call: Call[Any]) -> dict[str, str]:
        with call.state.lock:
            ok, headers = call.state.quota.take()
        call.entry["limit_headers"] = headers
        if not ok:
            call.entry["status"] = 429
            raise Answer(JSONResponse(self.body(), status_code=429, headers=headers))
        return headers


@dataclass(frozen=True)
class PerWindow:
    """``state.window`` counted, no headers on a good answer; over it, 429 with ``body`` and
    ``Retry-After`` in seconds until the window ends."""

    body: Callable[[], Any]

    def check(self, call: Call[Any]) -> dict[str, str]:
        with call.state.lock:
            window = call.state.window
            if time.time() - window.start >= window.seconds:
                window.restart()
            window.used += 1
            wait, over = max(1, int(window.start + window.seconds - time.time())), window.used > window.limit
        if over:
            call.entry["status"] = 429
            raise Answer(JSONResponse(self.body(), status_code=429, headers={"Retry-After": str(wait)}))
        return {}


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
