"""Latency: a stock-out webhook to the staff Slack message, an order to the customer's notice.

``python -m bench.latency --samples 50`` runs the product as the Procfile does — ``web``
(uvicorn, 2 workers), ``worker`` (``-Q sync,detect,default,timers -c 2``) and ``notify``
(``-Q notify -c 2``) — against the sandbox (Shopify, Slack, Mailgun) in its own process, with the
example business file limited to Shopify plus bench SKUs, while 100 signed stock webhooks per
second for unrelated SKUs keep the pipeline busy. Measured, ``--samples`` times each:

* **stock-out → Slack**: the sandbox shop sets a SKU to 0 and delivers the signed webhook
  (inbox → ``tasks.inbound.drain``, which detects and writes the alert's outbox rows in its own
  transaction → ``tasks.notify.deliver``); the end is when the sandbox's Slack records the alert
  naming it.
* **order → customer notice**: an order for a sold-out SKU (the shop delivers ``orders/create``;
  the drain records the backorder and writes the first notice, as ``tasks.followups.offer``
  would → ``tasks.notify.deliver`` → email); the end is when the sandbox's Mailgun records the
  notice to that customer.
* **baseline**: a no-op task's round trip on the same broker (``bench/noop_app.py``: send → the
  task pushes to a Redis list → our BLPOP returns), under the same background load.

Times run from just before the request to the sandbox's ``received_at`` of the message (one
machine, one clock). Samples are spaced ``--spacing`` s apart because the product paces Slack at
1 message/s (``RATE_LIMIT_SLACK_PER_S``); the goal is p95 ≤ 1 s and ≤ 5 × the baseline's p95.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

from bench.common import (
    REPO_ROOT,
    Figure,
    Goal,
    PacedSender,
    QueueBacklog,
    bench_env,
    celery_worker,
    finish,
    full_sandbox_process,
    inventory_webhook,
    latency_figures,
    log_errors,
    main_wrapper,
    noop_round_trips,
    noop_worker,
    percentile,
    scratch_database,
    uvicorn_server,
    wait_until,
)

STORE = "shopify-main"
#: Samples whose message never came (SKU code or customer email), diagnosed after the run.
LOST: list[str] = []
SAMPLE_TIMEOUT_S = 15.0
#: A phase stops after this many lost samples in a row: the pipeline is stuck, not slow.
MAX_LOST_IN_A_ROW = 3


def args_timeout(spacing_s: float) -> float:
    """How long one sample may take before it counts as lost."""
    return max(SAMPLE_TIMEOUT_S, 10 * spacing_s)
GOAL_P95_S = 1.0
GOAL_FACTOR = 5.0
OUT_PREFIX = "LAT-OUT-"
BG_PREFIX = "LAT-BG-"


def sku_blocks(prefix: str, count: int) -> str:
    """Bench SKUs appended to the example file: threshold 0, backorders allowed, no vendor."""
    return "".join(f'\n[[skus]]\ncode = "{prefix}{n:04d}"\ntitle = "Bench futon {n}"\ncategory = "bench"\n'
                   f'price = "100.00"\ncost = "50.00"\nthreshold = 0\n' for n in range(count))


def business_file(workdir: Path, sandbox_url: str, samples: int, background_skus: int) -> Path:
    from demo.scenario import sandbox_config_text

    text_ = sandbox_config_text(REPO_ROOT / "examples" / "futon-store.toml", sandbox_url, {"shopify"})
    path = workdir / "store.toml"
    path.write_text(text_ + sku_blocks(OUT_PREFIX, samples) + sku_blocks(BG_PREFIX, background_skus))
    return path


def configure(config_path: Path) -> tuple[Any, int]:
    """Loads the file into the database; returns the config and the Shopify store's id."""
    from domain.core.business_config import load_config
    from domain.core.db import session_scope
    from domain.stock.catalog import apply_config

    config = load_config(config_path)
    with session_scope() as session:
        apply_config(session, config)
        store_id = int(session.execute(text("SELECT id FROM stores WHERE key = :k"), {"k": STORE}).scalar_one())
    return config, store_id


