"""The whole product as real processes on private servers, for scenarios that break things.

``ChaosStack`` starts a private PostgreSQL and Redis (``tests.chaos.servers``), the sandbox, and
the Procfile's processes (web, workers, beat) with the environment production would have but for
URLs and secrets. Every process writes to its own log file under the scenario's directory; a
scenario kills and restarts processes by name. Commands are read from the Procfile at start-up,
so a queue moved from one worker to another is exercised as deployed.
"""
from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from domain.core.business_config import BusinessConfig, load_config
from domain.core.db import make_engine
from demo import scenario
from sandbox.server import free_port
from tests.chaos.servers import PrivatePostgres, PrivateRabbitMQ, PrivateRedis, rabbitmq_server

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PRODUCT_PROCESSES = ("web", "worker", "notify", "beat")
SHOP = "shopify-main"
#: The shop's warehouse: the sandbox tracks seeded items there only (a push to the showroom answers
#: 422), so the scenarios' stock updates name it alone.
LOCATIONS = ("655441491",)
SHOP_SECRET = scenario.PLATFORM_SECRETS["SHOPIFY_WEBHOOK_SECRET"]


def procfile(path: Path = REPO_ROOT / "Procfile") -> dict[str, str]:
    """Process name → command line, as written in the Procfile."""
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def expand(command: str, env: dict[str, str]) -> list[str]:
    """``${VAR:-default}`` as the shell would expand it, then split into argv."""
    def substitute(match: re.Match[str]) -> str:
        return env.get(match.group(1)) or match.group(2) or ""
    return shlex.split(re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", substitute, command))


def shop_config_text(sandbox_url: str, edit: Callable[[str], str] | None = None,
                     platforms: frozenset[str] = frozenset({"shopify"})) -> str:
    """The example store with only its Shopify shop (or the stores of ``platforms``), on the
    sandbox; polls rare unless edited."""
    text_ = scenario.sandbox_config_text(REPO_ROOT / "examples" / "futon-store.toml", sandbox_url, set(platforms))
    text_ = re.sub(r'(?m)^poll_interval = "[^"]*"', 'poll_interval = "1h"', text_)
    return edit(text_) if edit else text_


@dataclass
class Proc:
    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class ChaosStack:
    """Servers, sandbox and product processes of one scenario; see the module docstring."""

    workdir: Path
    pg: PrivatePostgres
    redis: PrivateRedis
    sandbox_url: str = ""
    web_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    config: BusinessConfig | None = None
    procs: dict[str, Proc] = field(default_factory=dict)
    sandbox_proc: subprocess.Popen[bytes] | None = None
    generation: int = 0
    #: The broker when it is RabbitMQ; Redis still holds locks, coalescing and rate limits.
    rabbitmq: PrivateRabbitMQ | None = None
    _engine: Engine | None = None

    # --- set-up ---------------------------------------------------------------------------

    def start_servers(self) -> None:
        self.pg.start()
        self.redis.start()
        if self.rabbitmq is not None:
            self.rabbitmq.start()
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)

    def start_sandbox(self) -> None:
        port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{port}"
        with open(self.workdir / "logs" / "sandbox.log", "wb") as out:
            self.sandbox_proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(port)],
                                                 cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                                 start_new_session=True)
        wait_http(f"{self.sandbox_url}/_sandbox/health", 30, self.sandbox_proc)

    def configure(self, edit: Callable[[str], str] | None = None, extra_env: dict[str, str] | None = None,
                  platforms: frozenset[str] = frozenset({"shopify"})) -> None:
        """Environment, schema and business configuration; the sandbox seeded with 10 of each SKU."""
        web_port = free_port()
        self.web_url = f"http://127.0.0.1:{web_port}"
        config_path = self.workdir / "store.toml"
        config_path.write_text(shop_config_text(self.sandbox_url, edit, platforms))
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("DATABASE_", "REDIS_", "BROKER_", "CELERY_", "BACKORDERS_", "PYTEST",
                                         "DEAD_LETTER_"))}
        self.env = {
            **base, **scenario.sandbox_env(self.sandbox_url, self.web_url),
            "DATABASE_URL": self.pg.url, "REDIS_URL": self.redis.url, "BROKER_URL": self.broker_url,
            "CELERY_KEY_PREFIX": "chaos:", "SECRET_KEY": secrets.token_urlsafe(40),
            "BACKORDERS_CONFIG": str(config_path), "BACKORDERS_DATA_DIR": str(self.workdir / "data"),
            "SWEEP_INTERVAL_S": "1", "PORT": str(web_port), "WEB_CONCURRENCY": "2",
            "WORKER_CONCURRENCY": "3", "NOTIFY_CONCURRENCY": "2", "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        from alembic import command

        from domain.stock.catalog import apply_config
        from workers.schema import alembic_config

        command.upgrade(alembic_config(self.pg.url), "head")
        self.config = load_config(config_path)
        with self.session() as session, session.begin():
            apply_config(session, self.config)
        scenario.prepare(self.sandbox_url, self.config, None, self.env)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``backorders …`` as an operator runs it, against this stack."""
        result = subprocess.run([str(BIN / "backorders"), *args], env=self.env, cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=120, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"backorders {' '.join(args)} failed: {result.stdout}\n{result.stderr}")
        return result

    # --- product processes ----------------------------------------------------------------

    def argv_for(self, name: str, label: str) -> list[str]:
        argv = expand(procfile()[name], self.env)
        argv[0] = str(BIN / argv[0]) if (BIN / argv[0]).exists() else argv[0]
        if "-n" in argv:  # unique node names: a restarted worker is a new node
            argv[argv.index("-n") + 1] = f"{label}@%h"
        if "--schedule" in argv:
            argv[argv.index("--schedule") + 1] = str(self.workdir / f"{label}-schedule")
        return argv

    def start(self, name: str, label: str | None = None, env: dict[str, str] | None = None,
              prefix: tuple[str, ...] = ()) -> Proc:
        """Start a Procfile process (``label`` names a second copy, e.g. ``beat-2``; ``env`` adds
        variables for this process alone and ``prefix`` runs it under a wrapper, e.g. ``faketime``)."""
        self.generation += 1
        label = label or name
        tag = f"{label}-{self.generation}"
        log = self.workdir / "logs" / f"{tag}.log"
        argv = [*prefix, *self.argv_for(name, tag)]
        with open(log, "wb") as out:
            popen = subprocess.Popen(argv, env={**self.env, **(env or {})}, cwd=REPO_ROOT, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        proc = self.procs[label] = Proc(label, argv, popen, log)
        return proc

    def start_all(self, names: tuple[str, ...] = PRODUCT_PROCESSES) -> None:
        for name in names:
            self.start(name)
        self.wait_ready(names)

    def wait_ready(self, labels: tuple[str, ...], timeout_s: float = 60) -> None:
        for label in labels:
            proc = self.procs[label]
            if label.startswith("web"):
                wait_http(f"{self.web_url}/readyz", timeout_s, proc.popen, proc.log)
            elif "beat" not in label:
                wait_log(proc, " ready.", timeout_s)

    def kill(self, label: str, sig: int = signal.SIGKILL) -> None:
        """Signal the process and its children (its whole process group), and reap it."""
        proc = self.procs[label]
        if proc.popen.poll() is None:
            with suppress(ProcessLookupError):  # it exited between the poll and the signal
                os.killpg(proc.popen.pid, sig)
        try:
            proc.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(timeout=30)

    def restart(self, label: str, name: str | None = None) -> Proc:
        self.kill(label)
        proc = self.start(name or label, label)
        self.wait_ready((label,))
        return proc

    def stop_all(self, sig: int = signal.SIGTERM) -> None:
        for label in list(self.procs):
            self.kill(label, sig)

    def dead(self) -> list[str]:
        """Product processes that exited on their own (a crash the scenario did not cause)."""
        return [label for label, proc in self.procs.items() if proc.popen.poll() is not None]

    # --- reading the database -------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.pg.url, pool_size=2, max_overflow=2)
        return self._engine

    def session(self) -> Session:
        return sessionmaker(bind=self.engine, expire_on_commit=False)()

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params).all())

    def redis_queued(self) -> int:
        """Messages waiting in the broker's queues (and reserved, unacknowledged ones)."""
        import redis

        client = redis.Redis.from_url(self.redis.url)
        try:
            total = sum(int(client.llen(key)) for key in client.scan_iter("chaos:*") if client.type(key) == b"list")
            return total + int(client.hlen("chaos:unacked") or 0)
        finally:
            client.close()

    @property
    def broker_url(self) -> str:
        return self.rabbitmq.url if self.rabbitmq is not None else self.redis.url

    @property
    def broker_name(self) -> str:
        return "RabbitMQ" if self.rabbitmq is not None else "Redis"

    def broker_queued(self) -> int:
        """Messages waiting in the broker, whichever it is (on RabbitMQ: ready, in the task queues)."""
        if self.rabbitmq is None:
            return self.redis_queued()
        from workers.broker_names import QUEUES
        return self.rabbitmq.queued([f"{self.env['CELERY_KEY_PREFIX']}{name}" for name in QUEUES])

    def wait_first_poll(self, timeout_s: float = 90) -> None:
        """The shop's first full poll has stored its listings (webhooks key on them)."""
        wait_until(lambda: self.scalar("SELECT count(*) FROM audit_log WHERE action = 'poll'") or 0, timeout_s,
                   "the first poll", self)

    def listings(self) -> dict[str, tuple[int, str]]:
        """SKU code → (sku id, Shopify inventory item id) for the shop."""
        return {code: (sku_id, item) for code, sku_id, item in self.rows(
            "SELECT s.code, s.id, l.inventory_item_id FROM channel_listings l JOIN skus s ON s.id = l.sku_id "
            "JOIN stores st ON st.id = l.store_id WHERE st.key = :shop AND l.inventory_item_id IS NOT NULL",
            shop=SHOP)}

    def logs_tail(self, lines: int = 30) -> str:
        out = []
        for path in sorted((self.workdir / "logs").glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(out)

    # --- tear-down ------------------------------------------------------------------------

    def close(self) -> None:
        """Everything goes: the data is thrown away, so nothing needs a clean shutdown."""
        self.stop_all(signal.SIGKILL)
        if self.sandbox_proc is not None and self.sandbox_proc.poll() is None:
            self.sandbox_proc.terminate()
            self.sandbox_proc.wait(timeout=15)
        if self._engine is not None:
            self._engine.dispose()
        self.redis.stop()
        if self.rabbitmq is not None:
            self.rabbitmq.close()
        if (self.pg.root / "pg" / "postmaster.pid").exists():
            self.pg.stop("immediate")


@contextmanager
def chaos_stack(workdir: Path, edit: Callable[[str], str] | None = None,
                extra_env: dict[str, str] | None = None,
                processes: tuple[str, ...] = PRODUCT_PROCESSES,
                platforms: frozenset[str] = frozenset({"shopify"}), broker: str = "redis") -> Iterator[ChaosStack]:
    """A running stack for one scenario; stopped and its servers removed afterwards.

    ``broker="rabbitmq"`` puts the broker on a private RabbitMQ node; Redis stays for the rest."""
    stack = ChaosStack(workdir, PrivatePostgres(workdir / "pg-root"), PrivateRedis(workdir / "redis"),
                       rabbitmq=PrivateRabbitMQ(workdir / "rabbitmq") if broker == "rabbitmq" else None)
    try:
        stack.start_servers()
        stack.start_sandbox()
        stack.configure(edit, extra_env, platforms)
        if processes:
            stack.start_all(processes)
        yield stack
    finally:
        stack.close()


#: For scenarios run with RabbitMQ as the broker: skipped (with the reason) where it is not installed.
needs_rabbitmq = pytest.mark.skipif(rabbitmq_server() is None, reason="rabbitmq-server is not installed")


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None,
              log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{url}: process exited ({proc.returncode})"
                                 + (f"\n{log.read_text()[-3000:]}" if log else ""))
        with suppress(requests.RequestException):  # not listening yet
            if requests.get(url, timeout=1).ok:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout_s}s")


