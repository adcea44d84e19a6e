"""``python -m bench``: every benchmark in sequence, then one summary table.

Each script runs in its own subprocess (``python -m bench.<name>``), so a failing or crashing
one is reported and the next one still runs; each starts and stops what it needs. The verdict
comes from the JSON result the script wrote during this run (``bench/results/<name>-*.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.common import REPO_ROOT, RESULTS_DIR, embedded_root, find_servers, install_sigterm_exit

SCRIPTS = ("ingest", "sync", "incremental", "latency", "batching", "timers", "pacing", "triage")
#: Shown for a result without a goal (an older ``sync`` result): its headline figure, no verdict.
SYNC_FIGURE = "full poll rate"


@dataclass(frozen=True)
class Row:
    script: str
    goal: str
    figure: str
    verdict: str
    seconds: float


def newest_result(name: str, since: float) -> dict[str, Any] | None:
    """The result ``name`` wrote after ``since`` (epoch seconds), if any."""
    candidates = [p for p in RESULTS_DIR.glob(f"{name}-*.json") if p.stat().st_mtime >= since]
    if not candidates:
        return None
    return json.loads(max(candidates, key=lambda p: p.stat().st_mtime).read_text())


def summarize(name: str, code: int, result: dict[str, Any] | None, seconds: float) -> Row:
    if result is None:
        return Row(name, "-", "-", f"failed (exit {code}, no result)", seconds)
    goal = result.get("goal")
    if goal:
        verdict = "met" if goal["met"] else "missed"
        if code:
            verdict += f" (exit {code})"
        return Row(name, goal["text"], goal["figure"], verdict, seconds)
    figure = next((f for f in result.get("figures", []) if f["name"] == SYNC_FIGURE), None)
    shown = f"{figure['value']:,.0f} {figure['unit']}" if figure else "-"
    return Row(name, "(no goal)", shown, "ok" if code == 0 else f"exit {code}", seconds)


def table(rows: list[Row]) -> str:
    header = ("script", "goal", "figure", "met/missed", "time")
    cells = [header] + [(r.script, r.goal, r.figure, r.verdict, f"{r.seconds:,.0f} s") for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c[i].ljust(widths[i]) for i in range(len(header))) + " |" for c in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


@contextmanager
def shared_servers() -> Iterator[dict[str, str]]:
    """One set of servers for the whole sequence, handed to every script as given URLs.

    A script that finds the embedded servers not running starts them and stops them when it
    ends; on a busy machine one port check that times out would make a script stop the servers
    under the next one. Started once here and passed as ``DATABASE_URL`` / ``REDIS_URL``, no
    script starts or stops anything but its own scratch database.
    """
    servers = find_servers()
    env = {**os.environ, "DATABASE_URL": servers.server_url, "REDIS_URL": servers.redis_url}
    try:
        yield env
    finally:
        if servers.started_embedded:
            from workers import embedded

            embedded.stop(embedded_root())


def run(name: str, extra: list[str], env: dict[str, str]) -> Row:
    print(f"\n=== bench.{name} ===", flush=True)
    since = time.time() - 1
    started = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", f"bench.{name}", *extra], cwd=REPO_ROOT, env=env)
    return summarize(name, code, newest_result(name, since), time.perf_counter() - started)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, help="run only these scripts")
    parser.add_argument("--skip", nargs="+", choices=SCRIPTS, default=[], help="leave these out")
    parser.add_argument("--sync-skus", type=int, default=100_000, help="catalog size for bench.sync")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    install_sigterm_exit()
    args = parse_args(argv)
    names = [n for n in (args.only or SCRIPTS) if n not in args.skip]
    rows = []
    with shared_servers() as env:
        for name in names:
            extra = ["--skus", str(args.sync_skus)] if name == "sync" else []
            rows.append(run(name, extra, env))
    print("\n" + table(rows))
    return 0 if all(not r.verdict.startswith(("failed", "exit")) for r in rows) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
