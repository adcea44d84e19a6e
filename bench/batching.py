"""Batching: stock events applied per second end to end, against no-op Celery tasks per second.

``python -m bench.batching --events 20000`` measures:

* **ours**: N signed-shape ``inventory_levels/update`` webhooks already committed to the inbox
  (what the receiver leaves behind: headers, body and the records it parsed from the body), for
  10,000 catalog SKUs with listings and stock levels.
  One ``tasks.inbound.drain`` is sent (as the receiver's coalesced wake-up does) to a real worker
  (``-Q sync,detect,default,timers -c 2 --pool prefork``). The time runs from the send until no
  inbox row is pending and the broker holds no message queued or unacked (every
  ``tasks.stock.evaluate`` the drain started has run). Figure: events / s.
* **baseline**: N no-op tasks (``bench/noop_app.py``) sent by one producer to a worker with the
  same broker, pool and concurrency, timed from the first send until none is queued or unacked.

Ratio = ours ÷ baseline; the goal is ≥ 10 (batching must beat a task per event tenfold).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from bench.common import (
    BENCH_SHOPIFY_LOCATION_ID,
    BENCH_STORE_KEY,
    SHOPIFY_ITEM_ID_BASE,
    Figure,
    Goal,
    QueueBacklog,
    apply_business_file,
    bench_env,
    celery_worker,
    finish,
    insert_catalog,
    log_errors,
    main_wrapper,
    noop_throughput,
    noop_worker,
    scratch_database,
    shopify_store_toml,
    wait_until,
)

GOAL_RATIO = 10.0
PREFIX = "BAT-"
WORKER_QUEUES = "sync,detect,default,timers"

INSERT_EVENTS_SQL = text("""
INSERT INTO inbox (source, dedupe_key, kind, topic, payload, occurred_at)
SELECT :source, 'shopify:bench-' || i, 'inventory_update', 'inventory_levels/update',
       jsonb_build_object(
         'headers', jsonb_build_object('content-type', 'application/json',
                                       'x-shopify-topic', 'inventory_levels/update',
                                       'x-shopify-event-id', 'bench-' || i),
         'body', format('{"inventory_item_id": %s, "location_id": %s, "available": %s, "updated_at": "%s"}',
                        CAST(:item_base AS bigint) + (i % :skus), :location, 1 + (i % 37),
                        to_char((now() + i * interval '1 millisecond') AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))),
       now() + i * interval '1 millisecond'
  FROM generate_series(0, :events - 1) AS i
""")


def prepare(workdir: Path, skus: int, events: int) -> Path:
    """Store, catalog (SKUs, listings, levels) and N pending inbox rows; returns the config path."""
    from domain.core.db import session_scope

    config_path = workdir / "bench.toml"
    config_path.write_text(shopify_store_toml("http://127.0.0.1:9/shopify/bench"))
    store_id = apply_business_file(config_path)
    insert_catalog(store_id, skus, PREFIX, available=50)
    with session_scope() as session:
        session.execute(INSERT_EVENTS_SQL, {"source": BENCH_STORE_KEY, "item_base": SHOPIFY_ITEM_ID_BASE,
                                            "skus": skus, "location": BENCH_SHOPIFY_LOCATION_ID,
                                            "events": events})
        add_parsed_records(session)
        session.execute(text("ANALYZE inbox"))
    return config_path


#: The records each row's body parses to, added beside it in one statement.
ADD_RECORDS_SQL = text("""
UPDATE inbox SET payload = inbox.payload || jsonb_build_object('records', r.records)
  FROM json_to_recordset(CAST(:rows AS json)) AS r(id bigint, records jsonb)
 WHERE inbox.id = r.id
