"""Coalescing wake-ups: a burst of 1,000 webhooks for one store wakes a few drain tasks, not 1,000.

The receiver sets a short-lived Redis flag before enqueueing a drain; while the flag stands,
another enqueue is skipped. The drain clears the flag *before* its final look for pending rows,
so a row committed after that look always finds the flag gone and wakes a new drain. A lost
wake-up costs at most the inbox sweeper's interval; it never loses the event (the row is there).

The contract holds per committed row, not per request: ``should_wake_many`` is asked once after
a batch of rows commits, for every source in it, so a batch of 40 deliveries costs one round
trip. There is deliberately no "a drain is pending" memo in the receiving process: the drain
clears the flag when it starts, and only Redis knows when that happened.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache

import redis
import redis.asyncio as aredis

from domain.core.env_settings import get_settings, redis_key

log = logging.getLogger(__name__)
#: How long a wake-up can be lost if the drain message itself is lost (the inbox sweeper catches
#: that too); short, because a stale flag would hold back the next burst's wake-up.
FLAG_TTL_S = 5


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url, socket_timeout=2, socket_connect_timeout=2)


def _key(source: str) -> str:
    return redis_key("drain-wanted", source)


def should_wake(source: str) -> bool:
    """True when no drain is scheduled for ``source`` yet (the caller then enqueues one)."""
    try:
        return bool(_client().set(_key(source), "1", nx=True, ex=FLAG_TTL_S))
    except redis.RedisError:
        return True  # without Redis, wake every time: more tasks, nothing lost


def should_wake_many(sources: Iterable[str], ttl_s: float = FLAG_TTL_S) -> list[str]:
    """``should_wake`` for several sources in one round trip; returns those that need a drain.
    ``ttl_s``: how long a wake-up may stay unconsumed before another is sent anyway."""
    names = list(dict.fromkeys(sources))
    if not names:
        return []
    try:
        pipe = _client().pipeline(transaction=False)
        for source in names:
            pipe.set(_key(source), "1", nx=True, px=max(1, int(ttl_s * 1000)))
        return [source for source, was_set in zip(names, pipe.execute()) if was_set]
    except redis.RedisError:
        return names  # without Redis, wake every time: more tasks, nothing lost


def async_client() -> aredis.Redis:
    """A client for ``should_wake_many_async``; the caller owns it (one per event loop)."""
    return aredis.Redis.from_url(get_settings().redis_url, socket_timeout=2, socket_connect_timeout=2)


async def should_wake_many_async(client: aredis.Redis, sources: Iterable[str]) -> list[str]:
    """``should_wake_many`` on an event loop: the same flags, the same answer when Redis fails."""
    names = list(dict.fromkeys(sources))
    if not names:
        return []
    try:
        pipe = client.pipeline(transaction=False)
        for source in names:
            pipe.set(_key(source), "1", nx=True, ex=FLAG_TTL_S)
        return [source for source, was_set in zip(names, await pipe.execute()) if was_set]
    except (redis.RedisError, OSError):
        return names  # without Redis, wake every time: more tasks, nothing lost


def clear(source: str) -> None:
    try:
        _client().delete(_key(source))
    except redis.RedisError as exc:  # the flag expires by itself within FLAG_TTL_S
        log.debug("could not clear drain flag for %s: %s", source, exc)


def clear_all() -> int:
    """Drop every wake-up flag of this namespace (a test reset, or after restoring a database
    whose ids restart); returns how many were standing."""
    client = _client()
    keys = list(client.scan_iter(match=_key("*"), count=500))
    return int(client.delete(*keys)) if keys else 0


def reset_client() -> None:
    _client.cache_clear()