def first_full_poll(store_id: int, redis_url: str, prefix: str) -> None:
    """The store's listings come from a first full poll; wait for it and every task it started."""
    from domain.core.db import get_engine
    from workers.app import app

    app.send_task("tasks.polling.poll_store", args=[store_id, True], queue="sync")

    def synced() -> bool:
        with get_engine().connect() as connection:
            return connection.execute(text("SELECT last_full_sync_at FROM stores WHERE id = :i"),
                                      {"i": store_id}).scalar_one() is not None

    wait_until(synced, 120, "the first full poll", interval_s=0.2)
    backlog = QueueBacklog(redis_url, prefix, ["sync", "detect", "default", "timers", "notify"])
    try:
        backlog.wait_drained(120)
    finally:
        backlog.close()


def messages(sandbox_url: str, provider: str, to: str | None = None) -> list[dict[str, Any]]:
    params = {"provider": provider, **({"to": to} if to else {})}
    answer = requests.get(f"{sandbox_url}/_sandbox/messaging/messages", params=params, timeout=10)
    answer.raise_for_status()
    return answer.json()["messages"]


def received_at(message: dict[str, Any]) -> float:
    value = datetime.fromisoformat(message["received_at"])
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def wait_message(sandbox_url: str, provider: str, needle: str, to: str | None, timeout_s: float) -> float | None:
    """The sandbox's receive time of the first ``provider`` message mentioning ``needle``; None
    when none came within ``timeout_s`` (a lost sample is reported, not hidden)."""
    import json

    def found() -> float | None:
        for message in messages(sandbox_url, provider, to):
            if needle in json.dumps(message):
                return received_at(message)
        return None

    try:
        return float(wait_until(found, timeout_s, f"a {provider} message about {needle}", interval_s=0.02))
    except TimeoutError as exc:
        print(f"LOST: {exc}", flush=True)
        return None


def run_samples(samples: int, spacing_s: float, one: Callable[[int], tuple[str, float | None]]
                ) -> tuple[list[float], list[tuple[int, float]]]:
    """Trigger ``samples`` events ``spacing_s`` apart; ``one(n)`` starts event n and returns (its
    key, when its message was seen or None). Gives (latencies, start times); stops after
    ``MAX_LOST_IN_A_ROW`` lost samples in a row."""
    times: list[float] = []
    starts: list[tuple[int, float]] = []
    in_a_row = 0
    for n in range(samples):
        started = time.time()
        key, seen = one(n)
        if seen is not None:
            times.append(seen - started)
            starts.append((n, started))
            in_a_row = 0
        else:
            LOST.append(key)
            in_a_row += 1
            if in_a_row >= MAX_LOST_IN_A_ROW:
                print(f"{in_a_row} samples lost in a row: stopping this phase", flush=True)
                break
        time.sleep(max(0.0, started + spacing_s - time.time()))
    return times, starts


def stock_out_samples(sandbox_url: str, samples: int, spacing_s: float
                      ) -> tuple[list[float], list[tuple[int, float]]]:
    """(latencies, start times): the starts let ``stages`` split each latency by pipeline step."""
    shop = f"{sandbox_url}/shopify/{STORE}/_admin"

    def one(n: int) -> tuple[str, float | None]:
        code = f"{OUT_PREFIX}{n:04d}"
        hooks = requests.post(f"{shop}/set_stock", json={"sku": code, "available": 0}, timeout=10).json()["webhooks"]
        if [h["status"] for h in hooks] != [200]:
            raise RuntimeError(f"stock-out webhook for {code} answered {[h['status'] for h in hooks]}")
        return code, wait_message(sandbox_url, "slack", code, None, args_timeout(spacing_s))

    return run_samples(samples, spacing_s, one)


