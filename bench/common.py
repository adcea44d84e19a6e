"""Shared parts of the benchmarks: a scratch database, the sandbox, memory sampling and results.

Every bench runs against a database it creates and drops itself (``backorders_bench_<random>``)
and a Redis key prefix of its own, so a bench never reads another run's rows or messages and
never leaves anything behind. Servers come from ``DATABASE_URL`` / ``REDIS_URL`` when both are
set, else from the embedded PostgreSQL and Redis under ``.data`` (stopped again at the end when
this bench started them), the same rule ``tests/conftest.py`` follows.
"""
from __future__ import annotations

import contextlib

import asyncio
import base64
import hashlib
import hmac
import json
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg
import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
ENV_KEYS = ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "SECRET_KEY", "CELERY_KEY_PREFIX", "BACKORDERS_CONFIG")
#: The stand-ins a commerce bench needs; serving only these keeps a bench independent of
#: unfinished sandbox modules elsewhere in the tree.
COMMERCE_SANDBOX_MODULES = ("sandbox.control", "sandbox.shopify")


# --- servers and the scratch database ---------------------------------------------------------


@dataclass(frozen=True)
class Servers:
    """Where PostgreSQL and Redis listen, and whether this bench must stop the embedded ones."""

    server_url: str
    redis_url: str
    embedded: bool
    started_embedded: bool


def embedded_root() -> Path:
    """The embedded servers' directory for benches: ``BACKORDERS_DATA_DIR`` if set, else ``.data/bench``.

    Not the shared ``.data``: a test session that started the shared servers stops them when it
    ends, which would kill a bench minutes into its run (and a bench stopping them would do the
    same to a test session). Their own directory gives benches servers nobody else stops.
    """
    configured = os.environ.get("BACKORDERS_DATA_DIR")
    return Path(configured).resolve() if configured else REPO_ROOT / ".data" / "bench"


def find_servers() -> Servers:
    """The configured servers when both URLs are set, else the embedded ones (started if needed)."""
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "") or os.environ.get("BROKER_URL", "")
    if database_url and redis_url:
        return Servers(database_url, redis_url, embedded=False, started_embedded=False)
    from workers import embedded

    root = embedded_root()
    was_running = embedded.is_running(root)
    state = embedded.start(root)
    return Servers(database_url or state.database_url, redis_url or state.redis_url, embedded=True,
                   started_embedded=not was_running)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def psycopg_url(url: str) -> str:
    """psycopg wants the plain scheme; SQLAlchemy URLs name the driver."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class Scratch:
    """A migrated throw-away database, and the environment that points every process at it."""

    servers: Servers
    database_name: str
    database_url: str
    key_prefix: str
    env: dict[str, str] = field(default_factory=dict)


def _delete_prefixed_keys(redis_url: str, prefix: str) -> int:
    """Remove the bench's broker keys (queues, unacked hash, bindings) so Redis is as we found it."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


def _reset_process_caches() -> None:
    from domain.core.db import reset_engine
    from domain.core.env_settings import get_settings

    get_settings.cache_clear()
    reset_engine()


@contextmanager
def scratch_database(label: str = "bench") -> Iterator[Scratch]:
    """Create, migrate and point this process at ``backorders_<label>_<random>``; drop it afterwards."""
    from alembic import command

    from workers import embedded
    from workers.schema import alembic_config

    servers = find_servers()
    name = f"backorders_{label}_{secrets.token_hex(4)}"
    admin_url = psycopg_url(with_database(servers.server_url, "postgres"))
    saved = {key: os.environ.get(key) for key in ENV_KEYS}
    created = False
    try:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        created = True
        scratch = Scratch(servers, name, with_database(servers.server_url, name), f"{label}-{name}:")
        scratch.env = {
            "DATABASE_URL": scratch.database_url, "REDIS_URL": servers.redis_url, "BROKER_URL": servers.redis_url,
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
            "CELERY_KEY_PREFIX": scratch.key_prefix,
        }
        os.environ.update(scratch.env)
        _reset_process_caches()
        command.upgrade(alembic_config(scratch.database_url), "head")
        yield scratch
    finally:
        _reset_process_caches()
        if created:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _delete_prefixed_keys(servers.redis_url, f"{label}-{name}:")
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if servers.started_embedded:
            embedded.stop(embedded_root())


# --- the sandbox, served by a process of its own ----------------------------------------------


