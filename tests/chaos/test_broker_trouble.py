"""Scenarios 13a-c: the workers outlive Redis trouble, and a Redis that may evict keys is refused.

13a. ~1,500 customer delay notices are pending (orders for a SKU held at zero, each a backorder
     whose notice goes through the notify worker at the provider's pace); Redis is killed and
     restarted empty while web, worker, notify and beat stay alive. No process may exit; then the
     notify worker's Celery process is killed outright (an exit nobody asked for) and its
     supervisor must start it again. Every notice is sent, once; the time from Redis' return until
     nothing is pending is printed.
13b. The same load, and Redis is given a ``maxmemory`` below what it already holds (policy
     ``noeviction``), so every write answers ``OOM command not allowed`` for a while; then the
     limit is lifted. No process may exit; everything is finished.
13c. Redis with ``allkeys-lru``: worker, beat and web refuse to start, naming the fix; with
     ``REDIS_EVICTION_POLICY_CHECK=warn`` they start and say so. A Mailgun callback replayed after
     Redis was flushed is still refused (its token is a PostgreSQL row).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests

from connectors.messaging.mailgun import sign as mailgun_sign
from tests.chaos import invariants, report
from tests.chaos.conftest import size
from tests.chaos.harness import REPO_ROOT, ChaosStack, chaos_stack, wait_settled, wait_until
from tests.chaos.webhooks import ORDER_SKU, deliver, order_events, prime

NOTICES = size(full=1500, smoke=200)
OUTAGE_SECONDS = size(full=10, smoke=3)
OOM_SECONDS = size(full=60, smoke=20)
EX_CONFIG = 78


def notices(stack: ChaosStack) -> dict[str, int]:
    """Customer delay notices by outbox state."""
    return {state: count for state, count in stack.rows(
        "SELECT state, count(*) FROM outbox WHERE template = 'backorder_notice' GROUP BY state")}


def pending_notices(stack: ChaosStack) -> int:
    """Backorders whose notice is not yet sent (not offered yet, or its outbox row not sent)."""
    return int(stack.scalar(
        "SELECT (SELECT count(*) FROM backorders WHERE state = 'open')"
        " + (SELECT count(*) FROM outbox WHERE template = 'backorder_notice'"
        "    AND state NOT IN ('sent', 'delivered'))"))


def load_notices(stack: ChaosStack) -> tuple[list, int]:
    """Orders for the zero-stock SKU, all recorded as backorders, and the notify worker busy
    sending their notices; returns the events and how many notices are still to be sent."""
    load = prime(stack)
    orders = order_events(ORDER_SKU, NOTICES, first_number=200_000)
    sent = deliver(load.url, orders, threads=12)
    assert sent.given_up == [], dict(sent.statuses)
    wait_until(lambda: stack.scalar("SELECT count(*) FROM backorders") >= NOTICES
               and notices(stack).get("sent", 0) >= 20, 600,
               "every order a backorder and the notify worker busy with the notices", stack, interval_s=0.5)
    return load.primed + orders, NOTICES - notices(stack).get("sent", 0)


def crash_child(stack: ChaosStack, label: str) -> int:
    """SIGKILL the process ``backorders supervise`` runs for ``label`` — an exit nobody asked for,
    like Celery's "Unrecoverable error" — and return its pid; the supervisor must start it again."""
    supervisor = stack.procs[label].popen.pid
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    assert len(children) == 1, children
    os.kill(int(children[0]), signal.SIGKILL)
    return int(children[0])