def wait_log(proc: Proc, marker: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if marker in proc.log.read_text(errors="replace"):
            return
        if proc.popen.poll() is not None:
            raise AssertionError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.log.read_text()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"{proc.name} not ready within {timeout_s}s:\n{proc.log.read_text()[-3000:]}")


def wait_until(probe: Callable[[], Any], timeout_s: float, what: str, stack: ChaosStack | None = None,
               interval_s: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # noqa: BLE001  (the database may be down on purpose: keep waiting)
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval_s)
    tail = f"\n{stack.logs_tail()}" if stack else ""
    raise AssertionError(f"{what}: not reached within {timeout_s}s (last {last!r}){tail}")


def settled(stack: ChaosStack) -> bool:
    """Nothing left to do: no pending webhook, no backorder without its notice, no due message or timer."""
    return not stack.scalar(
        "SELECT (SELECT count(*) FROM inbox WHERE state = 'pending')"
        " + (SELECT count(*) FROM backorders WHERE state = 'open')"
        " + (SELECT count(*) FROM outbox WHERE state = 'pending' AND (not_before IS NULL OR not_before < now()))"
        " + (SELECT count(*) FROM timers WHERE state = 'pending' AND due_at < now())")


def wait_settled(stack: ChaosStack, timeout_s: float, since: float | None = None) -> float:
    """Seconds from ``since`` (a ``time.monotonic()`` reading, default now) until ``settled``."""
    since = time.monotonic() if since is None else since
    wait_until(lambda: settled(stack), timeout_s, "recovery (nothing pending)", stack, interval_s=0.5)
    return time.monotonic() - since


