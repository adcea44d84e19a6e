"""Webhook ingest CPU per webhook in one process, without the HTTP server: a steadier A/B than ``bench.ingest``.

``python -m bench.ingest_cpu`` calls the ASGI apps directly (no sockets, no uvicorn), from
``--concurrency`` coroutines on one uvloop event loop, with signed Shopify stock updates as
``bench.ingest`` sends them, and reports this process's CPU seconds ÷ webhooks:

* **bare**: ``bench.bare_app:app`` (read the body, answer 200): the baseline of the run;
* **ours, instant writer**: ``workers.web:app`` with the inbox writer replaced by one that answers
  at once (every middleware, the limiter's Redis round trip, verify, parse, the records);
* **ours**: ``workers.web:app`` as deployed: the real inbox writer, PostgreSQL and Redis (the
  writer's serialisation and psycopg's work count; PostgreSQL's and Redis's own CPU do not).

The three run in turn, ``--rounds`` times; each figure is the median of its rounds, and each ratio
is against the bare app's figure of the same run. On a shared machine the load moves the HTTP
bench's ratio by ±0.15 from run to run; CPU per webhook in one process moves much less, so two
checkouts can be compared by running this alternately with each on ``PYTHONPATH`` (the script
only needs ``bench.common`` and the two apps, so ``python path/to/bench/ingest_cpu.py`` runs
against an older checkout too).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import (BENCH_STORE_KEY, Figure, apply_business_file, bench_env, finish, inventory_webhook,
                          main_wrapper, scratch_database, shopify_store_toml)

#: As ``bench.ingest``: the per-source limits out of reach, so the limiter's round trip counts.
UNREACHABLE_LIMITS = {"WEBHOOK_LIMIT_PER_IP_PER_S": "1000000000", "WEBHOOK_LIMIT_PER_IP_BURST": "1000000000",
                      "WEBHOOK_LIMIT_PER_STORE_PER_S": "1000000000", "WEBHOOK_LIMIT_PER_STORE_BURST": "1000000000"}
CATALOG_ITEMS = 10_000


def requests_for(count: int, start: int) -> list[tuple[bytes, list[tuple[bytes, bytes]]]]:
    """Signed stock updates, with each one's ASGI header list (names lower case, as servers send them)."""
    made = []
    for n in range(start, start + count):
        body, headers = inventory_webhook(n % CATALOG_ITEMS, available=n % 50)
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw += [(b"content-length", str(len(body)).encode()), (b"host", b"127.0.0.1:8000")]
        made.append((body, raw))
    return made


async def drive(app: Any, requests: list[tuple[bytes, list[tuple[bytes, bytes]]]], concurrency: int) -> float:
    """Every request through ``app``, ``concurrency`` at a time; CPU seconds of this process."""
    pending = iter(requests)
    path = f"/webhooks/{BENCH_STORE_KEY}"

    async def client() -> None:
        for body, headers in pending:
            scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                     "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
                     "query_string": b"", "root_path": "", "headers": headers,
                     "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}
            sent = False
            status: list[int] = []

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    await asyncio.sleep(3600)  # never: the body was read (a disconnect would follow)
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status.append(message["status"])

            await app(scope, receive, send)
            if status != [200]:
                raise RuntimeError(f"answered {status}")

    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.process_time() - started


class InstantWriter:
    """Stands for the inbox writer: every event is "accepted" at once, nothing is stored."""

    def __init__(self) -> None:
        from workers.ingest_writer import Outcome

        self.outcome = Outcome(event_id=1)

    def submit(self, event: Any, deadline: float | None = None) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(self.outcome)
        return future

    def withdraw(self, future: Any) -> bool:
        return False


def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    import bench.bare_app
    import workers.webhooks
    import workers.web

    real_get_writer = workers.webhooks.get_writer
    instant = InstantWriter()
    sides: dict[str, tuple[Any, Any]] = {"bare": (bench.bare_app.app, None),
                                         "ours, instant writer": (workers.web.app, lambda: instant),
                                         "ours": (workers.web.app, real_get_writer)}
    per_webhook: dict[str, list[float]] = {name: [] for name in sides}
    counter = 0

    async def run_all() -> None:
        nonlocal counter
        for name, (app, get_writer) in sides.items():  # warm-up: imports, caches, connections
            if get_writer is not None:
                workers.webhooks.get_writer = get_writer
            await drive(app, requests_for(args.warmup, counter), args.concurrency)
            counter += args.warmup
        for _ in range(args.rounds):
            for name, (app, get_writer) in sides.items():
                if get_writer is not None:
                    workers.webhooks.get_writer = get_writer
                batch = requests_for(args.webhooks, counter)
                counter += args.webhooks
                cpu = await drive(app, batch, args.concurrency)
                per_webhook[name].append(cpu / args.webhooks * 1e6)
                print(f"{name}: {per_webhook[name][-1]:.1f} µs/webhook", flush=True)

    try:
        import uvloop
        uvloop.run(run_all())
    except ImportError:
        asyncio.run(run_all())
    finally:
        workers.webhooks.get_writer = real_get_writer
    return per_webhook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_cpu", description=__doc__.split("\n")[0])
    parser.add_argument("--webhooks", type=int, default=10_000, help="webhooks per side per round (default 10,000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of bare, instant, ours (default 3)")
    parser.add_argument("--concurrency", type=int, default=32, help="coroutines posting at once (default 32)")
    parser.add_argument("--warmup", type=int, default=1_000, help="webhooks per side before measuring")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_database("bench"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ingest-cpu-")))
        config_path = workdir / "bench.toml"
        config_path.write_text(shopify_store_toml("http://127.0.0.1:9/shopify/bench"))
        apply_business_file(config_path)
        os.environ.update(bench_env(scratch, {"BACKORDERS_CONFIG": str(config_path), **UNREACHABLE_LIMITS}))
        from domain.core.env_settings import get_settings

        get_settings.cache_clear()
        per_webhook = measure(args)
        bare = statistics.median(per_webhook["bare"])
        table = [Figure(f"CPU per webhook, {name}", statistics.median(values), "µs", bare)
                 for name, values in per_webhook.items() if name != "bare"]
        table.insert(0, Figure("CPU per webhook, bare app", bare, "µs", None))
        finish("ingest_cpu", scratch, {"webhooks_per_round": args.webhooks, "rounds": args.rounds,
                                       "concurrency": args.concurrency, "loop": "uvloop, one process, no sockets",
                                       "checkout": str(Path(sys.modules["workers.web"].__file__ or "").parents[1])},
               table, None, {"rounds_us": per_webhook})
    return 0


if __name__ == "__main__":
    main_wrapper(main)
