"""Incremental poll: 100 changed SKUs found and stored at a 1,000,000-SKU catalog vs 10,000.

``python -m bench.incremental`` measures ``flows.poll.poll(full=False)`` in this process (the
code ``tasks.polling.poll_store`` runs) against the sandbox's Shopify stand-in in its own
process. For each catalog size the database holds what a first full poll leaves behind — N SKUs,
N channel listings (Shopify inventory item id → SKU) and N stock levels — inserted set-based,
and the stand-in serves a lazy catalog of N items. Each round moves the shop's clock on, changes
100 SKUs spread over the catalog, and times one incremental poll from a cursor just before the
change (``inventory_levels.json?updated_at_min=``, then the records mapped through the listings
and upserted). Ours = the 1,000,000-SKU catalog; baseline = the 10,000-SKU one, same run.
Goal: median time ratio ≤ 1.5 (an incremental poll costs what changed, not what exists).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

from bench.common import (
    BENCH_SANDBOX_TOKEN,
    BENCH_SHOPIFY_LOCATION_ID,
    BENCH_STORE_KEY,
    OPEN_BUCKET,
    Figure,
    Goal,
    Scratch,
    apply_business_file,
    finish,
    insert_catalog,
    machine_info,
    main_wrapper,
    sandbox_process,
    scratch_database,
    seed_lazy_shop,
    shopify_store_toml,
)

GOAL_RATIO = 1.5
PREFIX = "INC-"
AVAILABLE = 10


def connector(shop_url: str) -> Any:
    from connectors.registry import build_connector
    from connectors.types import ConnectorConfig

    return build_connector("shopify", ConnectorConfig(
        store_key=BENCH_STORE_KEY, base_url=shop_url, credentials={"access_token": BENCH_SANDBOX_TOKEN},
        options={"page_size": 250, "location_ids": [str(BENCH_SHOPIFY_LOCATION_ID)], "bucket_size": OPEN_BUCKET,
                 "leak_rate": OPEN_BUCKET}))


def advance_clock(shop_url: str, seconds: float) -> datetime:
    """Moves the shop's clock on (so the change is newer than the cursor); returns its new now."""
    answer = requests.post(f"{shop_url}/_admin/clock", json={"advance_s": seconds}, timeout=10)
    answer.raise_for_status()
    return datetime.fromisoformat(answer.json()["now"]).astimezone(UTC)


def change_skus(shop_url: str, count: int, catalog: int, round_no: int) -> None:
    """``count`` SKUs spread evenly over the catalog get a new figure (distinct per round)."""
    session = requests.Session()
    step = max(1, catalog // count)
    for k in range(count):
        index = (k * step + round_no) % catalog
        session.post(f"{shop_url}/_admin/set_stock", json={"sku": f"{PREFIX}{index:06d}",
                                                           "available": 20 + round_no}, timeout=10).raise_for_status()
    session.close()


def one_round(shop_url: str, store_id: int, catalog: int, changed: int, round_no: int) -> dict[str, float]:
    from flows import poll as sync
    from domain.core.db import get_sessionmaker

    now = advance_clock(shop_url, 120)
    cursor = (now - timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    change_skus(shop_url, changed, catalog, round_no)
    client = connector(shop_url)
    started = time.perf_counter()
    report = sync.poll(get_sessionmaker(), client, store_id, f"bench-{round_no}", full=False,
                       stock_cursor=cursor, order_cursor=cursor, on_changed=lambda _ids: None)
    seconds = time.perf_counter() - started
    if len(report.changed_sku_ids) != changed or report.unknown:
        raise RuntimeError(f"round {round_no}: {report.summary()}; expected {changed} changed SKUs")
    return {"seconds": seconds, "records": report.records, "pages": report.pages}


def measure_size(sandbox_url: str, catalog: int, args: argparse.Namespace) -> dict[str, Any]:
    """One catalog size in its own scratch database and sandbox instance; the polls' times."""
    with ExitStack() as stack:
        scratch: Scratch = stack.enter_context(scratch_database("bench"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-incremental-")))
        shop_url = seed_lazy_shop(sandbox_url, scratch.database_name, catalog, PREFIX, AVAILABLE)
        config_path = workdir / "bench.toml"
        config_path.write_text(shopify_store_toml(shop_url))
        store_id = apply_business_file(config_path)
        started = time.perf_counter()
        insert_catalog(store_id, catalog, PREFIX, AVAILABLE)
        print(f"{catalog:,} SKUs, listings and levels inserted in {time.perf_counter() - started:.1f} s", flush=True)
        one_round(shop_url, store_id, catalog, args.changed, 0)  # warm-up: connections, caches
        rounds = [one_round(shop_url, store_id, catalog, args.changed, n) for n in range(1, args.rounds + 1)]
        times = [r["seconds"] for r in rounds]
        print(f"{catalog:,} SKUs: polls {[round(t * 1000, 1) for t in times]} ms", flush=True)
        from domain.core.db import get_engine

        with get_engine().connect() as connection:
            history = int(connection.execute(text("SELECT count(*) FROM stock_history")).scalar_one())
        return {"scratch": scratch, "times": times, "rounds": rounds, "history_rows": history,
                "machine": machine_info(scratch.database_url, scratch.servers.redis_url)}


def measure(args: argparse.Namespace) -> int:
    with sandbox_process() as (sandbox_url, _):
        small = measure_size(sandbox_url, args.baseline_skus, args)
        large = measure_size(sandbox_url, args.skus, args)
    ours, base = statistics.median(large["times"]), statistics.median(small["times"])
    ratio = ours / base
    table = [Figure(f"incremental poll, {args.changed} changed of {args.skus:,}", ours * 1000, "ms", base * 1000),
             Figure("slowest poll", max(large["times"]) * 1000, "ms", max(small["times"]) * 1000),
             Figure("changed SKUs stored per second", args.changed / ours, "SKUs/s", args.changed / base)]
    goal = Goal(f"time at {args.skus:,} ÷ at {args.baseline_skus:,} ≤ {GOAL_RATIO:g}", f"{ratio:.2f}",
                ratio <= GOAL_RATIO)
    finish("incremental", large["scratch"], {
        "skus": args.skus, "baseline_skus": args.baseline_skus, "changed_per_poll": args.changed,
        "rounds": args.rounds, "poll": "flows.poll.poll(full=False) in process, orders fetched too",
        "sandbox": "separate process (uvicorn), Shopify stand-in, open bucket"},
        table, goal, {"ours": large["rounds"], "baseline": small["rounds"],
                      "history_rows": {"ours": large["history_rows"], "baseline": small["history_rows"]}},
        machine=large["machine"])
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.incremental", description=__doc__.split("\n")[0])
    parser.add_argument("--skus", type=int, default=1_000_000, help="large catalog (default 1000000)")
    parser.add_argument("--baseline-skus", type=int, default=10_000, help="small catalog (default 10000)")
    parser.add_argument("--changed", type=int, default=100, help="SKUs changed before each poll (default 100)")
    parser.add_argument("--rounds", type=int, default=9, help="timed polls per size, median taken (default 9)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return measure(parse_args(argv))


if __name__ == "__main__":
    main_wrapper(main)
