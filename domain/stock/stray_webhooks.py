"""Webhooks for a store we do not know: answered 404, but remembered, within fixed bounds.

A 404 alone leaves no trace, yet a stray delivery usually means something worth knowing: a store
renamed in the configuration while the platform still posts to its old URL (events lost until
someone notices), or a scan of our endpoint. The sender is unauthenticated (there is no store to
check a signature against), so nothing it sends may grow our storage without bound:

* the last ``RECENT_MAX`` deliveries (time, store key, size, user agent, topic header — never the
  body) in one capped Redis list, kept a week;
* a count per store key per hour in one hash per hour, at most ``KEYS_PER_HOUR`` fields (later
  keys count under ``(other)``);
* one staff alert per store key per hour, and at most ``ALERTS_PER_HOUR`` alerts in an hour
  whatever the number of keys.

All of it is one Lua script, one Redis round trip; the alert's database write happens only on the
rare first sighting. If Redis is down the 404 is still answered and a warning logged.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import redis
from sqlalchemy.exc import SQLAlchemyError

from domain.core.clock import utcnow
from domain.core.env_settings import get_settings, redis_key

log = logging.getLogger(__name__)

RECENT_MAX = 200
KEYS_PER_HOUR = 500
ALERTS_PER_HOUR = 10
RECENT_TTL_S = 7 * 86400
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TOPIC_HEADERS = ("x-shopify-topic", "x-wc-webhook-topic", "x-lightspeed-event", "x-wc-webhook-source",
                 "x-shopify-shop-domain")

#: KEYS: recent list, this hour's counts, this hour's alerted keys.
#: ARGV: entry, store key, recent max, keys per hour, alerts per hour, recent ttl.
RECORD = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
local field = ARGV[2]
if redis.call('HEXISTS', KEYS[2], field) == 0 and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then
  field = '(other)'
end
local count = redis.call('HINCRBY', KEYS[2], field, 1)
redis.call('EXPIRE', KEYS[2], 7200)
local alert = 0
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 0 and redis.call('HLEN', KEYS[3]) < tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[3], ARGV[2], '1')
  redis.call('EXPIRE', KEYS[3], 7200)
  alert = 1
end
return {count, alert}
"""


@dataclass(frozen=True)
class Sighting:
    """What one stray delivery added: its store key's count this hour, and whether it alerted."""

    store_key: str
    count_this_hour: int
    alerted: bool


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url, socket_timeout=2, socket_connect_timeout=2)


def printable_key(store_key: str) -> str:
    """The key as we may store it: a well-formed store key as is, anything else as one bucket."""
    return store_key if KEY_PATTERN.match(store_key) else "(malformed)"


def note_unknown_store(store_key: str, headers: Mapping[str, str], size: int, now: datetime | None = None
                       ) -> Sighting | None:
    """Remember a delivery to an unknown store; alert staff on its first sighting this hour.

    Returns None when Redis could not be reached (the caller answers 404 all the same).
    """
    now = now or utcnow()
    key = printable_key(store_key)
    lowered = {k.lower(): v for k, v in headers.items()}
    entry = {"at": now.isoformat(timespec="seconds"), "store_key": key, "bytes": size,
             "user_agent": (lowered.get("user-agent") or "")[:120],
             "topic": next((lowered[h][:80] for h in TOPIC_HEADERS if lowered.get(h)), "")}
    hour = now.strftime("%Y%m%d%H")
    try:
        count, alert = _client().eval(
            RECORD, 3, redis_key("stray-webhooks", "recent"), redis_key("stray-webhooks", "counts", hour),
            redis_key("stray-webhooks", "alerted", hour), json.dumps(entry), key, str(RECENT_MAX),
            str(KEYS_PER_HOUR), str(ALERTS_PER_HOUR), str(RECENT_TTL_S))
    except redis.RedisError as exc:
        log.warning("webhook for unknown store %r not recorded (Redis unavailable: %s)", key, exc)
        return None
    sighting = Sighting(key, int(count), bool(int(alert)))
    if sighting.alerted:
        log.warning("webhooks arriving for unknown store %r (topic %r, agent %r); answered 404",
                    key, entry["topic"], entry["user_agent"])
        _alert(key, entry, hour)
    return sighting


def _alert(key: str, entry: dict[str, Any], hour: str) -> None:
    """The staff alert, in its own transaction; it goes out through the outbox like any other."""
    from domain.core.business_config import ConfigError, current_config
    from domain.core.db import session_scope
    from domain.messaging import alerts

    detail = (f"A platform is sending webhooks to /webhooks/{key}, which is no store in the configuration "
              f"(topic {entry['topic'] or '-'}, user agent {entry['user_agent'] or '-'}). If a store was renamed, "
              f"point the platform's webhook at the new key or its events only arrive by polling.")
    try:
        routes = current_config().notifications.routes
        with session_scope() as session:
            alerts.raise_ops_alert(session, "channel.push_failed", f"stray_webhook:{key}:{hour}", routes,
                                   detail=detail, title=f"webhooks for unknown store {key}", to_state="rejected")
    except (ConfigError, SQLAlchemyError) as exc:
        log.error("could not store the alert for unknown store %r: %s", key, exc)


def recent(limit: int = RECENT_MAX) -> list[dict[str, Any]]:
    """The latest stray deliveries, newest first (for ``backorders status`` and operators)."""
    return [json.loads(item) for item in _client().lrange(redis_key("stray-webhooks", "recent"), 0, limit - 1)]


def counts(hour: datetime) -> dict[str, int]:
    """Deliveries per unknown store key in the hour starting at ``hour``."""
    raw = _client().hgetall(redis_key("stray-webhooks", "counts", hour.strftime("%Y%m%d%H")))
    return {k.decode(): int(v) for k, v in raw.items()}
