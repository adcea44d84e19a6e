"""Scenario 2: the broker restarts without persistence mid-run: every queued message is gone.

Half-way through a run a burst of orders arrives and, the moment their backorders are recorded
(their delay notices still queued), the workers are killed, so the rest of the work waits in the broker; then
Redis is killed and restarted empty, and the workers come back. Nothing that was only in the
broker may be lost for good: events are rows in the inbox, messages rows in the outbox, timers rows in
``timers``, and the beat's sweepers (inbox re-drive, timers, outbox re-drive) find them again.
The row reports how long that took after Redis came back, until nothing was pending and every
channel we write to showed the sellable figure the database holds.

With RabbitMQ as the broker (``make chaos`` only) "empty" needs saying: Celery's queues are
durable and its messages persistent, so a clean restart keeps every queued task — the first
variant stops the node cleanly and checks that the queued messages are all still there; the
second kills it with ``kill -9`` and deletes its data directory, so it comes back without a
queue, an exchange or a message, and the sweepers must find everything again, as with Redis.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.chaos import invariants, report
from tests.chaos.conftest import size
from tests.chaos.harness import ChaosStack, chaos_stack, needs_rabbitmq, wait_settled, wait_until
from tests.chaos.webhooks import ORDER_SKU, Background, deliver, interleave, order_events, prime, stock_events

EVENTS = size(full=2000, smoke=300)
POST_SECONDS = size(full=60, smoke=15)
OUTAGE_SECONDS = size(full=10, smoke=3)
WORKERS = ("worker", "notify")
BURST = 30


@pytest.mark.chaos_full
@pytest.mark.timeout(900)
def test_a_broker_restart_without_persistence_is_recovered_by_the_sweepers(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir) as stack:
        def restart() -> int:
            stack.redis.kill()
            time.sleep(OUTAGE_SECONDS)
            stack.redis.start()
            return 0
        run_broker_restart(stack, "2 Redis restart, no persistence", restart)


@pytest.mark.chaos_full
@needs_rabbitmq
@pytest.mark.timeout(900)
@pytest.mark.parametrize("wipe", [False, True], ids=["clean-restart", "kill-9-wiped"])
def test_a_rabbitmq_restart_is_recovered(chaos_dir: Path, wipe: bool) -> None:
    with chaos_stack(chaos_dir, broker="rabbitmq") as stack:
        rabbitmq = stack.rabbitmq
        assert rabbitmq is not None

        def restart() -> int:
            before = stack.broker_queued()
            if wipe:
                rabbitmq.kill(wipe=True)
            else:
                rabbitmq.stop()
            time.sleep(OUTAGE_SECONDS)
            rabbitmq.start()
            after = stack.broker_queued()
            # Clean: durable queues, persistent messages, all still queued (beat, still running,
            # may have added its sweeps before the node stopped). Wiped: nothing is.
            assert (after == 0) if wipe else (after >= before), (before, after)
            return after
        row = ("2 broker kill -9, data wiped (RabbitMQ)" if wipe
               else "2 broker clean restart, queues kept (RabbitMQ)")
        run_broker_restart(stack, row, restart)


def run_broker_restart(stack: ChaosStack, row: str, restart: Callable[[], int]) -> None:
    """The scenario; ``restart`` takes the broker down and up and returns the messages it kept."""
    load = prime(stack)
    orders = order_events(ORDER_SKU, max(4, EVENTS // 50), first_number=100_000)
    events = interleave(stock_events(load.listings, load.codes, EVENTS - len(orders)), orders)
    poster = Background(load.url, events, threads=6, duration_s=POST_SECONDS)
    time.sleep(POST_SECONDS / 2)
    burst = order_events(ORDER_SKU, BURST, first_number=110_000)
    assert deliver(load.url, burst, threads=BURST).given_up == []
    wait_until(lambda: stack.scalar(
        "SELECT count(*) FROM backorders b JOIN order_lines l ON l.id = b.order_line_id JOIN orders o "
        "ON o.id = l.order_id WHERE o.external_id = ANY(:ids)", ids=[e.order_id for e in burst]) == BURST,
        60, "the burst's backorders recorded", stack, interval_s=0.02)
    for label in WORKERS:  # from here on, work piles up in the broker only
        stack.kill(label)
    unoffered = stack.scalar("SELECT count(*) FROM backorders WHERE state = 'open'")
    sent = poster.join()
    events += burst
    queued = stack.broker_queued()
    kept = restart()
    back = time.monotonic()
    for label in WORKERS:
        stack.start(label)
    stack.wait_ready(WORKERS)
    assert not stack.dead(), stack.logs_tail()
    settled_s = wait_settled(stack, timeout_s=420, since=back)
    # and every channel we write to shows the sellable figure the database holds
    shown_s, _wrong = invariants.wait_storefronts(stack, 120, since=back)
    recovery = max(settled_s, time.monotonic() - back if shown_s is None else shown_s)
    verdict = invariants.check(stack, load.primed + events, storefronts=True)
    report.record(row, runs=1, events_in=verdict.events_in,
                  effects=verdict.effects, lost=verdict.lost, duplicates=verdict.duplicates,
                  recovery_s=recovery, detail=f"{queued - kept} of {queued} broker messages dropped ({unoffered} "
                                              f"delay notices not yet offered); webhook answers "
                                              f"{dict(sent.statuses)}; sends unresolved "
                                              f"{verdict.unresolved_sends}")
    assert sent.given_up == [], dict(sent.statuses)
    assert verdict.problems == [], verdict.problems
