"""Scenario 4: every webhook delivered three times, concurrently and out of order.

Platforms retry deliveries they think failed, and send them from several machines at once. The
inbox's dedupe key must turn the three copies into one row and one effect, and an older stock
figure that arrives after a newer one must not overwrite it. Run with Redis as the broker, and
(``make chaos`` only) with RabbitMQ.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import invariants, report
from tests.chaos.conftest import size
from tests.chaos.harness import ChaosStack, chaos_stack, needs_rabbitmq, wait_settled
from tests.chaos.webhooks import ORDER_SKU, deliver, interleave, order_events, prime, stock_events

EVENTS = size(full=2000, smoke=150)
COPIES = 3


@pytest.mark.timeout(900)
def test_each_webhook_three_times_out_of_order_takes_effect_once(stack: ChaosStack) -> None:
    run_duplicates(stack, "4 webhooks x3, out of order")


@pytest.mark.chaos_full
@needs_rabbitmq
@pytest.mark.timeout(900)
def test_each_webhook_three_times_out_of_order_on_rabbitmq_takes_effect_once(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir, broker="rabbitmq") as stack:
        run_duplicates(stack, "4 webhooks x3, out of order (RabbitMQ)")


def run_duplicates(stack: ChaosStack, row: str) -> None:
    load = prime(stack)
    orders = order_events(ORDER_SKU, max(3, EVENTS // 50), first_number=80_000)
    events = interleave(stock_events(load.listings, load.codes, EVENTS - len(orders)), orders)
    sent = deliver(load.url, events, copies=COPIES, threads=12, shuffle=True)
    recovery = wait_settled(stack, timeout_s=240)
    verdict = invariants.check(stack, load.primed + events)
    rows = stack.scalar("SELECT count(*) FROM inbox WHERE dedupe_key = ANY(:keys)",
                        keys=[e.dedupe_key for e in load.primed + events])
    report.record(row, runs=COPIES, events_in=verdict.events_in,
                  effects=verdict.effects, lost=verdict.lost, duplicates=verdict.duplicates,
                  recovery_s=recovery, detail=f"{len(events) * COPIES} deliveries, answers "
                                              f"{dict(sent.statuses)}; inbox rows {rows}")
    assert set(sent.statuses) <= {200, 429}, sent.statuses  # 429: the per-source limit, retried
    assert sent.given_up == []
    assert rows == len(load.primed) + len(events), "one inbox row per event, whatever the copies"
    assert verdict.problems == [], verdict.problems
