"""Client-side pacing from a fixed-window rate limit's headers: stop before the platform says 429.

Some platforms count requests per window and say so on every answer: ShipStation V1 sends
``X-Rate-Limit-Limit`` (requests per minute), ``X-Rate-Limit-Remaining`` (left in this window) and
``X-Rate-Limit-Reset`` (seconds until the next window), and answers 429 past the limit
(https://docs.shipstation.com/apis/shipstation-v1/docs/start-here/requirements). A leaky bucket
guesses at such a limit; this pacer reads it: when an answer leaves ``reserve`` requests or fewer in
the window, the next request waits for the reset the platform announced. A 429 that still comes
(other clients share the key) is retried by ``RestConnector.request`` after the same reset header
(``RateLimitHeaders(reset_header=...)``).
"""
from __future__ import annotations

import threading
import time

import requests

from connectors.http import LeakyBucketPacer
from connectors.values import ClockFn, SleepFn


class WindowPacer(LeakyBucketPacer):
    """The pacer interface of :class:`~connectors.http.LeakyBucketPacer` (``acquire``/``observe``),
    driven by a window's remaining/reset headers instead of a modelled bucket."""

    def __init__(self, remaining_header: str, reset_header: str, *, reserve: int = 0,
                 clock: ClockFn = time.monotonic, sleep: SleepFn = time.sleep) -> None:
        super().__init__(capacity=1, leak_per_s=0, clock=clock, sleep=sleep)
        self.remaining_header = remaining_header
        self.reset_header = reset_header
        self.window_reserve = reserve
        self.blocked_until = 0.0
        self._window_lock = threading.Lock()

    def wait_needed(self) -> float:
        with self._window_lock:
            return max(0.0, self.blocked_until - self.clock())

    def acquire(self) -> float:
        """Wait out the window when the last answer said it was spent; the seconds waited."""
        wait = self.wait_needed()
        if wait > 0:
            self.sleep(wait)
            with self._window_lock:
                self.blocked_until = 0.0
        return wait

    def observe(self, response: requests.Response) -> None:
        remaining, reset = response.headers.get(self.remaining_header), response.headers.get(self.reset_header)
        try:
            left, seconds = int(float(remaining or "")), float(reset or "")
        except ValueError:
            return
        if left <= self.window_reserve:
            with self._window_lock:
                self.blocked_until = max(self.blocked_until, self.clock() + max(0.0, seconds))
