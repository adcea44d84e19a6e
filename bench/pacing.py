"""Pacing: SMS sends per second to a provider that allows 10/s, and how many 429s it answered.

``python -m bench.pacing --messages 200`` measures:

* **ours**: ``--messages`` outbox rows for Twilio SMS (template ``stock_alert``), each handed to
  ``tasks.notify.deliver`` at once, with the Procfile's notify worker (``-Q notify -c 2``) running
  and ``RATE_LIMIT_TWILIO_PER_S=10`` (the shared Redis token bucket). The messaging sandbox
  enforces 10 requests in any rolling second and answers 429 (``Retry-After: 1``) beyond that.
  Figure: accepted sends per second between the first and the last accepted request, from the
  sandbox's own request log, and the count of 429 answers there.
* **baseline**: the provider's limit, 10/s. Goal: 0.8–1.0 of the limit with zero 429s.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

from bench.common import (
    Figure,
    Goal,
    apply_business_file,
    bench_env,
    celery_worker,
    finish,
    full_sandbox_process,
    log_errors,
    main_wrapper,
    scratch_database,
    shopify_store_toml,
    wait_until,
)

PROVIDER = "twilio"


def queue_messages(count: int) -> list[int]:
    """``count`` pending SMS rows, as a burst of stock alerts would leave them."""
    from domain.core.db import session_scope
    from domain.messaging import outbox

    ids = []
    with session_scope() as session:
        for n in range(count):
            context = {"event": "stock.low", "sku": f"PACE-{n:04d}", "title": "Bench futon", "available": 1,
                       "open_demand": 0, "channels": ["Bench Shopify"], "threshold": 2, "from_state": "IN_STOCK",
                       "to_state": "LOW", "locations": [], "detail": ""}
            outbox_id = outbox.enqueue(session, idempotency_key=f"bench-pacing-{n}", channel="sms",
                                       template="stock_alert", recipient=f"+1201555{n:04d}", context=context)
            ids.append(int(outbox_id or 0))
    return ids


def states() -> dict[str, int]:
    from domain.core.db import get_engine

    with get_engine().connect() as connection:
        return dict(connection.execute(text("SELECT state, count(*) FROM outbox GROUP BY state")).all())


def provider_log(sandbox_url: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{sandbox_url}/_sandbox/messaging/requests", params={"provider": PROVIDER}, timeout=30)
    answer.raise_for_status()
    body = answer.json()
    return body["requests"] if isinstance(body, dict) else body


def throttle_times(entries: list[dict[str, Any]]) -> list[float]:
    """Seconds after the first request at which the provider answered 429: where pacing fails."""
    if not entries:
        return []
    first = min(datetime.fromisoformat(e["received_at"]) for e in entries)
    return sorted(round((datetime.fromisoformat(e["received_at"]) - first).total_seconds(), 3)
                  for e in entries if e.get("status") == 429)


def send_rate(entries: list[dict[str, Any]]) -> tuple[float, float, int]:
    """(accepted per second between the first and last accepted request, that span, 429 count)."""
    accepted = sorted(datetime.fromisoformat(e["received_at"]) for e in entries if e.get("status") in (200, 201))
    throttled = sum(1 for e in entries if e.get("status") == 429)
    if len(accepted) < 2:
        return 0.0, 0.0, throttled
    span = (accepted[-1] - accepted[0]).total_seconds()
    return (len(accepted) - 1) / span, span, throttled


def measure(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_database("bench"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pacing-")))
        sandbox_url = stack.enter_context(full_sandbox_process())
        from demo.scenario import sandbox_env

        config_path = workdir / "bench.toml"
        config_path.write_text(shopify_store_toml(f"{sandbox_url}/shopify/bench"))
        apply_business_file(config_path)
        requests.post(f"{sandbox_url}/_sandbox/messaging/rate-limit",
                      json={"provider": PROVIDER, "per_second": args.limit}, timeout=10).raise_for_status()
        env = bench_env(scratch, {**sandbox_env(sandbox_url), "BACKORDERS_CONFIG": str(config_path),
                                  f"RATE_LIMIT_{PROVIDER.upper()}_PER_S": str(args.rate)})
        ids = queue_messages(args.messages)
        log_path = workdir / "notify.log"
        with celery_worker(env, log_path, "notify", concurrency=args.concurrency, name="notify"):
            from workers.app import app

            started = time.perf_counter()
            for outbox_id in ids:
                app.send_task("tasks.notify.deliver", args=[outbox_id], queue="notify")
            wait_until(lambda: states().get("sent", 0) + states().get("failed", 0) >= len(ids), args.timeout,
                       "every message to be sent", interval_s=0.2)
            wall = time.perf_counter() - started
        entries = provider_log(sandbox_url)
        rate, span, throttled = send_rate(entries)
        print(f"429s at seconds after the first request: {throttle_times(entries)}", flush=True)
        final = states()
        fraction = rate / args.limit
        table = [Figure("sends accepted per second", rate, "msg/s", float(args.limit)),
                 Figure("429 answers from the provider", throttled, "req"),
                 Figure("requests made", len(entries), "req", float(args.messages)),
                 Figure("time for all messages", wall, "s", args.messages / args.limit)]
        goal = Goal(f"0.8–1.0 × {args.limit}/s with zero 429s", f"{fraction:.2f} × limit, {throttled} × 429",
                    0.8 <= fraction <= 1.0 and throttled == 0)
        finish("pacing", scratch, {"messages": args.messages, "provider": PROVIDER, "provider_limit_per_s": args.limit,
                                   "rate_limit_env": args.rate, "notify_concurrency": args.concurrency,
                                   "pool": "prefork"},
               table, goal, {"outbox_states": final, "accepted_span_s": span,
                             "throttled_at_s": throttle_times(entries),
                             "worker_errors": log_errors(log_path)})
        return 0 if final.get("sent", 0) == args.messages else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pacing", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200, help="SMS rows to send (default 200)")
    parser.add_argument("--limit", type=int, default=10, help="the sandbox provider's limit per second (10)")
    parser.add_argument("--rate", type=float, default=10.0, help="RATE_LIMIT_TWILIO_PER_S for the worker (10)")
    parser.add_argument("--concurrency", type=int, default=2, help="notify worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=240.0, help="give up after this many seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return measure(parse_args(argv))


if __name__ == "__main__":
    main_wrapper(main)
