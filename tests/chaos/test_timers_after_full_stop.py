"""Scenario 6: every process stopped with timers pending, the clock past their due time.

Backorders are offered (each gets a reminder and a deadline timer), then web, workers and beat
are killed with SIGKILL. Moving every pending timer's ``due_at`` into the past stands in for a
long outage; on restart each timer fires exactly once: one reminder per backorder, one
decision at the deadline.
"""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.chaos import invariants, report
from tests.chaos.conftest import size
from tests.chaos.harness import PRODUCT_PROCESSES, chaos_stack, wait_settled, wait_until
from tests.chaos.webhooks import ORDER_SKU, deliver, order_events, prime

ORDERS = size(full=200, smoke=20)


@pytest.mark.chaos_full
@pytest.mark.timeout(900)
def test_timers_due_during_a_full_stop_fire_once_on_restart(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir) as stack:
        load = prime(stack)
        orders = order_events(ORDER_SKU, ORDERS, first_number=120_000)
        assert deliver(load.url, orders, threads=6).given_up == []
        wait_until(lambda: stack.scalar("SELECT count(*) FROM timers WHERE state = 'pending'") == 2 * ORDERS,
                   180, "a reminder and a deadline per backorder", stack)
        stack.stop_all(signal.SIGKILL)
        pending = stack.scalar("SELECT count(*) FROM timers WHERE state = 'pending'")
        with stack.engine.begin() as connection:
            connection.execute(text("UPDATE timers SET due_at = now() - CASE kind WHEN 'backorder.reminder' "
                                    "THEN interval '2 minutes' ELSE interval '1 minute' END "
                                    "WHERE state = 'pending'"))
        started = time.monotonic()
        for label in PRODUCT_PROCESSES:
            stack.start(label)
        stack.wait_ready(PRODUCT_PROCESSES)
        recovery = wait_settled(stack, timeout_s=240, since=started)
        fired = dict(stack.rows("SELECT kind, count(*) FROM timers WHERE state = 'fired' GROUP BY kind"))
        cancelled = dict(stack.rows("SELECT kind, count(*) FROM timers WHERE state = 'cancelled' GROUP BY kind"))
        left = stack.scalar("SELECT count(*) FROM timers WHERE state = 'pending' AND due_at < now()")
        decided = stack.scalar("SELECT count(*) FROM backorders WHERE state = 'accepted_wait'")
        # A deadline that a sweeper took before its overdue reminder sends the reminder and moves
        # itself (silence counts only after the reminder): those wait on a new, future deadline.
        reminded_late = stack.scalar("SELECT count(*) FROM backorders b WHERE b.state = 'notified' "
                                     "AND b.reminded_at IS NOT NULL AND EXISTS (SELECT 1 FROM timers t "
                                     "WHERE t.kind = 'backorder.deadline' AND t.subject_id = b.id "
                                     "AND t.state = 'pending' AND t.due_at > now())")
        reminders = stack.rows("SELECT count(*) FROM outbox WHERE template = 'backorder_reminder' "
                               "GROUP BY idempotency_key HAVING count(*) > 1")
        verdict = invariants.check(stack, load.primed + orders)
        report.record("6 timers after a full stop", runs=1, events_in=pending,
                      effects=sum(fired.values()) + sum(cancelled.values()), lost=verdict.lost + left,
                      duplicates=verdict.duplicates, recovery_s=recovery,
                      detail=f"fired {fired}; cancelled {cancelled}; backorders accepted_wait {decided}, "
                             f"reminded late with the deadline moved {reminded_late}")
        # Both overdue: a sweeper may take a deadline before another sends its reminder; the
        # deadline then sends the reminder and moves itself; no reminder is ever sent twice.
        assert fired.get("backorder.deadline") == ORDERS, fired
        assert fired.get("backorder.reminder", 0) + cancelled.get("backorder.reminder", 0) == ORDERS, (fired, cancelled)
        assert left == 0
        assert decided + reminded_late == ORDERS, "silence on a definite date means wait, after the reminder"
        assert reminders == []
        assert verdict.problems == [], verdict.problems
