"""Per-provider send pacing shared by every notify worker, as a token bucket in Redis.

A Celery ``rate_limit`` is counted per worker process, so three notify workers would post to
Slack three times faster than Slack allows (about one message per second per webhook). One
bucket per provider in Redis, refilled and spent atomically by a Lua script, paces the whole
fleet instead. The script reads Redis' own clock, so worker clocks never need to agree.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import redis

from domain.core.env_settings import get_settings

log = logging.getLogger(__name__)

#: Pace at this fraction of a provider's published rate, so jitter between taking a token and
#: the request arriving never puts one more request into the provider's one-second window.
PACING_MARGIN = 0.85
DEFAULT_RATES_PER_S: dict[str, float] = {"slack": 1.0, "twilio": 10.0, "mailgun": 10.0, "sendgrid": 10.0,
                                         # stock write-backs, one bucket per store (tasks.channels):
                                         # Shopify REST leaks 2 calls/s; Lightspeed X-Series allows
                                         # 300 × registers + 50 calls per 5 minutes (one register:
                                         # about 1.1/s); WooCommerce and Magento publish no limit;
                                         # BigCommerce Standard/Plus allow 150 requests per 30 s
                                         # shared by every app and the poll: half of it.
                                         "shopify": 2.0, "lightspeed": 1.0, "woocommerce": 5.0, "bigcommerce": 2.5,
                                         "magento": 5.0}
KEY_PREFIX = "backorders:ratelimit:"
"""Appended to ``CELERY_KEY_PREFIX`` (the deployment's Redis namespace), so two deployments or
two test sessions sharing one Redis never share a bucket."""

TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local role = ARGV[3]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'first_until')
local tokens = tonumber(saved[1]) or burst
local at = tonumber(saved[2]) or now
local first_until = tonumber(saved[3]) or 0
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if role == 'yield' and first_until > now then
  return tostring(first_until - now)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  if role == 'first' then
    redis.call('HDEL', KEYS[1], 'first_until')
  end
else
  wait = (1 - tokens) / rate
  if role == 'first' then
    redis.call('HSET', KEYS[1], 'first_until', tostring(now + wait + 0.05))
  end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 2)
return tostring(wait)
"""
"""Roles: a ``first`` caller that must wait reserves the next token for itself (``first_until``,
its wait plus 50 ms to come back); a ``yield`` caller is refused while such a reservation
stands; ``normal`` callers ignore both. Grants stay one token each, so the pace is the same
whoever takes them, and a stream of ``yield`` callers alone still gets the full rate."""

Role = Literal["first", "normal", "yield"]


def rate_for(provider: str, env: Mapping[str, str] | None = None) -> float:
    """Messages per second for ``provider``: ``RATE_LIMIT_<PROVIDER>_PER_S`` or the default.

    ``0`` (or a negative value) switches pacing off for that provider; a garbled value falls back
    to the default with a warning rather than stopping delivery.
    """
    env = os.environ if env is None else env
    name = f"RATE_LIMIT_{provider.upper()}_PER_S"
    default = DEFAULT_RATES_PER_S.get(provider, 5.0)
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        log.warning("%s=%r is not a number; using %s per second", name, raw, default)
        return default


@dataclass
class RateLimiter:
    """``acquire(provider)`` spends one token and returns 0, or returns the seconds to wait."""

    client: redis.Redis
    env: Mapping[str, str] | None = None

    def acquire(self, provider: str, *, role: Role = "normal", bucket: str | None = None) -> float:
        """Takes a token for one send. Fails open (returns 0) when Redis does not answer.

        ``role`` orders messages that share a provider: a customer notice (``first``) that has to
        wait keeps the next token, and staff or vendor mail (``yield``) waits behind it instead
        of taking it (an order raises the customer's notice and a staff email at once, and both
        go through the Mailgun bucket). ``bucket`` names a bucket of its own paced at the
        provider's rate (one per store for stock write-backs: each shop has its own API limit).

        Pacing is a courtesy to the provider: if Redis is down the provider's own 429 still stops
        us (a ``TransientError`` with ``Retry-After``), whereas failing closed would stop all mail.
        """
        rate = rate_for(provider, self.env)
        if rate <= 0:
            return 0.0
        # One token of burst, refilled at 90 % of the limit: sends are spaced evenly with room for
        # network jitter, so no rolling second holds more than the provider counts. Measured with
        # bench/pacing.py at 10/s: a burst of ``rate`` tokens gave 28 × 429, exact 1/rate spacing
        # 2 × 429, 95 % pacing 1 × 429, 90 % pacing none (0.86 of the limit achieved) while pauses
        # went through the broker; once short pauses were slept in the worker (tasks.notify), sends
        # followed the tokens more tightly and 90 % gave one 429, so the margin is now 85 %: any
        # one-second window holds at most 1 + 8.5 grants, ~180 ms of arrival jitter to spare.
        burst = 1.0
        paced = rate * PACING_MARGIN
        try:
            wait = self.client.eval(TOKEN_BUCKET, 1, self.key(bucket or provider), str(paced), str(burst), role)
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable for %s, sending unpaced: %s", provider, exc)
            return 0.0
        return float(wait.decode() if isinstance(wait, bytes) else wait)

    def key(self, provider: str) -> str:
        env = os.environ if self.env is None else self.env
        return f"{env.get('CELERY_KEY_PREFIX', '')}{KEY_PREFIX}{provider}"

    def reset(self, provider: str) -> None:
        """Forget a provider's bucket (tests, or after changing its rate)."""
        self.client.delete(self.key(provider))


@lru_cache(maxsize=1)
def get_limiter() -> RateLimiter:
    """The process-wide limiter on ``REDIS_URL``; short timeouts so a dead Redis fails open fast."""
    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=2, socket_connect_timeout=2)
    return RateLimiter(client)
