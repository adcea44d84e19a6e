"""Full sync of a large Shopify catalog through a real worker: SKUs/s, memory, and the floor.

``python -m bench.sync --skus 100000`` (from the repository root) measures:

* **ours**: ``tasks.polling.poll_store(store, full=True)`` sent to a real Celery worker
  subprocess (prefork, 2 processes, the product's queues and settings). The poll walks the
  sandbox's lazy catalog page by page, stores each page with one upsert and hands the changed
  SKUs to ``tasks.stock.evaluate``. "Poll" ends when the store's ``last_full_sync_at`` is
  written; "poll + detection" ends when no message is left in the bench's queues nor unacked.
* **worker RSS**: the worker's process tree (main + pool children), sampled every 100 ms; the
  idle figure is taken after start-up, before the task is sent.
* **baseline**: the same pages merely downloaded by ``ShopifyConnector.fetch_stock(None)`` in
  this process, nothing stored: the floor any sync is bounded by. Ratios are ours ÷ baseline.

The sandbox runs in its own process with a very large leaky bucket (and the store's client-side
pacer is opened to match), so the simulated 2 calls/s limit does not dominate the figures.
``--profile N`` instead profiles the in-process ``flows.poll.poll`` on N SKUs with cProfile.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

from bench.common import (
    QueueBacklog,
    REPO_ROOT,
    CpuMeter,
    Figure,
    Goal,
    RssSampler,
    Scratch,
    format_table,
    idle_rss,
    install_sigterm_exit,
    machine_info,
    sandbox_process,
    scratch_database,
    stop_process,
    write_result,
)

STORE_KEY = "bench-shopify"
LOCATION_KEY = "bench-warehouse"
SHOPIFY_LOCATION_ID = "655441491"
TOKEN_ENV = "BENCH_SHOPIFY_TOKEN"
SANDBOX_TOKEN = "shpat_sandbox"
SKU_PREFIX = "BENCH-"
AVAILABLE = 10
#: Large enough that neither the sandbox's bucket nor the client pacer ever waits.
OPEN_BUCKET = 1_000_000
WORKER_QUEUES = "sync,detect,default,timers"
WORKER_CONCURRENCY = 2
#: Consecutive empty observations (100 ms apart) before the pipeline counts as drained; covers
#: the instant a message sits between the queue list and the unacked hash.
DRAINED_STREAK = 3


@dataclass(frozen=True)
class Params:
    skus: int
    page_size: int
    low_every: int
    timeout_s: float


# --- set-up -------------------------------------------------------------------------------------


def seed_shop(sandbox_url: str, instance: str, skus: int) -> str:
    """A lazy catalog of ``skus`` items and an open bucket; returns the shop's base URL."""
    base = f"{sandbox_url}/shopify/{instance}"
    requests.post(f"{base}/_admin/seed", json={"reset": True, "count": skus, "sku_prefix": SKU_PREFIX,
                                               "available": AVAILABLE}, timeout=30).raise_for_status()
    requests.post(f"{base}/_admin/config", json={"bucket_size": OPEN_BUCKET, "leak_rate": OPEN_BUCKET},
                  timeout=30).raise_for_status()
    return base


def connector_options(page_size: int) -> dict[str, Any]:
    return {"page_size": page_size, "location_ids": [SHOPIFY_LOCATION_ID], "bucket_size": OPEN_BUCKET,
            "leak_rate": OPEN_BUCKET}


def business_toml(shop_url: str, page_size: int) -> str:
    """The smallest valid business file naming the bench store: the worker loads it for policy."""
    return f"""[business]
name = "Bench"
timezone = "UTC"

[[locations]]
key = "{LOCATION_KEY}"
name = "Bench warehouse"

[[stores]]
key = "{STORE_KEY}"
platform = "shopify"
name = "Bench Shopify"
base_url = "{shop_url}"
credentials = {{ access_token = "{TOKEN_ENV}" }}
poll_interval = "1d"
full_sync_interval = "1d"
locations = {{ "{SHOPIFY_LOCATION_ID}" = "{LOCATION_KEY}" }}
options = {{ page_size = {page_size}, location_ids = ["{SHOPIFY_LOCATION_ID}"], bucket_size = {OPEN_BUCKET}, leak_rate = {OPEN_BUCKET} }}
"""


INSERT_SKUS_SQL = text("""
INSERT INTO skus (code, title, threshold, allow_backorder)
SELECT :prefix || CASE WHEN i >= 100000 THEN i::text ELSE lpad(i::text, 6, '0') END,
       'Bench item ' || i,
       CASE WHEN :low_every > 0 AND i % :low_every = 0 THEN :available ELSE 0 END,
       true
  FROM generate_series(0, :count - 1) AS i
""")