def serve_commerce_sandbox(port: int) -> None:
    """Entry point of the sandbox subprocess: Shopify's stand-in (and the health check) only."""
    import importlib

    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    for module in COMMERCE_SANDBOX_MODULES:
        importlib.import_module(module).install(app)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_process(timeout_s: float = 20.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The sandbox in its own process, so neither the worker nor the in-process baseline shares
    a GIL with the server they download from: both are measured against the same, separate server."""
    port = free_port()
    code = f"from bench.common import serve_commerce_sandbox; serve_commerce_sandbox({port})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sandbox exited with {proc.returncode} before answering")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{base_url}/_sandbox/health", timeout=0.5).ok:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"sandbox did not answer on {base_url} within {timeout_s}s")
            time.sleep(0.1)
        yield base_url, proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[Any], grace_s: float = 15.0) -> None:
    """SIGTERM (a Celery worker's warm shutdown), then SIGKILL to the process group it leads.

    Processes here are started with ``start_new_session=True``, so the group is exactly the
    process and its children (prefork pool), and nothing else is touched.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=5)


# --- memory of a process tree -------------------------------------------------------------------


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and its live descendants; empty when it is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_rss(pid: int) -> int:
    """RSS of a process and all its descendants, in bytes (shared pages count once per process)."""
    total = 0
    for process in process_tree(pid):
        with suppress(psutil.Error):
            total += process.memory_info().rss
    return total


class RssSampler:
    """Samples a process tree's RSS on a thread every ``interval_s``; keeps the peak and the series."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            rss = tree_rss(self.pid)
            self.samples.append((time.monotonic() - started, rss))
            self.peak = max(self.peak, rss)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (0 when it is gone)."""
    total = 0.0
    for member in process_tree(pid):
        with suppress(psutil.Error):
            times = member.cpu_times()
            total += times.user + times.system
    return total


SERVER_PROCESS_NAMES = ("postgres", "redis-server")


def servers_cpu_seconds(names: Sequence[str] = SERVER_PROCESS_NAMES) -> float:
    """CPU seconds of every PostgreSQL and Redis process on the machine (shared or embedded).

    Approximate by design: a backend that exits between two readings takes its seconds with it,
    and another database's work on a shared server is counted too (the bench runs on a quiet one).
    """
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info.get("name") in names:
            with suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
    return total


class CpuMeter:
    """CPU seconds each group of processes used between ``__enter__`` and ``__exit__``.

    The machine's cores bound how fast the whole pipeline can go: seconds of CPU used ÷ cores
    is the shortest wall time the same work could take here, whatever the code's concurrency.
    """

    def __init__(self, groups: dict[str, Sequence[int]], *, servers: bool = True) -> None:
        self.groups = dict(groups)
        self.servers = servers
        self.used: dict[str, float] = {}
        self._start: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        reading = {name: sum(tree_cpu_seconds(pid) for pid in pids) for name, pids in self.groups.items()}
        if self.servers:
            reading["postgres + redis"] = servers_cpu_seconds()
        return reading

    def __enter__(self) -> "CpuMeter":
        self._start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._read()
        self.used = {name: max(end[name] - self._start.get(name, 0.0), 0.0) for name in end}

    @property
    def total(self) -> float:
        return sum(self.used.values())


def idle_rss(pid: int, duration_s: float = 2.0, interval_s: float = 0.1) -> int:
    """The median tree RSS over a quiet moment: the baseline a peak is compared with."""
    values = []
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        values.append(tree_rss(pid))
        time.sleep(interval_s)
    values.sort()
    return values[len(values) // 2] if values else 0


# --- machine, versions, results -----------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _postgres_version(database_url: str) -> str:
    with psycopg.connect(psycopg_url(database_url)) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def _redis_version(redis_url: str) -> str:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return str(client.info("server").get("redis_version", "unknown"))
    finally:
        client.close()


def machine_info(database_url: str, redis_url: str) -> dict[str, Any]:
    """What a figure depends on, so results from two machines are never compared blindly."""
    import celery
    import kombu
    import sqlalchemy

    memory = psutil.virtual_memory().total
    return {
        "cpu_count": os.cpu_count(), "cpu_model": _cpu_model(), "memory_total_bytes": memory,
        "memory_total_gib": round(memory / 2**30, 1), "platform": platform.platform(),
        "versions": {"python": platform.python_version(), "celery": celery.__version__,
                     "kombu": kombu.__version__, "sqlalchemy": sqlalchemy.__version__,
                     "psycopg": psycopg.__version__, "postgresql": _postgres_version(database_url),
                     "redis_server": _redis_version(redis_url)},
    }


def utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def write_result(name: str, data: dict[str, Any]) -> Path:
    """``bench/results/<name>-<UTC timestamp>.json``: kept out of git, compared across runs by hand."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-{utc_stamp()}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


@dataclass(frozen=True)
class Figure:
    """One row of a result table: a measured value, and the baseline it is judged against."""

    name: str
    value: float
    unit: str
    baseline: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "baseline": self.baseline,
                "ratio": self.ratio}


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def format_table(figures: Sequence[Figure]) -> str:
    """A plain-text table (figure, value, unit, baseline, ratio) that pastes into Markdown as is."""
    header = ("figure", "value", "unit", "baseline", "ratio")
    rows = [header] + [(f.name, _fmt(f.value), f.unit, _fmt(f.baseline), _fmt(f.ratio)) for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) if i in (0, 2) else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def install_sigterm_exit() -> None:
    """Turn SIGTERM into SystemExit, so ``finally`` blocks stop what the bench started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# --- shared by the pipeline benches (ingest, incremental, latency, batching, timers, pacing) -----
#
# Added for the benches beyond ``sync``: processes the benches start (Celery workers, uvicorn
# servers, the full sandbox), the Shopify webhook signing every webhook bench needs, percentiles,
# a goal verdict per bench and one way to print and save a result.

#: Every stand-in, messaging providers included (the latency and pacing benches need them).
ALL_SANDBOX_MODULES = ("sandbox.control", "sandbox.shopify", "sandbox.messaging", "sandbox.twilio",
                       "sandbox.mailgun", "sandbox.sendgrid", "sandbox.slack")
BENCH_STORE_KEY = "bench-shopify"
BENCH_LOCATION_KEY = "bench-warehouse"
BENCH_SHOPIFY_LOCATION_ID = 655441491
BENCH_WEBHOOK_SECRET_ENV = "BENCH_SHOPIFY_WEBHOOK_SECRET"
BENCH_WEBHOOK_SECRET = "bench-shopify-webhook-secret"
BENCH_TOKEN_ENV = "BENCH_SHOPIFY_TOKEN"
BENCH_SANDBOX_TOKEN = "shpat_sandbox"
#: Shopify's generated inventory item ids in the sandbox: ``ITEM_ID_BASE + catalog index``.
SHOPIFY_ITEM_ID_BASE = 2**53 + 4_000_000_000
SHOPIFY_VARIANT_ID_BASE = 2**53 + 2_000_000_000
SHOPIFY_PRODUCT_ID_BASE = 2**53 + 1_000_000
OPEN_BUCKET = 1_000_000


def serve_sandbox(port: int, modules: Sequence[str]) -> None:
    """Entry point of a sandbox subprocess serving ``modules`` (each has ``install(app)``)."""
    import importlib

    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    for module in modules:
        importlib.import_module(module).install(app)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wait_http(url: str, proc: subprocess.Popen[Any] | None, timeout_s: float = 30.0,
              what: str = "server", log_path: Path | None = None) -> None:
    """Poll ``url`` until it answers 2xx; a process that died meanwhile fails at once with its log."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            tail = _tail_text(log_path) if log_path else ""
            raise RuntimeError(f"{what} exited with {proc.returncode} before answering\n{tail}")
        with suppress(requests.RequestException):
            if requests.get(url, timeout=1).ok:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer on {url} within {timeout_s}s")
        time.sleep(0.1)


def _tail_text(path: Path | None, lines: int = 40) -> str:
    if path is None:
        return ""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def full_sandbox_process(modules: Sequence[str] = ALL_SANDBOX_MODULES,
                         timeout_s: float = 20.0) -> Iterator[str]:
    """The sandbox with messaging providers, in its own process (so it never shares our GIL)."""
    port = free_port()
    code = f"from bench.common import serve_sandbox; serve_sandbox({port}, {tuple(modules)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base_url}/_sandbox/health", proc, timeout_s, "sandbox")
        yield base_url
    finally:
        stop_process(proc)


def spawn(command: Sequence[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A child in its own session (so ``stop_process`` reaches its whole tree), output to a log."""
    log = open(log_path, "wb")
    try:
        return subprocess.Popen(list(command), cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        log.close()


def wait_log(proc: subprocess.Popen[bytes], log_path: Path, marker: str, timeout_s: float = 60.0,
             what: str = "worker") -> None:
    """Wait for ``marker`` in the log (Celery prints `` ready.`` once it consumes)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_tail_text(log_path)}")
        if marker in log_path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready within {timeout_s}s:\n{_tail_text(log_path)}")


def bench_env(scratch: Scratch, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every child: ours plus the scratch database, prefix and bench secrets."""
    return {**os.environ, **scratch.env, BENCH_TOKEN_ENV: BENCH_SANDBOX_TOKEN,
            BENCH_WEBHOOK_SECRET_ENV: BENCH_WEBHOOK_SECRET, **(extra or {})}


@contextmanager
def celery_worker(env: dict[str, str], log_path: Path, queues: str, *, concurrency: int = 2,
                  app: str = "workers.app", name: str = "bench", pool: str = "prefork",
                  extra_args: Sequence[str] = ()) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker subprocess, ready and consuming on exit of ``with``'s first line."""
    command = [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queues, "-c", str(concurrency),
               "--pool", pool, "--loglevel", "INFO", "-n", f"{name}-{secrets.token_hex(3)}@%h", *extra_args]
    proc = spawn(command, env, log_path)
    try:
        wait_log(proc, log_path, " ready.", what=f"celery worker ({queues})")
        yield proc
    finally:
        stop_process(proc)


@contextmanager
def uvicorn_server(app_path: str, env: dict[str, str], log_path: Path, *, workers: int = 2,
                   health_path: str = "/readyz") -> Iterator[str]:
    """``uvicorn APP --workers N`` on a free loopback port: the Procfile's ``web`` process model."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app_path, "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    proc = spawn(command, env, log_path)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base_url}{health_path}", proc, 60.0, f"uvicorn {app_path}", log_path)
        yield base_url
    finally:
        stop_process(proc)


class QueueBacklog:
    """Messages not yet done in given broker queues: queued (any priority) or unacked (late acks)."""

    PRIORITY_SEPARATOR = "\x06\x16"
    PRIORITY_STEPS = (3, 6, 9)

    def __init__(self, redis_url: str, prefix: str, queues: Iterable[str]) -> None:
        import redis

        self.client = redis.Redis.from_url(redis_url)
        names = list(queues)
        self.lists = [f"{prefix}{q}" for q in names] + [
            f"{prefix}{q}{self.PRIORITY_SEPARATOR}{step}" for q in names for step in self.PRIORITY_STEPS]
        self.unacked = f"{prefix}unacked"

    def pending(self) -> int:
        pipe = self.client.pipeline(transaction=False)
        for key in self.lists:
            pipe.llen(key)
        pipe.hlen(self.unacked)
        return int(sum(pipe.execute()))

    def wait_drained(self, timeout_s: float, streak: int = 3, interval_s: float = 0.05) -> float:
        """``perf_counter`` at the first of ``streak`` consecutive empty readings."""
        deadline = time.perf_counter() + timeout_s
        seen, first = 0, 0.0
        while seen < streak:
            if self.pending() == 0:
                first = time.perf_counter() if seen == 0 else first
                seen += 1
            else:
                seen = 0
            if time.perf_counter() > deadline:
                raise TimeoutError("broker queues did not drain in time")
            time.sleep(interval_s)
        return first

    def close(self) -> None:
        self.client.close()


def wait_until(probe: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.05) -> Any:
    """The first truthy value of ``probe()``; ``TimeoutError`` naming ``what`` otherwise."""
    deadline = time.perf_counter() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


# --- Shopify: the bench store, its catalog in the database, signed webhooks ------------------------


def shopify_store_toml(shop_url: str, *, page_size: int = 250, extra: str = "") -> str:
    """A minimal business file: one Shopify store with a webhook secret, one location."""
    return f"""[business]
name = "Bench"
timezone = "UTC"

[[locations]]
key = "{BENCH_LOCATION_KEY}"
name = "Bench warehouse"

[[stores]]
key = "{BENCH_STORE_KEY}"
platform = "shopify"
name = "Bench Shopify"
base_url = "{shop_url}"
credentials = {{ access_token = "{BENCH_TOKEN_ENV}" }}
webhook_secret_env = "{BENCH_WEBHOOK_SECRET_ENV}"
poll_interval = "1d"
full_sync_interval = "1d"
locations = {{ "{BENCH_SHOPIFY_LOCATION_ID}" = "{BENCH_LOCATION_KEY}" }}
options = {{ page_size = {page_size}, location_ids = ["{BENCH_SHOPIFY_LOCATION_ID}"], bucket_size = {OPEN_BUCKET}, leak_rate = {OPEN_BUCKET} }}
{extra}"""


def seed_lazy_shop(sandbox_url: str, instance: str, count: int, prefix: str, available: int) -> str:
    """A lazy catalog of ``count`` items (SKU ``prefix`` + 6-digit index) and an open bucket."""
    base = f"{sandbox_url}/shopify/{instance}"
    requests.post(f"{base}/_admin/seed", json={"reset": True, "count": count, "sku_prefix": prefix,
                                               "available": available}, timeout=60).raise_for_status()
    requests.post(f"{base}/_admin/config", json={"bucket_size": OPEN_BUCKET, "leak_rate": OPEN_BUCKET},
                  timeout=30).raise_for_status()
    return base


def apply_business_file(config_path: Path) -> int:
    """Loads the file into the scratch database; returns the bench store's id."""
    from sqlalchemy import text

    from domain.core.business_config import load_config
    from domain.core.db import session_scope
    from domain.stock.catalog import apply_config

    with session_scope() as session:
        apply_config(session, load_config(config_path))
        return int(session.execute(text("SELECT id FROM stores WHERE key = :key"),
                                   {"key": BENCH_STORE_KEY}).scalar_one())


def insert_catalog(store_id: int, count: int, prefix: str, available: int, *, threshold: int = 0,
                   chunk: int = 250_000) -> None:
    """SKUs, channel listings and stock levels for sandbox items ``0..count-1``, set-based.

    This is what a first full poll would leave behind (the listing maps Shopify's inventory item
    id to our SKU, which is how incremental records and webhooks find their SKU), without
    spending minutes walking a million-item catalog. Chunked so one statement stays modest.
    """
    from sqlalchemy import text

    from domain.core.db import session_scope

    with session_scope() as session:
        location_id = session.execute(text("SELECT id FROM locations WHERE key = :k"),
                                      {"k": BENCH_LOCATION_KEY}).scalar_one()
    for start in range(0, count, chunk):
        stop = min(count, start + chunk)
        bounds = {"start": start, "stop": stop - 1, "prefix": prefix, "store": store_id, "loc": location_id,
                  "available": available, "threshold": threshold, "item_base": SHOPIFY_ITEM_ID_BASE,
                  "variant_base": SHOPIFY_VARIANT_ID_BASE, "product_base": SHOPIFY_PRODUCT_ID_BASE}
        with session_scope() as session:
            session.execute(text("""
                INSERT INTO skus (code, title, threshold, allow_backorder)
                SELECT :prefix || lpad(i::text, 6, '0'), 'Bench item ' || i, :threshold, true
                  FROM generate_series(CAST(:start AS int), CAST(:stop AS int)) AS i"""), bounds)
            session.execute(text("""
                INSERT INTO channel_listings (store_id, sku_id, external_id, inventory_item_id,
                                              parent_external_id, backorders_allowed)
                SELECT :store, s.id, (CAST(:variant_base AS bigint) + i)::text,
                       (CAST(:item_base AS bigint) + i)::text, (CAST(:product_base AS bigint) + i)::text, false
                  FROM generate_series(CAST(:start AS int), CAST(:stop AS int)) AS i
                  JOIN skus s ON s.code = :prefix || lpad(i::text, 6, '0')"""), bounds)
            session.execute(text("""
                INSERT INTO stock_levels (sku_id, location_id, store_id, on_hand, committed, available,
                                          source_updated_at)
                SELECT s.id, :loc, :store, :available, 0, :available, now() - interval '1 day'
                  FROM generate_series(CAST(:start AS int), CAST(:stop AS int)) AS i
                  JOIN skus s ON s.code = :prefix || lpad(i::text, 6, '0')"""), bounds)
    with session_scope() as session:
        for table in ("skus", "channel_listings", "stock_levels"):
            session.execute(text(f"ANALYZE {table}"))


def sign_shopify(secret: str, body: bytes) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def inventory_webhook(index: int, available: int, secret: str = BENCH_WEBHOOK_SECRET,
                      location_id: int = BENCH_SHOPIFY_LOCATION_ID) -> tuple[bytes, dict[str, str]]:
    """A signed ``inventory_levels/update`` for sandbox item ``index``, with a unique event id."""
    now = datetime.now(timezone.utc)
    body = json.dumps({"inventory_item_id": SHOPIFY_ITEM_ID_BASE + index, "location_id": location_id,
                       "available": available,
                       "updated_at": now.isoformat(timespec="microseconds").replace("+00:00", "Z")}).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": "inventory_levels/update",
               "X-Shopify-Hmac-Sha256": sign_shopify(secret, body),
               "X-Shopify-Shop-Domain": "bench.myshopify.com", "X-Shopify-API-Version": "2025-01",
               "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Event-Id": str(uuid.uuid4()),
               "X-Shopify-Triggered-At": now.isoformat().replace("+00:00", "Z")}
    return body, headers


# --- load generation -------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What a closed-loop load run saw: answers by status, per-request latencies, wall time."""

    seconds: float
    latencies_s: list[float]
    statuses: dict[str, int]

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("2"))

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def run_load(url: str, make_request: Callable[[int], tuple[bytes, dict[str, str]]], *, concurrency: int,
             duration_s: float, max_requests: int) -> LoadResult:
    """Closed loop: ``concurrency`` keep-alive connections, bounded in count and time.

    The client speaks HTTP/1.1 itself over asyncio streams (on uvloop when installed): httpx
    spent more CPU per request than the bare server did, so it, not the server, set the
    baseline's ceiling on a 2-core machine.
    """
    try:
        import uvloop

        return uvloop.run(_load(url, make_request, concurrency, duration_s, max_requests))
    except ImportError:
        return asyncio.run(_load(url, make_request, concurrency, duration_s, max_requests))


def _request_bytes(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> str:
    """One request on an open connection; returns the status code as text."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode()
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def _load(url: str, make_request: Callable[[int], tuple[bytes, dict[str, str]]], concurrency: int,
                duration_s: float, max_requests: int) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    counter = iter(range(max_requests))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    started = time.perf_counter()
    deadline = started + duration_s

    async def client_loop() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for n in counter:
                if time.perf_counter() > deadline:
                    return
                body, headers = make_request(n)
                request = _request_bytes(f"{host}:{port}", parts.path, body, headers)
                sent = time.perf_counter()
                try:
                    status = await _exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                    status = type(exc).__name__
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                latencies.append(time.perf_counter() - sent)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return LoadResult(time.perf_counter() - started, latencies, statuses)


class PacedSender:
    """Sends ``make_request(n)`` at a fixed total rate from ``threads`` threads (open loop).

    Background load: one thread alone cannot keep 100/s once a request takes over 10 ms, so the
    rate is split over threads, each on its own schedule and keep-alive session.
    """

    def __init__(self, url: str, make_request: Callable[[int], tuple[bytes, dict[str, str]]],
                 per_second: float, threads: int = 4) -> None:
        self.url, self.make_request, self.per_second = url, make_request, per_second
        self.sent = 0
        self.failed = 0
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._counter = iter(range(10**12))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(threads,), name=f"paced-sender-{n}", daemon=True)
                         for n in range(threads)]

    def _run(self, threads: int) -> None:
        session = requests.Session()
        interval = threads / self.per_second
        next_at = time.perf_counter()
        while not self._stop.is_set():
            with self._lock:
                n = next(self._counter)
            body, headers = self.make_request(n)
            try:
                ok = session.post(self.url, data=body, headers=headers, timeout=10).ok
            except requests.RequestException:
                ok = False
            with self._lock:
                self.sent += ok
                self.failed += not ok
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.perf_counter()))
        session.close()

    def __enter__(self) -> PacedSender:
        self._started = time.perf_counter()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self.seconds = time.perf_counter() - self._started

    @property
    def achieved_per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


# --- statistics, goals and the result file ------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank-with-interpolation percentile (``statistics.quantiles``' inclusive method)."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return float(cuts[int(q) - 1]) if 1 <= q <= 99 else float(max(values) if q >= 100 else min(values))


def latency_figures(label: str, values_s: Sequence[float], baseline_s: Sequence[float] | None = None,
                    unit: str = "ms") -> list[Figure]:
    """p50/p95/p99 rows, each against the same percentile of the baseline when there is one."""
    scale = 1000.0 if unit == "ms" else 1.0
    rows = []
    for q in (50, 95, 99):
        base = percentile(baseline_s, q) * scale if baseline_s else None
        rows.append(Figure(f"{label} p{q}", percentile(values_s, q) * scale, unit, base))
    return rows


@dataclass(frozen=True)
class Goal:
    """A bench's goal, the number it is judged by, and the verdict: the summary table's row."""

    text: str
    figure: str
    met: bool

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "figure": self.figure, "met": self.met}


def finish(name: str, scratch: Scratch, parameters: dict[str, Any], table: Sequence[Figure], goal: Goal | None,
           extra: dict[str, Any] | None = None, machine: dict[str, Any] | None = None) -> Path:
    """Print the table and verdict, write ``bench/results/<name>-<stamp>.json``; returns its path.

    ``machine`` is for a bench whose scratch database is already gone (read it while it exists).
    """
    print()
    print(format_table(table))
    if goal is not None:
        print(f"\ngoal: {goal.text}: {goal.figure} -> {'MET' if goal.met else 'MISSED'}")
    document = {
        "bench": name, "at": datetime.now(timezone.utc).isoformat(),
        "machine": machine or machine_info(scratch.database_url, scratch.servers.redis_url),
        "parameters": {**parameters, "servers": "embedded" if scratch.servers.embedded else "DATABASE_URL / REDIS_URL"},
        "figures": [f.as_dict() for f in table],
        "goal": goal.as_dict() if goal else None,
        **(extra or {}),
    }
    path = write_result(name, document)
    print(f"written {path.relative_to(REPO_ROOT)}")
    return path


def log_errors(log_path: Path, limit: int = 20) -> list[str]:
    """ERROR lines and tracebacks from a child's log: a fast run that failed is no result."""
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    return [line for line in lines if " ERROR/" in line or "Traceback" in line][:limit]


def main_wrapper(main: Callable[[list[str] | None], int]) -> None:
    """SIGTERM and Ctrl-C unwind the ``with`` blocks, so every child and the scratch DB go away."""
    install_sigterm_exit()
    try:
        sys.exit(main(None))
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        sys.exit(130)


# --- the no-op Celery baseline (bench/noop_app.py) --------------------------------------------------

NOOP_QUEUE = "bench_noop"


@contextmanager
def noop_worker(env: dict[str, str], log_path: Path, *, concurrency: int = 2,
                pool: str = "prefork") -> Iterator[subprocess.Popen[bytes]]:
    """A worker of the no-op app: same broker settings, pool and concurrency as the product's."""
    with celery_worker(env, log_path, NOOP_QUEUE, concurrency=concurrency, app="bench.noop_app",
                       name="noop", pool=pool) as proc:
        yield proc


def noop_round_trips(redis_url: str, samples: int, interval_s: float = 0.02) -> list[float]:
    """Seconds from ``send_task`` until the task's RPUSH reaches our BLPOP, ``samples`` times."""
    import redis

    from bench.noop_app import app

    client = redis.Redis.from_url(redis_url)
    reply_key = f"bench:noop-reply:{secrets.token_hex(4)}"
    times: list[float] = []
    try:
        for _ in range(samples):
            started = time.perf_counter()
            app.send_task("bench.noop.stamp", args=[reply_key, time.time()], queue=NOOP_QUEUE)
            if client.blpop([reply_key], timeout=30) is None:
                raise TimeoutError("a no-op task did not come back within 30 s")
            times.append(time.perf_counter() - started)
            time.sleep(interval_s)
    finally:
        client.delete(reply_key)
        client.close()
    return times


def noop_throughput(redis_url: str, key_prefix: str, count: int, timeout_s: float = 300.0) -> dict[str, float]:
    """``count`` no-op tasks sent as fast as one producer can; seconds until all are done."""
    from bench.noop_app import app

    backlog = QueueBacklog(redis_url, key_prefix, [NOOP_QUEUE])
    try:
        started = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for _ in range(count):
                app.send_task("bench.noop.nothing", queue=NOOP_QUEUE, producer=producer)
        sent_s = time.perf_counter() - started
        done = backlog.wait_drained(timeout_s)
        seconds = done - started
        return {"count": count, "seconds": seconds, "per_second": count / seconds, "send_seconds": sent_s}
    finally:
        backlog.close()