@contextmanager
def private_database(workdir: Path, config_path: Path = REPO_ROOT / "examples" / "futon-store.toml"
                     ) -> Iterator[PrivatePostgres]:
    """Only the servers, with this process's domain code pointed at them (for races run in threads).

    The settings and engine caches are reset on the way in and out, so tests that run after
    this one in the same session find their own database again.
    """
    from alembic import command

    from domain.core.db import reset_engine, session_scope
    from domain.core.env_settings import get_settings
    from domain.stock.catalog import apply_config
    from workers.schema import alembic_config

    pg, broker = PrivatePostgres(workdir / "pg-root"), PrivateRedis(workdir / "redis")
    names = ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "SECRET_KEY")
    saved = {name: os.environ.get(name) for name in names}
    try:
        pg.start()
        broker.start()
        os.environ.update({"DATABASE_URL": pg.url, "REDIS_URL": broker.url, "BROKER_URL": broker.url,
                           "SECRET_KEY": saved["SECRET_KEY"] or secrets.token_urlsafe(40)})
        get_settings.cache_clear()
        reset_engine()
        command.upgrade(alembic_config(pg.url), "head")
        with session_scope() as session:
            apply_config(session, load_config(config_path))
        yield pg
    finally:
        reset_engine()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
        broker.stop()
        if (pg.root / "pg" / "postmaster.pid").exists():
            pg.stop("immediate")