STAGES_SQL = text("""
SELECT extract(epoch FROM (SELECT min(i.received_at) FROM inbox i
                            WHERE i.source = :store AND i.payload->>'body' LIKE :item_like)) AS inbox_received,
       extract(epoch FROM (SELECT min(i.processed_at) FROM inbox i
                            WHERE i.source = :store AND i.payload->>'body' LIKE :item_like)) AS inbox_processed,
       extract(epoch FROM (SELECT min(t.created_at) FROM sku_transitions t JOIN skus s ON s.id = t.sku_id
                            WHERE s.code = :code AND t.to_state IN ('OUT', 'BACKORDER'))) AS transition,
       extract(epoch FROM (SELECT min(o.created_at) FROM outbox o
                            WHERE o.channel = 'slack' AND o.context->>'sku' = :code)) AS outbox_created,
       extract(epoch FROM (SELECT min(o.sent_at) FROM outbox o
                            WHERE o.channel = 'slack' AND o.context->>'sku' = :code)) AS outbox_sent
""")
STAGE_NAMES = ("inbox_received", "inbox_processed", "transition", "outbox_created", "outbox_sent")


def stages(config: Any, starts: list[tuple[int, float]], latencies: list[float]) -> dict[str, float]:
    """Median seconds from the webhook's start to each recorded step, and to the Slack post.

    Read from the rows' own timestamps (PostgreSQL's ``now()`` is the transaction's start), so
    the split shows which hop holds the time: the drain wake-up, detection, or delivery.
    """
    import statistics

    from bench.common import SHOPIFY_ITEM_ID_BASE
    from domain.core.db import get_engine

    index = {sku.code: i for i, sku in enumerate(config.skus)}
    deltas: dict[str, list[float]] = {name: [] for name in STAGE_NAMES}
    with get_engine().connect() as connection:
        for n, started in starts:
            code = f"{OUT_PREFIX}{n:04d}"
            item_like = f'%"inventory_item_id": {SHOPIFY_ITEM_ID_BASE + index[code]},%'
            row = connection.execute(STAGES_SQL, {"store": STORE, "item_like": item_like, "code": code}).mappings().one()
            for name in STAGE_NAMES:
                if row[name] is not None:
                    deltas[name].append(float(row[name]) - started)
    medians = {name: statistics.median(values) for name, values in deltas.items() if values}
    medians["slack_received"] = statistics.median(latencies)
    return medians


def notice_samples(sandbox_url: str, samples: int, spacing_s: float
                   ) -> tuple[list[float], list[tuple[int, float]]]:
    """(latencies, start times) of order → customer notice, one sold-out SKU per sample."""
    shop = f"{sandbox_url}/shopify/{STORE}/_admin"

    def one(n: int) -> tuple[str, float | None]:
        code, email = f"{OUT_PREFIX}{n:04d}", f"customer{n}@bench.example"
        requests.post(f"{shop}/create_order", timeout=10, json={
            "lines": [{"sku": code, "quantity": 1, "price": "100.00"}], "email": email,
            "customer": {"first_name": "Bench", "last_name": f"Customer {n}"}}).raise_for_status()
        return email, wait_message(sandbox_url, "mailgun", "@", email, args_timeout(spacing_s))

    return run_samples(samples, spacing_s, one)


NOTICE_STAGES_SQL = text("""
SELECT extract(epoch FROM (SELECT min(i.received_at) FROM inbox i
                            WHERE i.topic = 'orders/create' AND i.payload->>'body' LIKE :like)) AS inbox_received,
       extract(epoch FROM (SELECT min(i.processed_at) FROM inbox i
                            WHERE i.topic = 'orders/create' AND i.payload->>'body' LIKE :like)) AS inbox_processed,
       extract(epoch FROM (SELECT min(o.created_at) FROM outbox o
                            WHERE o.channel = 'email' AND o.recipient = :email)) AS outbox_created,
       extract(epoch FROM (SELECT min(o.sent_at) FROM outbox o
                            WHERE o.channel = 'email' AND o.recipient = :email)) AS outbox_sent
""")
NOTICE_STAGE_NAMES = ("inbox_received", "inbox_processed", "outbox_created", "outbox_sent")


def notice_stages(starts: list[tuple[int, float]], latencies: list[float]) -> dict[str, float]:
    """Median seconds from the order's start to each recorded step of the customer notice."""
    import statistics

    from domain.core.db import get_engine

    deltas: dict[str, list[float]] = {name: [] for name in NOTICE_STAGE_NAMES}
    with get_engine().connect() as connection:
        for n, started in starts:
            email = f"customer{n}@bench.example"
            row = connection.execute(NOTICE_STAGES_SQL, {"like": f"%{email}%", "email": email}).mappings().one()
            for name in NOTICE_STAGE_NAMES:
                if row[name] is not None:
                    deltas[name].append(float(row[name]) - started)
    medians = {name: statistics.median(values) for name, values in deltas.items() if values}
    medians["email_received"] = statistics.median(latencies)
    return medians


