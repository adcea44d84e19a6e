"""Scenario 2w: RabbitMQ dies and comes back empty under live workers; no process exits.

Webhooks flow while the broker node is killed with ``kill -9``, its data directory deleted and,
after an outage, started again: no queue, no exchange, no message survives. The worker, the notify
worker, beat and web are left alone. Each must reconnect by itself (``broker_connection_max_retries
= None``: a worker waits for its broker however long it takes), redeclare what it consumes, and go
on: the row reports how long after the broker's return each consumer was connected again, and how
long until nothing was pending (what was in flight when the broker died is found by the sweepers).
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.chaos import invariants, report
from tests.chaos.conftest import size
from tests.chaos.harness import ChaosStack, chaos_stack, needs_rabbitmq, wait_settled, wait_until
from tests.chaos.webhooks import ORDER_SKU, Background, interleave, order_events, prime, stock_events

EVENTS = size(full=1500, smoke=200)
POST_SECONDS = size(full=45, smoke=15)
OUTAGE_SECONDS = size(full=15, smoke=5)
CONSUMERS = ("worker", "notify")
CONNECTED = "Connected to amqp://"


def _log_after(stack: ChaosStack, label: str, offset: int) -> str:
    return stack.procs[label].log.read_text(errors="replace")[offset:]


@pytest.mark.chaos_full
@needs_rabbitmq
@pytest.mark.timeout(900)
def test_workers_beat_and_web_outlive_a_rabbitmq_restart(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir, broker="rabbitmq") as stack:
        rabbitmq = stack.rabbitmq
        assert rabbitmq is not None
        load = prime(stack)
        orders = order_events(ORDER_SKU, max(4, EVENTS // 50), first_number=130_000)
        events = interleave(stock_events(load.listings, load.codes, EVENTS - len(orders)), orders)
        poster = Background(load.url, events, threads=6, duration_s=POST_SECONDS)
        time.sleep(POST_SECONDS / 3)
        rabbitmq.kill(wipe=True)
        time.sleep(OUTAGE_SECONDS)
        offsets = {label: len(stack.procs[label].log.read_text(errors="replace")) for label in stack.procs}
        rabbitmq.start()
        back = time.monotonic()
        reconnected: dict[str, float] = {}
        for label in CONSUMERS:
            wait_until(lambda label=label: CONNECTED in _log_after(stack, label, offsets[label]), 180,
                       f"{label} connected to the restarted broker", stack)
            reconnected[label] = round(time.monotonic() - back, 1)
        # Beat publishes again: a sweep it sends after the return reaches the worker.
        wait_until(lambda: "tasks.polling.dispatch_due[" in _log_after(stack, "worker", offsets["worker"]), 120,
                   "a beat sweep received after the broker's return", stack)
        reconnected["beat"] = round(time.monotonic() - back, 1)
        sent = poster.join()
        recovery = wait_settled(stack, timeout_s=420, since=back)
        assert not stack.dead(), f"exited: {stack.dead()}\n{stack.logs_tail()}"
        verdict = invariants.check(stack, load.primed + events)
        report.record("2w broker kill -9 + wiped, workers alive (RabbitMQ)", runs=1, events_in=verdict.events_in,
                      effects=verdict.effects, lost=verdict.lost, duplicates=verdict.duplicates,
                      recovery_s=recovery, detail=f"outage {OUTAGE_SECONDS}s; back in use after {reconnected} s; "
                                                  f"webhook answers {dict(sent.statuses)}; sends unresolved "
                                                  f"{verdict.unresolved_sends}")
        assert sent.given_up == [], dict(sent.statuses)
        assert verdict.problems == [], verdict.problems