def watch_alive(stack: ChaosStack, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not stack.dead(), f"a process exited: {stack.dead()}\n{stack.logs_tail()}"
        time.sleep(0.5)


def finish(stack: ChaosStack, scenario: str, events: list, pending: int, back: float, what: str) -> None:
    recovery = wait_settled(stack, timeout_s=900, since=back)
    assert not stack.dead(), f"a process exited: {stack.dead()}\n{stack.logs_tail()}"
    verdict = invariants.check(stack, events)
    counts = notices(stack)
    # Which Celery process the supervisor started again, and why (the deliberate kill is one of them).
    restarted = [f"{log.stem}: {line.split('supervise: ', 1)[1][:120]}"
                 for log in sorted((stack.workdir / "logs").glob("*.log"))
                 for line in log.read_text(errors="replace").splitlines() if "supervise: " in line]
    restarts = f"{len(restarted)} {restarted}"
    print(f"\n{scenario}: {pending} customer notices pending at the {what}; all sent {recovery:.1f}s after "
          f"Redis was back ({counts}); lost {verdict.lost}, duplicates {verdict.duplicates}, supervisor restarts "
          f"{restarts}")
    report.record(scenario, runs=1, events_in=verdict.events_in, effects=verdict.effects, lost=verdict.lost,
                  duplicates=verdict.duplicates, recovery_s=recovery,
                  detail=f"{pending} notices pending at the {what}; no process exited; supervisor restarts "
                         f"{restarts}; notices {counts}")
    assert pending_notices(stack) == 0
    assert verdict.problems == [], verdict.problems


@pytest.mark.chaos_full
@pytest.mark.timeout(1500)
def test_redis_restarted_under_live_workers_every_pending_notice_is_sent(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir) as stack:
        events, pending = load_notices(stack)
        stack.redis.kill()
        watch_alive(stack, OUTAGE_SECONDS)
        stack.redis.start()
        back = time.monotonic()
        watch_alive(stack, 20)
        crashed = crash_child(stack, "notify")  # and the notify worker dies on top: no human restarts it
        log = stack.procs["notify"].log
        wait_until(lambda: "restart 1 in" in log.read_text(errors="replace")
                   and log.read_text(errors="replace").count(" ready.") >= 2, 120,
                   f"the supervisor starting notify again (pid {crashed} killed)", stack)
        finish(stack, "13a Redis restart, workers alive", events, pending, back, "restart")


@pytest.mark.chaos_full
@pytest.mark.timeout(1500)
def test_redis_out_of_memory_for_a_while_the_workers_survive_and_finish(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir) as stack:
        events, pending = load_notices(stack)
        client = redis.Redis.from_url(stack.redis.url)
        try:
            used = int(client.info("memory")["used_memory"])
            client.config_set("maxmemory", max(1, used - 50_000))
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                client.set("chaos:probe", b"x" * 100_000)
            watch_alive(stack, OOM_SECONDS)
            client.config_set("maxmemory", 0)
        finally:
            client.close()
        back = time.monotonic()
        watch_alive(stack, 10)
        finish(stack, "13b Redis out of memory (noeviction)", events, pending, back, "OOM")


def mailgun_callback(stack: ChaosStack, token: str) -> dict[str, object]:
    key = stack.env["MAILGUN_WEBHOOK_SIGNING_KEY"]
    stamp = str(int(time.time()))
    return {"signature": {"timestamp": stamp, "token": token, "signature": mailgun_sign(key, stamp, token)},
            "event-data": {"event": "delivered", "message": {"headers": {"message-id": f"<{token}@mg.test>"}}}}


@pytest.mark.chaos_full
@pytest.mark.timeout(600)
def test_an_evicting_redis_is_refused_and_a_replay_after_a_flush_is_still_refused(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir, processes=()) as stack:
        client = redis.Redis.from_url(stack.redis.url)
        client.config_set("maxmemory-policy", "allkeys-lru")
        refused = {}
        for name in ("worker", "beat"):  # under `backorders supervise`, as the Procfile runs them
            proc = stack.start(name)
            refused[name] = proc.popen.wait(timeout=120)
            text = proc.log.read_text(errors="replace")
            assert "maxmemory-policy allkeys-lru" in text and "CONFIG SET maxmemory-policy noeviction" in text, text[-2000:]
        web = subprocess.run([sys.executable, "-c", "import workers.web"], env=stack.env, cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=120, check=False)
        refused["web"] = web.returncode
        assert "web not started" in web.stderr and "maxmemory-policy allkeys-lru" in web.stderr, web.stderr[-2000:]
        assert refused == {"worker": EX_CONFIG, "beat": EX_CONFIG, "web": EX_CONFIG}, refused

        stack.env["REDIS_EVICTION_POLICY_CHECK"] = "warn"
        stack.start_all(("web", "worker"))
        assert "maxmemory-policy allkeys-lru" in stack.procs["worker"].log.read_text(errors="replace")

        token = "replay" + "0" * 44
        body = mailgun_callback(stack, token)
        url = f"{stack.web_url}/callbacks/mailgun"
        first = requests.post(url, json=body, timeout=10).status_code
        client.flushall()
        replayed = requests.post(url, json=body, timeout=10).status_code
        client.close()
        report.record("13c Redis eviction policy", runs=3, events_in=2, effects=int(first == 200), lost=0,
                      duplicates=int(replayed == 200),
                      detail=f"allkeys-lru refused: {refused}; warn mode starts; replay after FLUSHALL "
                             f"answered {replayed}")
        print(f"\n12c: refused with exit codes {refused}; callback {first}, replay after FLUSHALL {replayed}")
        assert (first, replayed) == (200, 401)
