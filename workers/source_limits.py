"""Request-rate limits per source on the unauthenticated endpoints (webhooks, provider callbacks).

Anyone can POST to ``/webhooks/<store>``; verifying a signature and looking the store up cost a
database round trip each, so a flood from one address, or at one store's URL, could crowd out
the real platform. Two token buckets guard each request — one per client IP, one per store key
(``/webhooks/<store>`` only) — spent together by one Lua script, so the check costs one Redis
round trip and nothing else. A request over either bucket gets ``429`` with ``Retry-After``
before its body is read; platforms retry those.

The defaults are far above what a real platform sends (a Shopify bulk edit of a few thousand
variants arrives as a burst of a few thousand webhooks over a minute or so, from several
addresses): a burst of 2,000 per address and 5,000 per store, refilled at 200 and 500 per
second. ``0`` turns a bucket off. Behind a reverse proxy, run uvicorn with
``--forwarded-allow-ips`` so the client address is the caller's, not the proxy's. If Redis does
not answer, requests pass (fail open): the limiter protects capacity, it must never drop events.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aredis

from domain.core.env_settings import get_settings, redis_key

log = logging.getLogger("workers.source_limits")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LIMITED_PREFIXES = ("/webhooks/", "/callbacks/", "/sms/")
STORE_PATH = re.compile(r"^/webhooks/([a-z0-9][a-z0-9_-]{0,63})/?$")
"""A store key as ``domain.core.business_config`` allows it; anything else shares one ``-`` bucket, so made-up
keys cannot create Redis keys without bound."""

#: KEYS: per-IP bucket, per-store bucket. ARGV: ip rate, ip burst, store rate, store burst
#: (rate 0 = that bucket is off), tokens wanted. Takes the same number of whole tokens from both
#: buckets — up to the number wanted, at least one — or none; returns {granted, wait seconds}.
TWO_BUCKETS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local wanted = tonumber(ARGV[5])
local wait = 0
local grant = wanted
local tokens = {}
for i = 1, 2 do
  local rate = tonumber(ARGV[i * 2 - 1])
  local burst = tonumber(ARGV[i * 2])
  if rate > 0 then
    local saved = redis.call('HMGET', KEYS[i], 'tokens', 'at')
    local t = tonumber(saved[1]) or burst
    local at = tonumber(saved[2]) or now
    t = math.min(burst, t + math.max(0, now - at) * rate)
    if t < 1 then wait = math.max(wait, (1 - t) / rate) end
    grant = math.min(grant, math.floor(t))
    tokens[i] = t
  end
end
if wait > 0 then grant = 0 end
for i = 1, 2 do
  if tokens[i] then
    local rate = tonumber(ARGV[i * 2 - 1])
    redis.call('HSET', KEYS[i], 'tokens', tostring(tokens[i] - grant), 'at', tostring(now))
    redis.call('EXPIRE', KEYS[i], math.ceil(tonumber(ARGV[i * 2]) / rate) + 2)
  end
end
return {grant, tostring(wait)}
"""
#: Tokens a web process takes from Redis at once, kept locally for at most ``LEASE_TTL_S``: a
#: burst from one source costs one Redis round trip per lease instead of one per request. A
#: lease is at most a tenth of the smaller burst, so small limits stay exact (a lease of one).
MAX_LEASE = 32
LEASE_TTL_S = 1.0