def configure(config_path: Path, skus: int, low_every: int) -> int:
    """Store and location from the file, SKU rows in one statement; returns the store id.

    Every ``low_every``-th SKU gets a threshold equal to the seeded stock, so detection records a
    LOW transition and an alert for it: a first sync that finds nothing to say measures too little.
    """
    from domain.core.business_config import load_config
    from domain.core.db import session_scope
    from domain.stock.catalog import apply_config

    with session_scope() as session:
        apply_config(session, load_config(config_path))
        session.execute(INSERT_SKUS_SQL, {"prefix": SKU_PREFIX, "low_every": low_every,
                                          "available": AVAILABLE, "count": skus})
        session.execute(text("ANALYZE skus"))
        return int(session.execute(text("SELECT id FROM stores WHERE key = :key"), {"key": STORE_KEY}).scalar_one())


# --- baseline -----------------------------------------------------------------------------------


def download_only(shop_url: str, page_size: int) -> dict[str, float]:
    """The same full walk the poll makes, pages merely iterated: what the network and the
    platform cost before we do anything with a record."""
    from connectors.registry import build_connector
    from connectors.types import ConnectorConfig

    connector = build_connector("shopify", ConnectorConfig(
        store_key=STORE_KEY, base_url=shop_url, credentials={"access_token": SANDBOX_TOKEN},
        options=connector_options(page_size)))
    pages = records = 0
    started = time.perf_counter()
    for page in connector.fetch_stock(None):
        pages += 1
        records += len(page.records)
    return {"seconds": time.perf_counter() - started, "pages": pages, "records": records}


# --- the worker ---------------------------------------------------------------------------------


def worker_command(name: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", WORKER_QUEUES,
            "-c", str(WORKER_CONCURRENCY), "--pool", "prefork", "--loglevel", "INFO", "-n", f"{name}@%h"]


