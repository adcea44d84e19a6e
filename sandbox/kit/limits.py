"""Rate limits a stand-in declares: the platform's headers on every answer, 429 + ``Retry-After``.

:class:`LeakyBucket` is Shopify's REST limit: each call adds one to a per-app bucket that leaks
at a fixed rate; the fill shows in a header as ``used/size``; a call that would overflow is
refused with 429 and ``Retry-After`` (https://shopify.dev/docs/api/admin-rest/usage/rate-limits).
"""
from __future__ import annotations

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
