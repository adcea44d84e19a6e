"""The demo's processes: one process group, stopped as one, whatever ends the run.

Every process the demo starts (sandbox, web, worker, notify, beat, Flower — and whatever they
fork, such as Celery's pool) joins one process group of its own, led by the first one started.
Ctrl-C in the terminal reaches only the demo (the group is not the terminal's foreground group),
and the demo ends the group with one ``killpg``: SIGTERM, then SIGKILL for whatever is left after
the grace period. The group id is written to ``processes.json`` in the log directory, so anyone —
a test, or an operator after a crash of the demo itself — can find what it started
(https://man7.org/linux/man-pages/man2/setpgid.2.html).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
STOP_GRACE_S = 20.0
PATIENCE = 3.0


class DemoFailed(RuntimeError):
    """A step did not happen in time; the message says which, and the logs say why."""


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group ``pgid``, read from ``/proc``.

    Zombies are left out: an orphan whose parent is gone waits for PID 1 to reap it, and holds
    nothing (no port, no file, no CPU) meanwhile."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so split after the last ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def wait_for(what: str, predicate: Callable[[], Any], timeout_s: float = 60.0,
             check: Callable[[], None] | None = None) -> Any:
    """Poll ``predicate`` until it returns something truthy; ``check`` runs first on every round
    (a dead process fails the run at once rather than at the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check is not None:
            check()
        try:
            value = predicate()
        except (requests.RequestException, ValueError, KeyError, IndexError):
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise DemoFailed(f"timed out after {timeout_s:.0f}s waiting for: {what}")


@dataclass
class Processes:
    """The demo's processes by name, all in the process group ``pgid`` (the first one's pid)."""

    log_dir: Path
    env: dict[str, str]
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    pgid: int | None = None

    @property
    def record(self) -> Path:
        return self.log_dir / "processes.json"

    def start(self, name: str, argv: list[str]) -> None:
        with open(self.log_dir / f"{name}.log", "wb") as log:
            group = 0 if self.pgid is None else self.pgid  # 0: a new group, led by this process
            proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    process_group=group)
        if self.pgid is None:
            self.pgid = proc.pid
        self.running[name] = proc
        # Written whole then renamed: a reader never sees half a record.
        partial = self.record.with_suffix(".json.partial")
        partial.write_text(json.dumps({"pgid": self.pgid, "demo_pid": os.getpid(),
                                       "pids": {n: p.pid for n, p in self.running.items()}}))
        os.replace(partial, self.record)

    def check_alive(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None:
                raise DemoFailed(f"process {name} exited with {proc.returncode}; see {self.log_dir / name}.log")

    def wait(self, what: str, predicate: Callable[[], Any], timeout_s: float = 60.0) -> Any:
        """Wait for one step of the story. ``timeout_s`` is what the step needs on a quiet machine
        with room to spare; it is stretched by ``PATIENCE``, so a busy machine slows the story down
        without failing it (a timeout only decides how soon a real failure is reported)."""
        return wait_for(what, predicate, timeout_s * PATIENCE, self.check_alive)

    def stop(self) -> list[int]:
        """End the whole group: SIGTERM, then SIGKILL after the grace period. Returns the pids
        still alive afterwards (none, unless a process changed its own group)."""
        if self.pgid is None:
            return []
        with suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.running.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        while group_members(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.1)  # Celery's pool children leave after their parent
        if group_members(self.pgid):
            with suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
            for proc in self.running.values():
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
            end = time.monotonic() + 5
            while group_members(self.pgid) and time.monotonic() < end:
                time.sleep(0.1)
        return group_members(self.pgid)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, turned into an exception so the demo's clean-up runs as for Ctrl-C."""


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`Terminated` (their default ends the
    interpreter without running ``finally`` blocks, which would leave the group running)."""
    def _raise(signum: int, _frame: object) -> None:
        raise Terminated(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, _raise) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def signals_ignored() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP ignored while inside: the clean-up runs to its end."""
    signums = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
