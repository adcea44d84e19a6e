"""Scenario 1: ``kill -9`` of a worker at random moments while webhooks pour in.

Signed webhooks (stock updates, and orders for a SKU at zero stock, so delay notices go out)
are posted to the web process at a steady pace; meanwhile, at random moments, a worker process
group (the Procfile's ``worker``, and every third time ``notify``) is killed with SIGKILL and
restarted. Late acks,
reject-on-worker-lost and the sweepers must get every event applied once and every notice sent
at most once. It runs twice: with Redis as the broker, and (``make chaos`` only) with RabbitMQ,
where a killed worker's unacknowledged messages go back to the queue the moment its connection
drops instead of after the visibility timeout.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.chaos import invariants, report
from tests.chaos.conftest import size
from tests.chaos.harness import ChaosStack, chaos_stack, needs_rabbitmq, wait_settled
from tests.chaos.webhooks import ORDER_SKU, Background, interleave, order_events, prime, stock_events

EVENTS = size(full=5000, smoke=300)
KILLS = size(full=10, smoke=1)
POST_SECONDS = size(full=120, smoke=8)


@pytest.mark.timeout(900)
def test_workers_killed_mid_run_lose_and_repeat_nothing(stack: ChaosStack) -> None:
    run_worker_kills(stack, "1 worker kill -9")


@pytest.mark.chaos_full
@needs_rabbitmq
@pytest.mark.timeout(900)
def test_workers_killed_mid_run_on_rabbitmq_lose_and_repeat_nothing(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir, broker="rabbitmq") as stack:
        run_worker_kills(stack, "1 worker kill -9 (RabbitMQ)")


def run_worker_kills(stack: ChaosStack, row: str) -> None:
    rng = random.Random(1)
    load = prime(stack)
    orders = order_events(ORDER_SKU, max(4, EVENTS // 50))
    events = interleave(stock_events(load.listings, load.codes, EVENTS - len(orders)), orders)
    poster = Background(load.url, events, threads=6, duration_s=POST_SECONDS)
    kills: list[str] = []
    # Random moments, but both groups for certain: every third kill is the notify worker, so a
    # send cut off mid-request (left ``sending``, then reconciled) is part of every full run.
    for number in range(KILLS):
        time.sleep(rng.uniform(0.3, 1.0) * POST_SECONDS / KILLS)
        label = "notify" if number % 3 == 2 else "worker"
        stack.restart(label)
        kills.append(label)
    sent = poster.join()
    assert not stack.dead(), stack.logs_tail()
    recovery = wait_settled(stack, timeout_s=360)  # from the last delivery, which is after the last kill
    verdict = invariants.check(stack, load.primed + events)
    report.record(row, runs=KILLS, events_in=verdict.events_in, effects=verdict.effects,
                  lost=verdict.lost, duplicates=verdict.duplicates, recovery_s=recovery,
                  detail=f"killed {kills}; answers {dict(sent.statuses)}; "
                         f"sends unresolved {verdict.unresolved_sends}")
    assert sent.given_up == [], sent.statuses
    assert verdict.problems == [], verdict.problems