def _rate(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    try:
        return max(0.0, float(raw)) if raw else default
    except ValueError:
        log.warning("%s=%r is not a number; using %s", name, raw, default)
        return default


@dataclass(frozen=True)
class SourceLimits:
    """``WEBHOOK_LIMIT_PER_IP_PER_S`` (200), ``WEBHOOK_LIMIT_PER_IP_BURST`` (2000),
    ``WEBHOOK_LIMIT_PER_STORE_PER_S`` (500), ``WEBHOOK_LIMIT_PER_STORE_BURST`` (5000)."""

    ip_rate: float = 200.0
    ip_burst: float = 2000.0
    store_rate: float = 500.0
    store_burst: float = 5000.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SourceLimits:
        env = os.environ if env is None else env
        return cls(_rate(env, "WEBHOOK_LIMIT_PER_IP_PER_S", cls.ip_rate),
                   max(1.0, _rate(env, "WEBHOOK_LIMIT_PER_IP_BURST", cls.ip_burst)),
                   _rate(env, "WEBHOOK_LIMIT_PER_STORE_PER_S", cls.store_rate),
                   max(1.0, _rate(env, "WEBHOOK_LIMIT_PER_STORE_BURST", cls.store_burst)))


    @classmethod
    def current(cls) -> SourceLimits:
        """``from_env()`` of the process environment, read on every request (a changed setting
        applies at once) but parsed once per distinct setting: parsing the four values and building
        the limits cost more than reading them, on every webhook (measured)."""
        environ = os.environ
        raw = (environ.get(LIMIT_VARIABLES[0]), environ.get(LIMIT_VARIABLES[1]), environ.get(LIMIT_VARIABLES[2]),
               environ.get(LIMIT_VARIABLES[3]))
        limits = _parsed.get(raw)
        if limits is None:
            if len(_parsed) > 64:  # settings changing all the time (tests): never grow
                _parsed.clear()
            limits = _parsed[raw] = cls.from_env()
        return limits


LIMIT_VARIABLES = ("WEBHOOK_LIMIT_PER_IP_PER_S", "WEBHOOK_LIMIT_PER_IP_BURST", "WEBHOOK_LIMIT_PER_STORE_PER_S",
                   "WEBHOOK_LIMIT_PER_STORE_BURST")
_parsed: dict[tuple[str | None, ...], SourceLimits] = {}


def buckets_for(path: str, client_ip: str) -> tuple[str, str] | None:
    """The two bucket keys a request spends from, or None for paths that are not limited."""
    if not path.startswith(LIMITED_PREFIXES):
        return None
    match = STORE_PATH.match(path)
    store = match.group(1) if match else "-"
    namespace = redis_key("source")  # one look at the prefix for both keys
    return f"{namespace}:ip:{client_ip}", f"{namespace}:store:{store}"


def lease_size(limits: SourceLimits) -> int:
    bursts = [burst for rate, burst in ((limits.ip_rate, limits.ip_burst), (limits.store_rate, limits.store_burst))
              if rate > 0]
    return max(1, min(MAX_LEASE, int(min(bursts) // 10))) if bursts else 1


class SourceLimitMiddleware:
    """ASGI middleware: ``429`` + ``Retry-After`` when a source is over; one ``EVALSHA`` per
    lease of tokens (see ``MAX_LEASE``), not per request."""

    def __init__(self, app: ASGIApp, client: aredis.Redis | None = None) -> None:
        self.app = app
        self._client = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._script: Any = None
        self._leases: dict[tuple[tuple[str, str], SourceLimits], tuple[int, float]] = {}
        self._refills: dict[tuple[tuple[str, str], SourceLimits], asyncio.Future[float | None]] = {}

    def client(self) -> aredis.Redis:
        """An asyncio client bound to the running event loop (one per loop: a test client may run
        each request in a new loop, and a connection must never cross loops)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = aredis.Redis.from_url(get_settings().redis_url, socket_timeout=0.5,
                                                 socket_connect_timeout=0.5)
            self._loop = loop
            self._script = self._client.register_script(TWO_BUCKETS)
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        client_ip = (scope.get("client") or ("unknown", 0))[0]
        keys = buckets_for(scope.get("path", ""), client_ip)
        wait = await self.wait_for(keys) if keys else 0.0
        if wait > 0:
            await refuse(send, wait, client_ip, scope.get("path", ""))
            return
        await self.app(scope, receive, send)

    async def wait_for(self, keys: tuple[str, str]) -> float:
        """Seconds the source must wait (0: go on), taking a token from this process's lease.

        One refill per lease at a time: requests that find the lease empty while its refill is on
        its way wait for that refill and share what it grants, instead of each sending its own
        ``EVALSHA``. Concurrent requests used to refill one by one, each taking a whole lease from
        Redis for one request (0.2 round trips a webhook at 32 connections; the tokens of the
        other leases were thrown away when the next one overwrote them)."""
        limits = SourceLimits.current()
        if limits.ip_rate <= 0 and limits.store_rate <= 0:
            return 0.0
        lease = (keys, limits)  # limits changed (a new setting): a new lease under the new ones
        while True:
            now = time.monotonic()
            left, expires = self._leases.get(lease, (0, 0.0))
            if left > 0 and now < expires:
                self._leases[lease] = (left - 1, expires)
                return 0.0
            pending = self._refills.get(lease)
            if pending is None:
                return await self._refill(lease, now)
            # shielded: a request given up (its deadline) must not cancel what the others wait for
            outcome = await asyncio.shield(pending)
            if outcome is not None:  # refused (seconds to wait) or limits unavailable (0: let through)
                return outcome

    async def _refill(self, lease: tuple[tuple[str, str], SourceLimits], now: float) -> float:
        """Ask Redis for a lease, take one token of it; those waiting meanwhile hear None (a lease
        to take from), the seconds to wait, or 0.0 when Redis failed (let through, as this one)."""
        keys, limits = lease
        done: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        self._refills[lease] = done
        outcome: float | None = None  # cancelled on the way: the waiters try again themselves
        try:
            self.client()
            granted, wait = await self._script(keys=list(keys), args=[
                str(limits.ip_rate), str(limits.ip_burst), str(limits.store_rate), str(limits.store_burst),
                str(lease_size(limits))])
            granted = int(granted)
            if granted > 0:
                if len(self._leases) > 10_000:  # many sources at once: forget the leases, never grow
                    self._leases.clear()
                self._leases[lease] = (granted - 1, now + LEASE_TTL_S)
                return 0.0
            self._leases.pop(lease, None)
            outcome = float(wait.decode() if isinstance(wait, bytes) else wait)
            return outcome
        except (redis.RedisError, OSError, RuntimeError) as exc:
            log.warning("source limits unavailable, letting the request through: %s", exc)
            outcome = 0.0
            return 0.0
        finally:
            del self._refills[lease]
            done.set_result(outcome)


_last_warning = [0.0]


async def refuse(send: Send, wait: float, client_ip: str, path: str) -> None:
    retry_after = str(max(1, math.ceil(wait)))
    if time.monotonic() - _last_warning[0] > 10:  # a flood must not become a log flood
        _last_warning[0] = time.monotonic()
        log.warning("rate limited %s on %s; retry after %ss (further refusals not logged for 10 s)",
                    client_ip, path[:80], retry_after)
    body = b'{"error":"too many requests from this source, retry later"}'
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json"), (b"retry-after", retry_after.encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
