"""Webhook ingest: signed Shopify webhooks accepted durably per second, against a bare endpoint.

``python -m bench.ingest`` measures, on loopback, with one closed-loop asyncio load generator
(a minimal HTTP/1.1 client on uvloop, so the generator is not the ceiling):

* **ours**: ``uvicorn workers.web:app --workers 2`` (the Procfile's ``web``). Each request is a
  signed ``inventory_levels/update`` with a unique ``X-Shopify-Event-Id``; a 200 means the HMAC
  was checked, the inbox row committed and the coalesced drain enqueued (or already pending).
* **baseline**: ``uvicorn bench.bare_app:app --workers 2``, one POST route that reads the body
  and answers 200, under the same load. Ratio = ours ÷ baseline (goal: ≥ 0.5 for throughput).

No worker drains the inbox during the run: the figure is the receiver's, not the pipeline's
(``bench.batching`` measures that). The run checks the inbox holds one row per 200 answered.
The per-source rate limits are raised out of reach (one address posting to one store is what
they exist to stop), so the limiter's round trip is measured but it refuses nothing;
``--source-limits off`` measures the receiver without it.
"""
from __future__ import annotations

import argparse
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import (
    BENCH_STORE_KEY,
    Figure,
    Goal,
    LoadResult,
    apply_business_file,
    bench_env,
    finish,
    inventory_webhook,
    latency_figures,
    main_wrapper,
    run_load,
    scratch_database,
    shopify_store_toml,
    uvicorn_server,
)

GOAL_RATIO = 0.5
CATALOG_ITEMS = 10_000
#: The load generator is one address posting to one store, far past the per-source limits a
#: deployment sets against floods (``workers.source_limits``). They are raised out of reach for
#: the run, not turned off: the limiter still makes its Redis round trip for every request, so
#: its cost stays in the figure, but it refuses nothing.
UNREACHABLE_LIMITS = {"WEBHOOK_LIMIT_PER_IP_PER_S": "1000000000", "WEBHOOK_LIMIT_PER_IP_BURST": "1000000000",
                      "WEBHOOK_LIMIT_PER_STORE_PER_S": "1000000000", "WEBHOOK_LIMIT_PER_STORE_BURST": "1000000000"}
#: ``--source-limits off``: both buckets off (rate 0), so the limiter makes no round trip at all.
#: This isolates the receiver's own cost; the default run measures the app as deployed.
LIMITS_OFF = {**UNREACHABLE_LIMITS, "WEBHOOK_LIMIT_PER_IP_PER_S": "0", "WEBHOOK_LIMIT_PER_STORE_PER_S": "0"}


def make_request(n: int) -> tuple[bytes, dict[str, str]]:
    """A signed stock update for one of the first ``CATALOG_ITEMS`` sandbox items."""
    return inventory_webhook(n % CATALOG_ITEMS, available=n % 50)


def warm_up(base_url: str, args: argparse.Namespace) -> None:
    """Connections, imports, caches: a short run that is not measured."""
    run_load(f"{base_url}/webhooks/{BENCH_STORE_KEY}", make_request, concurrency=args.concurrency, duration_s=5,
             max_requests=args.warmup)