def start_worker(scratch: Scratch, config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **scratch.env, "BACKORDERS_CONFIG": str(config_path), TOKEN_ENV: SANDBOX_TOKEN}
    log = open(log_path, "wb")
    try:
        return subprocess.Popen(worker_command(scratch.database_name), cwd=REPO_ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()


def wait_ready(proc: subprocess.Popen[bytes], log_path: Path, timeout_s: float = 60.0) -> None:
    """Celery logs ``… ready.`` once the pool is up and consuming; a dead worker shows its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}:\n{_tail(log_path)}")
        if " ready." in log_path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"worker not ready within {timeout_s}s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _last_full_sync(store_id: int) -> datetime | None:
    from domain.core.db import get_engine

    with get_engine().connect() as connection:
        return connection.execute(text("SELECT last_full_sync_at FROM stores WHERE id = :id"),
                                  {"id": store_id}).scalar_one()


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def run_worker_poll(scratch: Scratch, store_id: int, timeout_s: float) -> dict[str, float]:
    """Send the poll, then watch the database and the broker until all the work it made is done."""
    from workers.app import app

    backlog = QueueBacklog(scratch.servers.redis_url, scratch.key_prefix, WORKER_QUEUES.split(","))
    try:
        sent_wall = datetime.now(timezone.utc)
        started = time.perf_counter()
        app.send_task("tasks.polling.poll_store", args=[store_id, True], queue="sync")
        deadline = started + timeout_s
        synced_at = _wait_for(lambda: _last_full_sync(store_id), deadline, "the poll's last page")
        poll_s = (_as_utc(synced_at) - sent_wall).total_seconds()
        drained_s = _wait_drained(backlog, started, deadline)
        return {"poll_seconds": poll_s, "total_seconds": max(drained_s, poll_s)}
    finally:
        backlog.close()


def _wait_for(probe: Any, deadline: float, what: str, interval_s: float = 0.1) -> Any:
    while True:
        value = probe()
        if value:
            return value
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval_s)


def _wait_drained(backlog: QueueBacklog, started: float, deadline: float, interval_s: float = 0.1) -> float:
    """Seconds from ``started`` to the first of ``DRAINED_STREAK`` consecutive empty observations."""
    streak, first_empty = 0, 0.0
    while streak < DRAINED_STREAK:
        if backlog.pending() == 0:
            if streak == 0:
                first_empty = time.perf_counter()
            streak += 1
        else:
            streak = 0
        if time.perf_counter() > deadline:
            raise TimeoutError("timed out waiting for the evaluations to finish")
        time.sleep(interval_s)
    return first_empty - started


def outcome_counts() -> dict[str, int]:
    """What the run left in the database: proof the figures measured a complete, correct sync."""
    from domain.core.db import get_engine

    queries = {
        "stock_levels": "SELECT count(*) FROM stock_levels",
        "channel_listings": "SELECT count(*) FROM channel_listings",
        "sku_transitions": "SELECT count(*) FROM sku_transitions",
        "skus_low": "SELECT count(*) FROM skus WHERE state = 'LOW'",
        "alerts": "SELECT count(*) FROM alerts",
        "dead_letters": "SELECT count(*) FROM dead_letters",
    }
    with get_engine().connect() as connection:
        return {name: int(connection.execute(text(sql)).scalar_one()) for name, sql in queries.items()}


# --- the run ------------------------------------------------------------------------------------


def measure(params: Params) -> dict[str, Any]:
    """Everything started here is stopped here, on success, error or Ctrl-C (ExitStack unwinds)."""
    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_database("bench"))
        sandbox_url, sandbox = stack.enter_context(sandbox_process())
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sync-")))
        shop_url = seed_shop(sandbox_url, scratch.database_name, params.skus)
        config_path = workdir / "bench.toml"
        config_path.write_text(business_toml(shop_url, params.page_size))
        store_id = configure(config_path, params.skus, params.low_every)
        print(f"scratch database {scratch.database_name}; sandbox {sandbox_url}; {params.skus:,} SKUs", flush=True)

        with CpuMeter({"sandbox": [sandbox.pid], "download loop": [os.getpid()]}) as baseline_cpu:
            baseline = download_only(shop_url, params.page_size)
        print(f"baseline: {baseline['records']:,} records in {baseline['seconds']:.1f} s", flush=True)

        log_path = workdir / "worker.log"
        worker = start_worker(scratch, config_path, log_path)
        stack.callback(stop_process, worker)
        wait_ready(worker, log_path)
        idle = idle_rss(worker.pid)
        with RssSampler(worker.pid) as sampler, CpuMeter({"sandbox": [sandbox.pid], "worker": [worker.pid]}) as cpu:
            ours = run_worker_poll(scratch, store_id, params.timeout_s)
        counts = outcome_counts()
        machine = machine_info(scratch.database_url, scratch.servers.redis_url)
        worker_errors = [line for line in log_path.read_text(errors="replace").splitlines()
                         if " ERROR/" in line or "Traceback" in line]
        return {"scratch": scratch, "baseline": baseline, "ours": ours, "idle_rss": idle,
                "peak_rss": sampler.peak, "rss_samples": len(sampler.samples), "counts": counts,
                "cpu_s": cpu.used, "baseline_cpu_s": baseline_cpu.used, "cores": os.cpu_count() or 1,
                "machine": machine, "worker_errors": worker_errors[:20]}


def figures(params: Params, run: dict[str, Any]) -> list[Figure]:
    n, base_s = params.skus, run["baseline"]["seconds"]
    poll_s, total_s = run["ours"]["poll_seconds"], run["ours"]["total_seconds"]
    mib = 2**20
    return [
        Figure("full poll (fetch + store)", poll_s, "s", base_s),
        Figure("full poll rate", n / poll_s, "SKUs/s", n / base_s),
        Figure("poll + detection", total_s, "s", base_s),
        Figure("poll + detection rate", n / total_s, "SKUs/s", n / base_s),
        Figure("CPU used, all processes", sum(run["cpu_s"].values()), "s", sum(run["baseline_cpu_s"].values())),
        *[Figure(f"  of which {name}", seconds, "s", run["baseline_cpu_s"].get(name))
          for name, seconds in run["cpu_s"].items()],
        Figure(f"CPU-bound floor ({run['cores']} cores)", cpu_floor_s(run), "s", base_s),
        Figure("worker RSS idle (tree)", run["idle_rss"] / mib, "MiB"),
        Figure("worker RSS peak (tree)", run["peak_rss"] / mib, "MiB", run["idle_rss"] / mib),
    ]


def cpu_floor_s(run: dict[str, Any]) -> float:
    """The shortest wall time this run's CPU seconds fit in on this machine's cores: the sandbox,
    the worker, PostgreSQL and Redis share the same cores, so no concurrency goes below it."""
    return sum(run["cpu_s"].values()) / run["cores"]


TIME_GOAL = 1.5
RSS_GOAL_MIB = 100


def sync_goal(run: dict[str, Any]) -> Goal:
    """Poll + detection within 1.5 × the plain download of the same pages, and the worker's peak
    RSS within 100 MB of its idle RSS (the issue's goals for this script)."""
    ratio = run["ours"]["total_seconds"] / run["baseline"]["seconds"]
    grown_mib = (run["peak_rss"] - run["idle_rss"]) / 2**20
    return Goal(f"poll + detection ≤ {TIME_GOAL:g} × download; RSS ≤ idle + {RSS_GOAL_MIB} MB",
                f"{ratio:.2f} ×; RSS +{grown_mib:.0f} MB", ratio <= TIME_GOAL and grown_mib <= RSS_GOAL_MIB)


def result_document(params: Params, run: dict[str, Any], table: list[Figure]) -> dict[str, Any]:
    scratch: Scratch = run["scratch"]
    return {
        "bench": "sync",
        "at": datetime.now(timezone.utc).isoformat(),
        "machine": run["machine"],
        "parameters": {
            "skus": params.skus, "page_size": params.page_size, "low_every": params.low_every,
            "seeded_available": AVAILABLE, "sandbox_bucket": {"size": OPEN_BUCKET, "leak_per_s": OPEN_BUCKET},
            "sandbox": "separate process (uvicorn), Shopify stand-in only",
            "worker": " ".join(worker_command("bench")[1:]),
            "servers": "embedded" if scratch.servers.embedded else "DATABASE_URL / REDIS_URL",
            "rss_sample_interval_s": 0.1,
        },
        "figures": [f.as_dict() for f in table],
        "baseline": run["baseline"],
        "cpu_seconds": {"poll": run["cpu_s"], "download": run["baseline_cpu_s"], "cores": run["cores"],
                        "floor_s": cpu_floor_s(run)},
        "outcome": run["counts"],
        "worker_errors": run["worker_errors"],
    }


def check_outcome(params: Params, run: dict[str, Any]) -> list[str]:
    """A fast but incomplete sync is no result: say what is missing."""
    counts, problems = run["counts"], []
    if counts["stock_levels"] != params.skus:
        problems.append(f"stock_levels has {counts['stock_levels']} rows, expected {params.skus}")
    expected_low = len(range(0, params.skus, params.low_every)) if params.low_every > 0 else 0
    if counts["skus_low"] != expected_low:
        problems.append(f"{counts['skus_low']} SKUs are LOW, expected {expected_low}")
    if counts["dead_letters"]:
        problems.append(f"{counts['dead_letters']} dead letters")
    if run["baseline"]["records"] != params.skus:
        problems.append(f"baseline downloaded {run['baseline']['records']} records, expected {params.skus}")
    return problems


# --- profiling the in-process path --------------------------------------------------------------


def profile_poll(skus: int, page_size: int, low_every: int, top: int = 30) -> None:
    """cProfile of ``flows.poll.poll`` in this process (no Celery): where a page's time goes."""
    from connectors.registry import build_connector
    from connectors.types import ConnectorConfig
    from flows import poll as sync
    from domain.core.db import get_sessionmaker

    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_database("bench"))
        sandbox_url, _ = stack.enter_context(sandbox_process())
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sync-")))
        shop_url = seed_shop(sandbox_url, scratch.database_name, skus)
        config_path = workdir / "bench.toml"
        config_path.write_text(business_toml(shop_url, page_size))
        store_id = configure(config_path, skus, low_every)
        connector = build_connector("shopify", ConnectorConfig(
            store_key=STORE_KEY, base_url=shop_url, credentials={"access_token": SANDBOX_TOKEN},
            options=connector_options(page_size)))
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        report = sync.poll(get_sessionmaker(), connector, store_id, "bench-profile", full=True, stock_cursor=None,
                           order_cursor=None, on_changed=lambda _ids: None)
        profiler.disable()
        elapsed = time.perf_counter() - started
        print(f"in-process poll: {report.summary()}; {elapsed:.1f} s, {skus / elapsed:,.0f} SKUs/s "
              f"(profiler overhead included)")
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
            print(out.getvalue())


# --- command line -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n")[0])
    parser.add_argument("--skus", type=int, default=100_000, help="catalog size (default 100000)")
    parser.add_argument("--page-size", type=int, default=250, help="Shopify page size, at most 250")
    parser.add_argument("--low-every", type=int, default=10,
                        help="every Nth SKU's threshold equals its stock, so it turns LOW (0: none)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    parser.add_argument("--profile", type=int, metavar="N",
                        help="instead: cProfile the in-process flows.poll.poll on N SKUs")
    args = parser.parse_args(argv)
    if args.skus < 1 or not 1 <= args.page_size <= 250 or args.low_every < 0:
        parser.error("--skus ≥ 1, 1 ≤ --page-size ≤ 250, --low-every ≥ 0")
    return args


def main(argv: list[str] | None = None) -> int:
    install_sigterm_exit()
    args = parse_args(argv)
    if args.profile:
        profile_poll(args.profile, args.page_size, args.low_every)
        return 0
    params = Params(args.skus, args.page_size, args.low_every, args.timeout)
    run = measure(params)
    table = figures(params, run)
    print()
    print(format_table(table))
    problems = check_outcome(params, run)
    print(f"\noutcome: {run['counts']}")
    document = result_document(params, run, table)
    document["problems"] = problems
    goal = sync_goal(run)
    document["goal"] = goal.as_dict()
    print(f"goal: {goal.text}: {goal.figure} -> {'MET' if goal.met else 'MISSED'}")
    path = write_result("sync", document)
    print(f"written {path.relative_to(REPO_ROOT)}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        sys.exit(130)
