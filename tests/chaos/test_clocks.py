"""Scenarios for time itself: a frozen beat, and workers whose clocks are wrong.

**Frozen beat.** Two beats run, as the Procfile deploys them. One is stopped with SIGSTOP for
330 s (the probe that once left every timer up to 320 s late and stopped every poll). Reminder
timers are spread over the freeze; each must fire within the sweep interval plus
:data:`FIRE_BOUND_S` of its due time, the shop's polls must go on, and nothing may fire twice when
the frozen beat wakes up and sends its overdue sweeps.

**Worker clock skew.** The only workers run under ``faketime``: one 11 minutes ahead of the
database, one 6 minutes ahead. Reminders fall due over two minutes and a poll lease is held by
someone else for 60 s more. No reminder may be decided before its time by the database's clock
(the outbox row's ``created_at`` is PostgreSQL's ``now()`` of the deciding transaction), and the
held lease must not change hands before it expires. It needs ``faketime`` (Debian/Ubuntu:
``apt-get install faketime``) and is skipped, saying so, where that is missing.
"""
from __future__ import annotations

import os
import shutil
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.chaos import invariants, report
from tests.chaos.conftest import size
from tests.chaos.harness import SHOP, ChaosStack, chaos_stack, wait_until
from tests.chaos.webhooks import ORDER_SKU, deliver, order_events, prime

FREEZE_S = float(os.environ.get("CHAOS_FREEZE_SECONDS") or size(full=330, smoke=40))
ORDERS = size(full=40, smoke=10)
#: The harness sweeps every second (``SWEEP_INTERVAL_S=1``); a due timer waits at most for the
#: next sweep of the beat still running, then for the queue and the firing transaction.
SWEEP_INTERVAL_S = 1.0
FIRE_BOUND_S = 5.0
POLL_INTERVAL_S = 5


def _polls_every_5s(text_: str) -> str:
    import re

    return re.sub(r'(?m)^poll_interval = "[^"]*"', f'poll_interval = "{POLL_INTERVAL_S}s"', text_)


def _backorders_with_timers(stack: ChaosStack, first_number: int) -> tuple[object, list[object]]:
    load = prime(stack)
    orders = order_events(ORDER_SKU, ORDERS, first_number=first_number)
    assert deliver(load.url, orders, threads=4).given_up == []
    wait_until(lambda: stack.scalar("SELECT count(*) FROM timers WHERE state = 'pending'") == 2 * ORDERS,
               180, "a reminder and a deadline per backorder", stack)
    return load, orders


def _spread_reminders(stack: ChaosStack, first_s: float, span_s: float) -> None:
    """Reminder i falls due ``first_s + i × span_s / ORDERS`` seconds from the database's now."""
    with stack.engine.begin() as connection:
        connection.execute(text(
            "UPDATE timers t SET due_at = now() + make_interval(secs => :first + (r.n - 1) * :step) "
            "FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM timers "
            "      WHERE kind = 'backorder.reminder' AND state = 'pending') r WHERE t.id = r.id"),
            {"first": first_s, "step": span_s / ORDERS})


def _reminder_timing(stack: ChaosStack) -> tuple[int, int, float, float]:
    """(reminders fired, still pending, max lateness s, max earliness s) by the database's clock:
    lateness from ``fired_at``; earliness from the reminder message's ``created_at`` (PostgreSQL's
    ``now()`` in the transaction that decided to fire), which no worker's clock writes."""
    fired, pending, late = stack.rows(
        "SELECT count(*) FILTER (WHERE state = 'fired'), count(*) FILTER (WHERE state = 'pending'), "
        "coalesce(extract(epoch FROM max(fired_at - due_at)), 0) FROM timers WHERE kind = 'backorder.reminder'")[0]
    early = stack.scalar(
        "SELECT coalesce(extract(epoch FROM max(t.due_at - o.created_at)), 0) FROM timers t "
        "JOIN outbox o ON o.template = 'backorder_reminder' AND o.idempotency_key LIKE 'backorder:' || t.subject_id || ':%' "
        "WHERE t.kind = 'backorder.reminder'")
    return int(fired), int(pending), float(late), float(early)


@pytest.mark.chaos_full
@pytest.mark.timeout(int(FREEZE_S) + 900)
def test_a_frozen_beat_delays_no_timer_and_no_poll(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir, edit=_polls_every_5s) as stack:
        stack.start("beat2")  # the Procfile's second beat
        load, orders = _backorders_with_timers(stack, first_number=140_000)
        _spread_reminders(stack, first_s=5, span_s=FREEZE_S - 15)
        frozen = stack.procs["beat"].popen.pid
        os.killpg(frozen, signal.SIGSTOP)
        freeze_started = stack.scalar("SELECT now()")
        try:
            deadline = time.monotonic() + FREEZE_S
            while time.monotonic() < deadline:
                assert not stack.dead(), stack.logs_tail()
                time.sleep(2)
        finally:
            freeze_ended = stack.scalar("SELECT now()")
            os.killpg(frozen, signal.SIGCONT)
        wait_until(lambda: _reminder_timing(stack)[1] == 0, 60, "every reminder fired", stack)
        time.sleep(5)  # the thawed beat's overdue sweeps run: they must find nothing left to fire
        fired, pending, late_s, early_s = _reminder_timing(stack)
        starts = sorted(datetime.fromisoformat(data["started_at"]) for (data,) in stack.rows(
            "SELECT data FROM audit_log WHERE action = 'poll' AND at BETWEEN :a AND :b",
            a=freeze_started, b=freeze_ended))
        gaps = [(b - a).total_seconds() for a, b in zip([freeze_started, *starts], [*starts, freeze_ended])]
        verdict = invariants.check(stack, load.primed + orders)  # type: ignore[attr-defined]
        bound = SWEEP_INTERVAL_S + FIRE_BOUND_S
        report.record("15a frozen beat, one of two beats", runs=1, events_in=ORDERS, effects=fired, lost=verdict.lost + pending,
                      duplicates=verdict.duplicates, recovery_s=late_s,
                      detail=f"one of two beats SIGSTOPped {FREEZE_S:.0f}s; {fired} reminders due during it fired "
                             f"at most {late_s:.1f}s late (bound {bound:.0f}s = sweep {SWEEP_INTERVAL_S:.0f}s "
                             f"+ {FIRE_BOUND_S:.0f}s); {len(starts)} polls ran during it, longest gap "
                             f"{max(gaps):.1f}s (interval {POLL_INTERVAL_S}s)")
        assert fired == ORDERS and pending == 0
        assert late_s <= bound, f"a timer fired {late_s:.1f}s late"
        assert early_s <= 0.5, f"a timer fired {early_s:.1f}s early"
        assert len(starts) >= FREEZE_S / POLL_INTERVAL_S / 2, f"only {len(starts)} polls in {FREEZE_S}s"
        assert max(gaps) <= POLL_INTERVAL_S + 2 * SWEEP_INTERVAL_S + 10, gaps
        assert verdict.problems == [], verdict.problems


