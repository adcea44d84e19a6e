"""A Celery app with no-op tasks on the product's broker settings: the baselines' round trip.

It loads the product's ``celeryconfig`` (same broker URL, key prefix, acks, prefetch and
serializer), so the only difference from a product task is the work done: none. Run it as
``celery -A bench.noop_app worker -Q bench_noop``; the benches start and stop it themselves.
"""
from __future__ import annotations

import os
import time
from functools import lru_cache

import redis
from celery import Celery

QUEUE = "bench_noop"

app = Celery("bench-noop")
app.config_from_object("celeryconfig")
app.conf.task_routes = {"bench.noop.*": {"queue": QUEUE}}


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


@app.task(name="bench.noop.nothing", ignore_result=True)
def nothing() -> None:
    """Does nothing: what moving one message through the broker and the pool costs."""


@app.task(name="bench.noop.stamp", ignore_result=True)
def stamp(reply_key: str, sent_at: float) -> None:
    """Pushes (sent_at, now) to ``reply_key``, so the sender's BLPOP sees the round trip end."""
    _redis().rpush(reply_key, f"{sent_at:.6f} {time.time():.6f}")
