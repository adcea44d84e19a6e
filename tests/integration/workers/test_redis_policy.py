"""The start-up check of Redis' memory policy (``workers.redis_policy``), against real Redis servers."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.chaos.servers import PrivateRedis
from workers.redis_policy import noeviction_refusal, read_policy, redacted, redis_urls


@pytest.fixture
def evicting(tmp_path: Path) -> Iterator[str]:
    """A private Redis switched to ``allkeys-lru`` (the shared one must keep noeviction)."""
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        redis.Redis.from_url(server.url).config_set("maxmemory-policy", "allkeys-lru")
        yield server.url
    finally:
        server.stop()


def test_the_urls_checked_are_the_broker_and_the_locks_redis() -> None:
    assert redis_urls({"BROKER_URL": "redis://a:6379/0", "REDIS_URL": "redis://a:6379/0"}) == {
        "redis://a:6379/0": "broker and locks and dedupe"}
    assert redis_urls({"BROKER_URL": "amqp://guest@rabbit//", "REDIS_URL": "redis://b/1"}) == {
        "redis://b/1": "locks and dedupe"}
    assert redacted("redis://user:s3cret@host:6380/0") == "redis://user:***@host:6380/0"


def test_the_test_servers_keep_noeviction(services: dict[str, str]) -> None:
    reading = read_policy(services["redis_url"], "locks and dedupe")
    assert reading.policy == "noeviction" and not reading.wrong
    assert noeviction_refusal("test", {"REDIS_URL": services["redis_url"]}) is None


def test_an_evicting_redis_is_refused_warned_about_or_ignored_by_the_switch(
        evicting: str, caplog: pytest.LogCaptureFixture) -> None:
    env = {"BROKER_URL": evicting, "REDIS_URL": evicting}
    refusal = noeviction_refusal("worker", env)
    assert refusal is not None and "maxmemory-policy allkeys-lru" in refusal
    assert "CONFIG SET maxmemory-policy noeviction" in refusal and "broker and locks" in refusal
    with caplog.at_level(logging.ERROR, logger="workers.startup"):
        assert noeviction_refusal("worker", {**env, "REDIS_EVICTION_POLICY_CHECK": "warn"}) is None
    assert "allkeys-lru" in caplog.text
    assert noeviction_refusal("worker", {**env, "REDIS_EVICTION_POLICY_CHECK": "off"}) is None
    assert noeviction_refusal("worker", {**env, "REDIS_EVICTION_POLICY_CHECK": "bogus"}) is not None


def test_an_unreachable_redis_is_not_a_refusal(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="workers.startup"):
        assert noeviction_refusal("web", {"REDIS_URL": "redis://127.0.0.1:1/0"}) is None
    assert "could not read maxmemory-policy" in caplog.text