SKEWED_WORKERS = {"worker-ahead-11m": "+11m", "worker-ahead-6m": "+6m"}
REMINDER_SPAN_S = size(full=120, smoke=60)
LEASE_HELD_S = 60


@pytest.mark.chaos_full
@pytest.mark.timeout(1200)
def test_workers_with_clocks_ahead_fire_nothing_early_and_take_no_held_lease(chaos_dir: Path) -> None:
    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.skip("worker clock skew needs the faketime command (Debian/Ubuntu: apt-get install faketime)")
    with chaos_stack(chaos_dir, edit=_polls_every_5s, processes=("web", "notify", "beat")) as stack:
        for label, offset in SKEWED_WORKERS.items():
            # The monotonic clock moves with the wall clock (by a constant, so its intervals stay
            # true): libfaketime with FAKETIME_DONT_FAKE_MONOTONIC makes Python's sleeps fail (EINVAL).
            stack.start("worker", label, prefix=(faketime, "-m", "-f", offset))
        stack.wait_ready(tuple(SKEWED_WORKERS))
        load, orders = _backorders_with_timers(stack, first_number=150_000)
        _spread_reminders(stack, first_s=20, span_s=REMINDER_SPAN_S)

        # Someone else holds the shop's poll lease for 60 s more (taken between two polls); polls
        # are dispatched every 5 s meanwhile, each to a worker whose clock says it expired long ago.
        held_until = wait_until(lambda: _hold_lease(stack), 60, "a moment between two polls", stack)
        while stack.scalar("SELECT lease_owner FROM stores WHERE key = :shop", shop=SHOP) == "held-elsewhere":
            assert stack.scalar("SELECT now()") < held_until + timedelta(seconds=60), "the lease was never taken over"
            time.sleep(0.25)
        changed_at = stack.scalar("SELECT now()")
        changed_s = (changed_at - held_until).total_seconds()  # negative: taken before it expired
        stolen = int(changed_s < -0.5)
        wait_until(lambda: _reminder_timing(stack)[1] == 0, REMINDER_SPAN_S + 120, "every reminder fired", stack)
        fired, pending, late_s, early_s = _reminder_timing(stack)
        firing = {label: _fired_in_log(stack, label) for label in SKEWED_WORKERS}
        verdict = invariants.check(stack, load.primed + orders)  # type: ignore[attr-defined]
        report.record("15b worker clock skew", runs=1, events_in=ORDERS, effects=fired, lost=verdict.lost + pending,
                      duplicates=verdict.duplicates + stolen, recovery_s=late_s,
                      detail=f"workers +11 and +6 min: {fired} reminders due over {REMINDER_SPAN_S}s, earliest "
                             f"{-early_s:.2f}s after its due time, latest {late_s:.1f}s; fired by "
                             f"{firing}; a poll lease held {LEASE_HELD_S}s more elsewhere changed hands "
                             f"{changed_s:+.1f}s after it expired")
        assert fired == ORDERS and pending == 0
        assert early_s <= 0.5, f"a reminder was decided {early_s:.1f}s before it was due"
        assert sum(firing.values()) > 0, "the skewed workers fired the timers"
        assert stolen == 0, f"the held lease was taken {-changed_s:.1f}s before it expired"
        assert changed_s <= POLL_INTERVAL_S + 2 * SWEEP_INTERVAL_S + 5, "the expired lease is taken over on time"
        assert verdict.problems == [], verdict.problems


def _hold_lease(stack: ChaosStack) -> datetime | None:
    """Take the shop's poll lease as another worker would, for LEASE_HELD_S; None while a poll holds it."""
    with stack.engine.begin() as connection:
        return connection.execute(text(
            "UPDATE stores SET lease_owner = 'held-elsewhere', lease_expires_at = now() + make_interval(secs => :s) "
            "WHERE key = :shop AND lease_owner IS NULL RETURNING lease_expires_at"),
            {"s": LEASE_HELD_S, "shop": SHOP}).scalar()


def _fired_in_log(stack: ChaosStack, label: str) -> int:
    """Timers fired by this worker: the sum of ``fire_due`` results in its log."""
    import re

    log = stack.procs[label].log.read_text(errors="replace")
    return sum(int(n) for n in re.findall(r"Task tasks\.timers\.fire_due\[[^\]]+\] succeeded in [\d.]+s: (\d+)", log))