OUTBOX_SPLIT_SQL = text("""
SELECT template, channel, count(*) AS sent,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)) AS p50_s,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)) AS p95_s
  FROM outbox WHERE sent_at IS NOT NULL GROUP BY template, channel ORDER BY template, channel
""")


def outbox_split() -> list[dict[str, Any]]:
    """Per template and channel: messages sent and seconds from the row's transaction to the send.

    ``created_at`` is the writing transaction's start, so this is the notify lane plus the
    drain's own transaction: where a customer notice waits behind staff messages, it shows here.
    """
    from domain.core.db import get_engine

    with get_engine().connect() as connection:
        return [dict(row) for row in connection.execute(OUTBOX_SPLIT_SQL).mappings()]


LOST_SQL = text("""
SELECT s.code, s.state,
       (SELECT count(*) FROM sku_transitions t WHERE t.sku_id = s.id) AS transitions,
       (SELECT json_agg(json_build_object('channel', o.channel, 'state', o.state, 'error', o.last_error,
                                          'attempts', o.attempts, 'not_before', o.not_before))
          FROM outbox o WHERE o.context->>'sku' = s.code OR o.recipient = :who) AS outbox
  FROM skus s WHERE s.code = :code
""")


def diagnose_lost(lost: list[str]) -> list[dict[str, Any]]:
    """For each lost sample: the SKU's state, its transitions and its outbox rows."""
    from domain.core.db import get_engine

    found = []
    with get_engine().connect() as connection:
        for who in lost:
            code = who if who.startswith(OUT_PREFIX) else f"{OUT_PREFIX}{int(who[8:].split('@')[0]):04d}"
            row = connection.execute(LOST_SQL, {"code": code, "who": who}).mappings().one_or_none()
            found.append({"sample": who, **(dict(row) if row else {})})
    return found


def background_request(indices: list[int], secret: str) -> Any:
    """Signed stock changes cycling over the background SKUs, never low enough to alert."""
    def make(n: int) -> tuple[bytes, dict[str, str]]:
        return inventory_webhook(indices[n % len(indices)], available=30 + n % 20, secret=secret)

    return make