def interleaved(bare_url: str, our_url: str, args: argparse.Namespace) -> tuple[LoadResult, LoadResult, list[float]]:
    """Both servers up; ``args.slices`` slices each, alternating bare, ours, bare, ours …

    Other work on the machine comes and goes over tens of seconds; two runs one after the other
    saw different machines (on a shared 2-core box the same code measured 0.15 and 1.14 in
    consecutive runs). Alternating short slices gives both sides the same background; the
    ratio is of the totals, and each slice pair's ratio is kept to show the spread.
    """
    slice_s = args.duration / args.slices
    per_slice = max(1, args.requests // args.slices)
    bare: list[LoadResult] = []
    ours: list[LoadResult] = []
    for _ in range(args.slices):
        for url, results in ((bare_url, bare), (our_url, ours)):
            results.append(run_load(f"{url}/webhooks/{BENCH_STORE_KEY}", make_request, concurrency=args.concurrency,
                                    duration_s=slice_s, max_requests=per_slice))
    pair_ratios = [o.per_second / b.per_second if b.per_second else 0.0 for b, o in zip(bare, ours)]
    return combined(bare), combined(ours), pair_ratios


def combined(results: list[LoadResult]) -> LoadResult:
    statuses: dict[str, int] = {}
    for result in results:
        for status, count in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return LoadResult(sum(r.seconds for r in results), [x for r in results for x in r.latencies_s], statuses)


def inbox_rows() -> int:
    from domain.core.db import get_engine

    with get_engine().connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM inbox")).scalar_one())


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_database("bench"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ingest-")))
        config_path = workdir / "bench.toml"
        config_path.write_text(shopify_store_toml("http://127.0.0.1:9/shopify/bench"))
        apply_business_file(config_path)
        limits = UNREACHABLE_LIMITS if args.source_limits == "on" else LIMITS_OFF
        env = bench_env(scratch, {"BACKORDERS_CONFIG": str(config_path), **limits})
        bare_url = stack.enter_context(uvicorn_server("bench.bare_app:app", env, workdir / "bare.log",
                                                      workers=args.web_workers))
        our_url = stack.enter_context(uvicorn_server("workers.web:app", env, workdir / "web.log",
                                                     workers=args.web_workers))
        warm_up(bare_url, args)
        warm_up(our_url, args)
        baseline, ours, pair_ratios = interleaved(bare_url, our_url, args)
        print(f"baseline: {baseline.per_second:,.0f} req/s {baseline.statuses}", flush=True)
        print(f"ours: {ours.per_second:,.0f} req/s {ours.statuses}", flush=True)
        print("ratio per slice pair: " + ", ".join(f"{r:.2f}" for r in pair_ratios), flush=True)
        stored = inbox_rows()
        table = figures(ours, baseline)
        ratio = ours.per_second / baseline.per_second if baseline.per_second else 0.0
        goal = Goal(f"accepted/s ours ÷ bare ≥ {GOAL_RATIO}", f"{ratio:.2f}", ratio >= GOAL_RATIO)
        problems = [f"{k}: {v}" for k, v in ours.statuses.items() if not k.startswith("2")]
        if stored < ours.ok:
            problems.append(f"inbox holds {stored} rows, fewer than the {ours.ok} accepted in the run")
        parameters = {"source_limits": "on, out of reach" if args.source_limits == "on" else "off",
                      "concurrency": args.concurrency, "duration_s": args.duration, "max_requests": args.requests,
                      "slices": f"{args.slices} per side, alternating bare/ours, {args.duration / args.slices:g} s each",
                      "warmup_requests": args.warmup, "web": f"uvicorn --workers {args.web_workers}",
                      "load_generator": "asyncio HTTP/1.1 client (uvloop), one process, closed loop, keep-alive, loopback",
                      "drain_worker": "none (receiver only)"}
        finish("ingest", scratch, parameters, table, goal,
               {"ours": {"statuses": ours.statuses, "seconds": ours.seconds},
                "baseline": {"statuses": baseline.statuses, "seconds": baseline.seconds},
                "pair_ratios": pair_ratios, "inbox_rows": stored, "problems": problems})
        for problem in problems:
            print(f"PROBLEM: {problem}")
        return {"problems": problems}


def figures(ours: LoadResult, baseline: LoadResult) -> list[Figure]:
    return [
        Figure("webhooks accepted", ours.per_second, "req/s", baseline.per_second),
        *latency_figures("latency", ours.latencies_s, baseline.latencies_s),
        Figure("requests answered 2xx", ours.ok, "req", baseline.ok),
    ]


def profile_accept(count: int, top: int = 25, concurrency: int = 32) -> None:
    """cProfile of the receiver's part after HTTP (``accept_webhook``: cached store, verify, parse,
    group commit by the loop's inbox writer) for ``count`` requests, ``concurrency`` at a time, in
    this process's event loop. Round trips show as time in the loop's ``select``/``epoll``."""
    import asyncio
    import cProfile
    import io
    import os
    import pstats
    import time

    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_database("bench"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ingest-")))
        config_path = workdir / "bench.toml"
        config_path.write_text(shopify_store_toml("http://127.0.0.1:9/shopify/bench"))
        apply_business_file(config_path)
        os.environ.update({k: v for k, v in bench_env(scratch, {"BACKORDERS_CONFIG": str(config_path)}).items()
                           if k.startswith(("BENCH_", "BACKORDERS_"))})
        from domain.core.env_settings import get_settings
        from workers.webhooks import accept_webhook

        get_settings.cache_clear()
        requests_ = [(body, {k.lower(): v for k, v in headers.items()})
                     for body, headers in (make_request(n) for n in range(count))]

        async def run_all() -> float:
            await accept_webhook(BENCH_STORE_KEY, requests_[0][1], requests_[0][0])
            pending = iter(requests_[1:])

            async def client() -> None:
                for body, headers in pending:
                    answer = await accept_webhook(BENCH_STORE_KEY, headers, body)
                    if answer.status != 200:
                        raise RuntimeError(f"answer {answer.status}: {answer.body}")

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(concurrency)))
            return time.perf_counter() - started

        profiler = cProfile.Profile()
        profiler.enable()
        elapsed = asyncio.run(run_all())
        profiler.disable()
        print(f"accept_webhook: {count - 1} calls, {concurrency} at a time, in {elapsed:.2f} s = "
              f"{(count - 1) / elapsed:,.0f}/s in one event loop (profiler on)")
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
            print(out.getvalue())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per side (default 20)")
    parser.add_argument("--slices", type=int, default=4,
                        help="split each side's run into this many slices, alternating bare/ours (default 4)")
    parser.add_argument("--requests", type=int, default=100_000, help="at most this many requests per run")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up requests before each run")
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn --workers (default 2)")
    parser.add_argument("--source-limits", choices=("on", "off"), default="on",
                        help="per-source rate limiter: on with limits out of reach (default, the app as "
                             "deployed) or off (no Redis round trip: the receiver's own cost)")
    parser.add_argument("--profile", type=int, metavar="N",
                        help="instead: cProfile the receiver's accept_webhook N times in this process")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        profile_accept(args.profile)
        return 0
    run = measure(args)
    return 1 if run["problems"] else 0


if __name__ == "__main__":
    main_wrapper(main)
