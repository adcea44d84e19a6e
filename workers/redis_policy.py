"""Refuse to start against a Redis that may evict keys (``maxmemory-policy`` other than noeviction).

Redis carries the broker's queues and kombu's bookkeeping (``unacked``, ``unacked_index``) and
the coalescing flags, circuit and rate-limit state. Under an evicting policy a full Redis drops
keys silently: measured on a private Redis with ``allkeys-lru`` and a small ``maxmemory``, 118 keys
went — queued messages, the unacked index, anti-replay tokens — and nothing said so. With
``noeviction`` a full Redis answers ``OOM command not allowed`` instead: loud, and survived (the
workers restart their consumer, ``broker_channel_error_retry``; the sweepers re-drive the rows).

``REDIS_EVICTION_POLICY_CHECK`` decides what a wrong policy does: ``refuse`` (default: the
process exits naming the fix), ``warn`` (logs the same text at ERROR and starts) or ``off``.
A Redis that does not answer at start-up is not a policy problem: the check logs a warning and
lets the process start (Celery keeps retrying the broker; the web app fails open).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import redis

log = logging.getLogger("workers.startup")

Mode = Literal["refuse", "warn", "off"]
MODES: tuple[Mode, ...] = ("refuse", "warn", "off")
SWITCH = "REDIS_EVICTION_POLICY_CHECK"
REQUIRED_POLICY = "noeviction"


@dataclass(frozen=True)
class PolicyReading:
    """What one Redis said about its memory policy (``policy`` None when it could not be read)."""

    role: str
    url: str
    policy: str | None
    error: str = ""

    @property
    def wrong(self) -> bool:
        return self.policy is not None and self.policy != REQUIRED_POLICY


def check_mode(env: dict[str, str] | None = None) -> Mode:
    """The switch's value; an unknown value is taken as ``refuse`` (and said so) rather than off."""
    raw = (os.environ if env is None else env).get(SWITCH, "refuse").strip().lower() or "refuse"
    if raw not in MODES:
        log.error("%s=%r is not one of %s; checking as refuse", SWITCH, raw, ", ".join(MODES))
        return "refuse"
    return raw  # type: ignore[return-value]


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def read_policy(url: str, role: str, timeout_s: float = 3.0) -> PolicyReading:
    """``maxmemory_policy`` from ``INFO memory`` (works where ``CONFIG`` is renamed away, as on
    managed Redis), else ``CONFIG GET``."""
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        policy = client.info("memory").get("maxmemory_policy")
        if policy is None:
            policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
        return PolicyReading(role, url, str(policy) if policy is not None else None,
                             "" if policy is not None else "the server does not report it")
    except redis.RedisError as exc:
        return PolicyReading(role, url, None, str(exc))
    finally:
        client.close()


def redis_urls(env: dict[str, str] | None = None) -> dict[str, str]:
    """URL → what it is used for: the broker (when Redis) and the locks/dedupe Redis."""
    env = dict(os.environ if env is None else env)
    roles: dict[str, list[str]] = {}
    broker = env.get("BROKER_URL", "")
    if broker.startswith(("redis://", "rediss://", "unix://")):
        roles.setdefault(broker, []).append("broker")
    locks = env.get("REDIS_URL", "") or (broker if broker.startswith(("redis://", "rediss://")) else "")
    if locks:
        roles.setdefault(locks, []).append("locks and dedupe")
    return {url: " and ".join(names) for url, names in roles.items()}


def problem_text(reading: PolicyReading, process: str) -> str:
    return (f"{process}: Redis at {redacted(reading.url)} (used for {reading.role}) has maxmemory-policy "
            f"{reading.policy}; it must be {REQUIRED_POLICY}, or a full Redis silently drops queued "
            f"messages and replay guards. Fix: `redis-cli CONFIG SET maxmemory-policy {REQUIRED_POLICY}` "
            f"and `maxmemory-policy {REQUIRED_POLICY}` in redis.conf (managed Redis: the parameter group). "
            f"{SWITCH}=warn starts anyway.")


def noeviction_refusal(process: str, env: dict[str, str] | None = None) -> str | None:
    """Check every Redis this process uses. Returns the refusal text when the process must not
    start (mode ``refuse``); in mode ``warn`` the same text is logged at ERROR and None returned."""
    mode = check_mode(env)
    if mode == "off":
        return None
    readings = [read_policy(url, role) for url, role in redis_urls(env).items()]
    for reading in readings:
        if reading.policy is None:
            log.warning("%s: could not read maxmemory-policy of Redis at %s (%s); not checked",
                        process, redacted(reading.url), reading.error)
    wrong = [problem_text(reading, process) for reading in readings if reading.wrong]
    if not wrong:
        return None
    if mode == "warn":
        log.error("%s", "\n".join(wrong))
        return None
    return "\n".join(wrong)