def measure(args: argparse.Namespace) -> int:
    from demo.scenario import PLATFORM_SECRETS, prepare, sandbox_env

    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_database("bench"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-latency-")))
        sandbox_url = stack.enter_context(full_sandbox_process())
        config_path = business_file(workdir, sandbox_url, args.samples, args.background_skus)
        config, store_id = configure(config_path)
        env = bench_env(scratch, {**sandbox_env(sandbox_url), "BACKORDERS_CONFIG": str(config_path)})
        web_url = stack.enter_context(uvicorn_server("workers.web:app", env, workdir / "web.log"))
        prepare(sandbox_url, config, web_url, env, available=50)
        worker_log, notify_log = workdir / "worker.log", workdir / "notify.log"
        stack.enter_context(celery_worker(env, worker_log, "sync,detect,default,timers", name="worker"))
        stack.enter_context(celery_worker(env, notify_log, "notify", name="notify"))
        stack.enter_context(noop_worker(env, workdir / "noop.log"))
        first_full_poll(store_id, scratch.servers.redis_url, scratch.key_prefix)
        print(f"stack up: web {web_url}, sandbox {sandbox_url}, {len(config.skus)} SKUs polled", flush=True)
        index = {sku.code: i for i, sku in enumerate(config.skus)}
        background = [index[f"{BG_PREFIX}{n:04d}"] for n in range(args.background_skus)]
        make = background_request(background, PLATFORM_SECRETS["SHOPIFY_WEBHOOK_SECRET"])
        with PacedSender(f"{web_url}/webhooks/{STORE}", make, args.background_rate) as load:
            time.sleep(2)
            baseline = noop_round_trips(scratch.servers.redis_url, args.samples, interval_s=0.1)
            print(f"baseline p50 {percentile(baseline, 50) * 1000:.1f} ms", flush=True)
            stock_out, starts = stock_out_samples(sandbox_url, args.samples, args.spacing)
            print(f"stock-out → Slack p50 {percentile(stock_out, 50) * 1000:.0f} ms", flush=True)
            notice, notice_starts = notice_samples(sandbox_url, args.samples, args.spacing)
            print(f"order → notice p50 {percentile(notice, 50) * 1000:.0f} ms", flush=True)
        split = {"stock_out_to_slack": stages(config, starts, stock_out),
                 "order_to_notice": notice_stages(notice_starts, notice)}
        for path, steps in split.items():
            print(f"{path}, median seconds to each step: " + ", ".join(f"{k} {v:.3f}" for k, v in steps.items()),
                  flush=True)
        by_template = outbox_split()
        for entry in by_template:
            print(f"outbox {entry['template']}/{entry['channel']}: {entry['sent']} sent, row → send "
                  f"p50 {entry['p50_s'] * 1000:.0f} ms, p95 {entry['p95_s'] * 1000:.0f} ms", flush=True)
        split["outbox_row_to_send"] = {f"{e['template']}/{e['channel']}": float(e["p50_s"]) for e in by_template}
        lost = diagnose_lost(LOST)
        for entry in lost:
            print(f"LOST sample: {entry}", flush=True)
        if args.keep_logs:
            keep = Path(args.keep_logs)
            keep.mkdir(parents=True, exist_ok=True)
            for log in (worker_log, notify_log, workdir / "web.log"):
                shutil.copy(log, keep / log.name)
            print(f"logs kept in {keep}", flush=True)
        return report(args, scratch, baseline, stock_out, notice, load, [worker_log, notify_log], split, lost)


def report(args: argparse.Namespace, scratch: Any, baseline: list[float], stock_out: list[float],
           notice: list[float], load: PacedSender, logs: list[Path], split: dict[str, dict[str, float]],
           lost: list[dict[str, Any]]) -> int:
    table = [*latency_figures("stock-out → Slack", stock_out, baseline),
             *latency_figures("order → customer email", notice, baseline),
             *latency_figures("no-op task round trip", baseline),
             Figure("samples lost (no message within the timeout)", len(lost), "samples"),
             Figure("background webhooks accepted", load.achieved_per_second, "req/s", args.background_rate)]
    worst = max(percentile(stock_out, 95), percentile(notice, 95))
    base95 = percentile(baseline, 95)
    met = worst <= GOAL_P95_S and worst <= GOAL_FACTOR * base95 and not lost
    goal = Goal(f"p95 ≤ {GOAL_P95_S:g} s and ≤ {GOAL_FACTOR:g} × no-op p95",
                f"p95 {worst * 1000:.0f} ms = {worst / base95:.1f} × {base95 * 1000:.1f} ms", met)
    finish("latency", scratch, {
        "samples": args.samples, "spacing_s": args.spacing, "background_rate_per_s": args.background_rate,
        "background_skus": args.background_skus, "web": "uvicorn workers.web:app --workers 2",
        "worker": "-Q sync,detect,default,timers -c 2 prefork", "notify": "-Q notify -c 2 prefork",
        "baseline": "bench.noop_app stamp task, -c 2 prefork, same broker"}, table, goal,
        {"samples_s": {"stock_out_to_slack": stock_out, "order_to_notice": notice, "noop": baseline},
         "stages_median_s": split, "lost_samples": lost,
         "background": {"sent": load.sent, "failed": load.failed, "seconds": load.seconds},
         "worker_errors": [line for log in logs for line in log_errors(log)]})
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=50, help="samples per measured path (default 50)")
    parser.add_argument("--spacing", type=float, default=1.2, help="seconds between samples (default 1.2)")
    parser.add_argument("--background-rate", type=float, default=100.0, help="background webhooks/s (100)")
    parser.add_argument("--background-skus", type=int, default=200, help="SKUs the background load cycles over")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the web, worker and notify logs here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return measure(parse_args(argv))


if __name__ == "__main__":
    main_wrapper(main)
