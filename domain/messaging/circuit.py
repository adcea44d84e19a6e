"""A circuit breaker per messaging provider, shared by every notify process through Redis.

When a provider answers 5xx (or cannot be reached) again and again, each retry of each outbox
row adds load to a service that is already down and burns the row's retries for nothing. After
``CIRCUIT_FAILURES`` consecutive failures the circuit *opens*: sends to that provider are not
attempted but deferred (the row stays ``pending`` with ``not_before``, so nothing is lost). After
``CIRCUIT_COOLDOWN_S`` it is *half-open*: one send is let through as a probe while the others wait
a moment; the probe's success closes the circuit, its failure opens it for another cool-down.

State lives in one Redis hash per provider (``domain.core.env_settings.redis_key``) and every change is a
Lua script on Redis' clock, so two workers never both see the closed → open edge (the staff alert
goes out once) and worker clocks need not agree. A 429 is not a failure here — it is the provider
pacing us, and its ``Retry-After`` already says when to come back — and neither is a 4xx about
one message. If Redis does not answer, the breaker lets sends through (fails open), like pacing.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import redis

from domain.core.env_settings import get_settings, redis_key

log = logging.getLogger(__name__)

DEFAULT_FAILURES = 5
DEFAULT_COOLDOWN_S = 60.0
DEFAULT_PROBE_S = 30.0
HALF_OPEN_RECHECK_S = 2.0
"""While a probe is in flight, other rows come back this soon to see whether it succeeded."""

#: KEYS[1] the provider's hash; ARGV cooldown, probe window. Returns {allowed(0/1), wait, state}.
ALLOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return {1, '0', state} end
if state == 'open' then
  local reopen = tonumber(redis.call('HGET', KEYS[1], 'opened_at')) + tonumber(ARGV[1])
  if now < reopen then return {0, tostring(reopen - now), state} end
end
local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if state == 'half_open' and now < probe_until then
  return {0, tostring(math.min(probe_until - now, tonumber(ARGV[3]))), state}
end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_until', tostring(now + tonumber(ARGV[2])))
return {1, '0', 'half_open'}
"""

#: KEYS[1]; ARGV threshold. Returns {opened_now(0/1), failures}.
FAILURE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('EXPIRE', KEYS[1], 86400)
if state == 'half_open' then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', tostring(now))
  return {0, failures}
end
if state == 'closed' and failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', tostring(now))
  return {1, failures}
end
return {0, failures}
"""

#: KEYS[1]. Returns the state it was in before closing.
SUCCESS = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
if state ~= 'closed' or failures > 0 then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', '0')
  redis.call('HDEL', KEYS[1], 'opened_at', 'probe_until')
end
return state
"""


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        log.warning("%s=%r is not a number; using %s", name, raw, default)
        return default
    if value <= 0:
        log.warning("%s=%r must be positive; using %s", name, raw, default)
        return default
    return value


@dataclass(frozen=True)
class BreakerSettings:
    """``CIRCUIT_FAILURES`` (5), ``CIRCUIT_COOLDOWN_S`` (60), ``CIRCUIT_PROBE_S`` (30): read per
    call so an operator's change applies to the next send without a restart."""

    failures: int = DEFAULT_FAILURES
    cooldown_s: float = DEFAULT_COOLDOWN_S
    probe_s: float = DEFAULT_PROBE_S

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BreakerSettings:
        env = os.environ if env is None else env
        return cls(failures=int(_number(env, "CIRCUIT_FAILURES", DEFAULT_FAILURES)),
                   cooldown_s=_number(env, "CIRCUIT_COOLDOWN_S", DEFAULT_COOLDOWN_S),
                   probe_s=_number(env, "CIRCUIT_PROBE_S", DEFAULT_PROBE_S))


@dataclass(frozen=True)
class Permit:
    """Whether a send may be attempted now; if not, how long to defer it and why."""

    allowed: bool
    wait_s: float
    state: str


@dataclass
class CircuitBreaker:
    client: redis.Redis
    env: Mapping[str, str] | None = None

    def key(self, provider: str) -> str:
        return redis_key("circuit", provider)

    def allow(self, provider: str) -> Permit:
        """Ask before each send. Closed: yes. Open: no until the cool-down ends. After it, one
        caller gets the probe (half-open) and the rest wait a little."""
        settings = BreakerSettings.from_env(self.env)
        try:
            allowed, wait, state = self.client.eval(ALLOW, 1, self.key(provider), str(settings.cooldown_s),
                                                    str(settings.probe_s), str(HALF_OPEN_RECHECK_S))
        except redis.RedisError as exc:
            log.warning("circuit breaker unavailable for %s, sending: %s", provider, exc)
            return Permit(True, 0.0, "unknown")
        return Permit(bool(int(allowed)), float(_text(wait)), _text(state))

    def record_failure(self, provider: str) -> bool:
        """A send failed in a way that says the provider is in trouble (5xx, unreachable, no
        answer). True exactly once per opening from closed: the caller alerts staff then."""
        settings = BreakerSettings.from_env(self.env)
        try:
            opened, failures = self.client.eval(FAILURE, 1, self.key(provider), str(settings.failures))
        except redis.RedisError as exc:
            log.warning("circuit breaker unavailable for %s: %s", provider, exc)
            return False
        if int(opened):
            log.error("circuit for %s opened after %s consecutive failures; sends deferred for %.0fs",
                      provider, failures, settings.cooldown_s)
        return bool(int(opened))

    def record_success(self, provider: str) -> str:
        """The provider accepted a send: the circuit closes. Returns the state it was in."""
        try:
            before = _text(self.client.eval(SUCCESS, 1, self.key(provider)))
        except redis.RedisError as exc:
            log.warning("circuit breaker unavailable for %s: %s", provider, exc)
            return "unknown"
        if before != "closed":
            log.warning("circuit for %s closed again (was %s)", provider, before)
        return before

    def state(self, provider: str) -> str:
        """The provider's circuit now (``closed``, ``open``, ``half_open``), for status pages and tests."""
        value = self.client.hget(self.key(provider), "state")
        return _text(value) if value else "closed"

    def reset(self, provider: str) -> None:
        self.client.delete(self.key(provider))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@lru_cache(maxsize=1)
def get_breaker() -> CircuitBreaker:
    """The process-wide breaker on ``REDIS_URL``; short timeouts so a dead Redis fails open fast."""
    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=2, socket_connect_timeout=2)
    return CircuitBreaker(client)
