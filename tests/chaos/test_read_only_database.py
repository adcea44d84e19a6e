"""Scenario 16: the database turns read-only for a while; every task is retried and nothing is lost.

A probe made the database read-only (``ALTER DATABASE … SET default_transaction_read_only = on``)
while webhooks arrived: 92 tasks failed on their first attempt without a retry, and recording
their dead letters failed too, so ``backorders status`` showed nothing wrong.

Here, while webhooks arrive and reminders come due, the private PostgreSQL is switched read-only
the way a fail-over or an operator does it — the database's default changed and every open
session ended — and switched back ``READ_ONLY_SECONDS`` later *without* ending the sessions
opened meanwhile, which stay read-only for their whole life (the product must drop them itself).
After recovery: every webhook applied once, every reminder that came due fired once, every task
that gave up is a dead letter in the table (none left in a spool, none only in a log), and the
workers' logs show the database errors were retried.
"""
from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from domain.core import spool
from tests.chaos import invariants, report
from tests.chaos.conftest import size
from tests.chaos.harness import REPO_ROOT, ChaosStack, chaos_stack, wait_settled, wait_until
from tests.chaos.webhooks import ORDER_SKU, Background, interleave, order_events, prime, stock_events

EVENTS = size(full=1500, smoke=300)
POST_SECONDS = size(full=60, smoke=20)
READ_ONLY_SECONDS = size(full=20, smoke=8)
FAILED_FOR_GOOD = re.compile(r"task (\S+)\[([0-9a-f-]{36})\] failed for good")


def read_only(stack: ChaosStack, on: bool) -> None:
    """The database's default for new sessions; switching on also ends every open session."""
    with psycopg.connect(stack.pg.psycopg_url, autocommit=True) as admin:
        admin.execute("SET default_transaction_read_only = off")  # this session may still change it
        name = admin.execute("SELECT current_database()").fetchone()[0]
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}')
        if on:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                          "AND pid <> pg_backend_pid() AND backend_type = 'client backend'", (name,))


def logs(stack: ChaosStack) -> str:
    return "\n".join(p.read_text(errors="replace") for p in (stack.workdir / "logs").glob("*.log"))


@pytest.mark.chaos_full
@pytest.mark.timeout(1200)
def test_a_read_only_database_delays_work_and_loses_nothing(chaos_dir: Path) -> None:
    # The operator's command-line runs too: from this checkout, like the Procfile's processes
    # (whose runners put the working directory first on the path).
    with chaos_stack(chaos_dir, extra_env={"PYTHONPATH": str(REPO_ROOT)}) as stack:
        load = prime(stack)
        orders = order_events(ORDER_SKU, max(4, EVENTS // 30), first_number=120_000)
        events = interleave(stock_events(load.listings, load.codes, EVENTS - len(orders)), orders)
        poster = Background(load.url, events, threads=6, duration_s=POST_SECONDS)
        time.sleep(POST_SECONDS / 3)
        # Reminders of the backorders offered so far come due inside the read-only window.
        with stack.engine.begin() as connection:
            moved = connection.execute(text(
                "UPDATE timers SET due_at = now() + (random() * :window + 2) * interval '1 second' "
                "WHERE state = 'pending' AND kind = 'backorder.reminder' RETURNING id"),
                {"window": READ_ONLY_SECONDS}).scalars().all()
        stack.engine.dispose()
        read_only(stack, True)
        time.sleep(READ_ONLY_SECONDS / 2)
        during = stack.cli("status", check=False)  # reads still work; the spool is reported
        time.sleep(READ_ONLY_SECONDS / 2)
        read_only(stack, False)
        back = time.monotonic()
        sent = poster.join()
        assert not stack.dead(), stack.logs_tail()
        wait_settled(stack, timeout_s=600)
        # every sweeper keeps running: the spool (if any) is imported within a minute
        wait_until(lambda: spool.pending_count(stack.workdir / "data" / "dead-letter-spool") == 0,
                   150, "spooled dead letters imported", stack)
        recovery = time.monotonic() - back

        text_ = logs(stack)
        retried = len(re.findall(r"database error 25006 read_only_sql_transaction, retry", text_))
        gave_up = {task_id: name for name, task_id in FAILED_FOR_GOOD.findall(text_)}
        spooled = len(re.findall(r"was spooled to", text_))
        recorded = {row[0] for row in stack.rows("SELECT task_id FROM dead_letters")}
        lost_dead = sorted(set(gave_up) - recorded)
        fired = stack.scalar("SELECT count(*) FROM timers WHERE id = ANY(:ids) AND state = 'fired'",
                             ids=list(moved)) if moved else 0
        status = stack.cli("status")
        verdict = invariants.check(stack, load.primed + events, dead_letters_allowed=len(recorded))
        statuses: Counter[int] = sent.statuses
        report.record("16 read-only database", runs=1, events_in=verdict.events_in + len(moved),
                      effects=verdict.effects + fired, lost=verdict.lost + len(lost_dead) + len(moved) - fired,
                      duplicates=verdict.duplicates, recovery_s=recovery,
                      detail=f"read-only {READ_ONLY_SECONDS}s; task retries on 25006: {retried}; "
                             f"dead letters {len(recorded)} (spooled {spooled}, lost {len(lost_dead)}); "
                             f"reminders due in the window {len(moved)}, fired {fired}; "
                             f"webhook answers {dict(statuses)}")
        assert during.returncode == 0, during.stderr
        assert retried > 0, "no task met the read-only database: the window missed the work?"
        assert lost_dead == [], f"dead letters only in a log: {lost_dead}"
        for dead_id, in stack.rows("SELECT id FROM dead_letters WHERE redriven_at IS NULL ORDER BY id DESC LIMIT 20"):
            assert f"#{dead_id} " in status.stdout, status.stdout
        assert "spooled locally" not in status.stdout
        assert fired == len(moved), f"{len(moved) - fired} reminders due in the window never fired"
        assert statuses[500] == 0, dict(statuses)
        assert sent.given_up == []
        assert verdict.problems == [], verdict.problems
