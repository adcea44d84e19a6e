"""Shared parts of the benchmarks: a scratch database, the sandbox, memory sampling and results.

Every bench runs against a database it creates and drops itself (``backorders_bench_<random>``)
and a Redis key prefix of its own, so a bench never reads another run's rows or messages and
never leaves anything behind. Servers come from ``DATABASE_URL`` / ``REDIS_URL`` when both are
set, else from the embedded PostgreSQL and Redis under ``.data`` (stopped again at the end when
this bench started them), the same rule ``tests/conftest.py`` follows.
"""
from __future__ import annotations

import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    from domain.db import reset_engine
    from domain.settings import get_settings

    get_settings.cache_clear()
    reset_engine()


@contextmanager
def scratch_database(label: str = "bench") -> Iterator[Scratch]:
    """Create, migrate and point this process at ``backorders_<label>_<random>``; drop it afterwards."""
    from alembic import command

    from workers import embedded
    from workers.cli import alembic_config

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
            try:
                if requests.get(f"{base_url}/_sandbox/health", timeout=0.5).ok:
                    break
            except requests.ConnectionError:
                pass
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
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=5)


# --- memory of a process tree -------------------------------------------------------------------


def tree_rss(pid: int) -> int:
    """RSS of a process and all its descendants, in bytes (shared pages count once per process)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
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
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
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