""")


def add_parsed_records(session: Any) -> None:
    """Each row as the web receiver leaves it: the body parsed once by the platform's connector and
    its records stored beside it (``workers.webhooks``: ``payload["records"]``), which the drain
    applies as they are. Done before the clock starts, as the receiver does it before the drain."""
    from connectors import webhook_records
    from domain.core.models import Store
    from flows.connections import connector_for

    store = session.scalar(select(Store).where(Store.key == BENCH_STORE_KEY))
    connector = connector_for(store, require_credentials=False)  # parsing needs no credentials
    rows = session.execute(text("SELECT id, payload FROM inbox ORDER BY id")).all()
    session.execute(ADD_RECORDS_SQL, {"rows": json.dumps([
        {"id": row_id, "records": webhook_records.dump(connector.parse_webhook(
            payload["headers"], payload["body"].encode("utf-8")))} for row_id, payload in rows])})


def pending_inbox() -> int:
    from domain.core.db import get_engine

    with get_engine().connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM inbox WHERE state = 'pending'")).scalar_one())


def outcome() -> dict[str, int]:
    from domain.core.db import get_engine

    queries = {"inbox_done": "SELECT count(*) FROM inbox WHERE state = 'done'",
               "inbox_not_done": "SELECT count(*) FROM inbox WHERE state <> 'done'",
               "stock_history": "SELECT count(*) FROM stock_history",
               "dead_letters": "SELECT count(*) FROM dead_letters"}
    with get_engine().connect() as connection:
        return {k: int(connection.execute(text(q)).scalar_one()) for k, q in queries.items()}


def run_drain(redis_url: str, prefix: str, timeout_s: float) -> float:
    """Send the coalesced wake-up; seconds until the inbox and the broker are both empty."""
    from workers.app import app

    backlog = QueueBacklog(redis_url, prefix, WORKER_QUEUES.split(","))
    try:
        started = time.perf_counter()
        app.send_task("tasks.inbound.drain", args=[BENCH_STORE_KEY], queue="detect")
        wait_until(lambda: pending_inbox() == 0, timeout_s, "the inbox to drain", interval_s=0.05)
        return backlog.wait_drained(timeout_s) - started
    finally:
        backlog.close()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_database("bench"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-batching-")))
        config_path = prepare(workdir, args.skus, args.events)
        env = bench_env(scratch, {"BACKORDERS_CONFIG": str(config_path)})
        print(f"scratch database {scratch.database_name}; {args.events:,} inbox rows, {args.skus:,} SKUs", flush=True)
        with noop_worker(env, workdir / "noop.log", concurrency=args.concurrency):
            baseline = noop_throughput(scratch.servers.redis_url, scratch.key_prefix, args.events)
        print(f"baseline: {baseline['per_second']:,.0f} no-op tasks/s", flush=True)
        log_path = workdir / "worker.log"
        with celery_worker(env, log_path, WORKER_QUEUES, concurrency=args.concurrency):
            seconds = run_drain(scratch.servers.redis_url, scratch.key_prefix, args.timeout)
        counts = outcome()
        ours = args.events / seconds
        ratio = ours / baseline["per_second"]
        table = [Figure("stock events applied", ours, "events/s", baseline["per_second"]),
                 Figure("time for all events", seconds, "s", baseline["seconds"])]
        goal = Goal(f"events/s ÷ no-op tasks/s ≥ {GOAL_RATIO:g}", f"{ratio:.2f}", ratio >= GOAL_RATIO)
        problems = []
        if counts["inbox_done"] != args.events:
            problems.append(f"{counts['inbox_done']} of {args.events} events done")
        if counts["dead_letters"]:
            problems.append(f"{counts['dead_letters']} dead letters")
        finish("batching", scratch, {"events": args.events, "skus": args.skus, "concurrency": args.concurrency,
                                     "pool": "prefork", "worker_queues": WORKER_QUEUES},
               table, goal, {"baseline": baseline, "outcome": counts, "worker_errors": log_errors(log_path),
                             "problems": problems})
        for problem in problems:
            print(f"PROBLEM: {problem}")
        return {"problems": problems}


def profile_drain(skus: int, events: int, top: int = 25) -> None:
    """cProfile of the drain task run in this process: where one event's time goes."""
    from tasks.inbound import drain

    with ExitStack() as stack:
        stack.enter_context(scratch_database("bench"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-batching-")))
        config_path = prepare(workdir, skus, events)
        import os

        os.environ["BACKORDERS_CONFIG"] = str(config_path)
        os.environ["BENCH_SHOPIFY_TOKEN"] = "shpat_sandbox"
        from domain.core.env_settings import get_settings

        get_settings.cache_clear()
        from workers.app import app

        app.conf.task_always_eager = False
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        drain.run(BENCH_STORE_KEY, max_batches=events // 500 + 1)
        profiler.disable()
        elapsed = time.perf_counter() - started
        print(f"in-process drain: {events} events in {elapsed:.1f} s, {events / elapsed:,.0f} events/s "
              f"(profiler on; evaluate not run); pending left {pending_inbox()}")
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
            print(out.getvalue())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.batching", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="inbox rows to apply (default 20000)")
    parser.add_argument("--skus", type=int, default=10_000, help="catalog size (default 10000)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes, both sides (default 2)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument("--profile", type=int, metavar="N", help="instead: cProfile an in-process drain of N events")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        profile_drain(args.skus, args.profile)
        return 0
    return 1 if measure(args)["problems"] else 0


if __name__ == "__main__":
    main_wrapper(main)
