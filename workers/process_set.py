"""``backorders up``: the Procfile's processes on one machine, each restarted on its own.

honcho (and foreman) stop every process when one exits, so one crashed worker took the web
process, notify, beat and Flower down with it. Here a process that exits on its own is started
again after a pause (1 s, doubling to 30 s, back to 1 s after a minute's run: the same
:class:`workers.supervise.Backoff` as ``backorders supervise``) while the others keep running.

Rules:

* Each process runs as ``sh -c 'exec COMMAND'`` (the Procfile's ``${VAR:-default}`` are shell
  syntax) in a process group of its own: when it dies, whatever it had forked (a Celery pool
  child, a supervised child) is killed with its group before the new one starts, so no orphan
  keeps consuming beside its replacement.
* Exit status 78 (``EX_CONFIG``: a start-up check refused the configuration) is not restarted:
  the set stops and ``up`` exits 78, as a misconfiguration will not fix itself.
* SIGINT, SIGTERM or SIGHUP stop the set: SIGTERM to every group, SIGKILL to what is left after
  ``grace_s``. Ctrl-C in the terminal reaches only ``up`` (the groups are not the terminal's).
* Every process sees the same environment, so ``PORT`` is the web process's port everywhere
  (honcho gives each process type its own ``PORT``, which made customer links point at 5100).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from workers.procfile import ProcessType
from workers.supervise import EX_CONFIG, STOP_SIGNALS, Backoff


@dataclass
class Member:
    """One process type: its current process, and when it is due to start again after an exit."""

    kind: ProcessType
    backoff: Backoff
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    restarts: int = 0
    pump: threading.Thread | None = None


@dataclass
class ProcessSet:
    kinds: Sequence[ProcessType]
    env: Mapping[str, str]
    cwd: Path
    grace_s: float = 10.0
    backoff: Callable[[], Backoff] = Backoff
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    exit_code: int = 0
    _stopping: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    members: dict[str, Member] = field(default_factory=dict)

    def say(self, name: str, line: str) -> None:
        width = max(len(k.name) for k in self.kinds) if self.kinds else 0
        with self._lock:
            self.out.write(f"{datetime.now():%H:%M:%S} {name:<{width}} | {line}\n")
            self.out.flush()

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode(errors="replace").rstrip("\n"))
        stream.close()

    def start(self, member: Member) -> None:
        proc = subprocess.Popen(["/bin/sh", "-c", f"exec {member.kind.command}"], cwd=self.cwd, env=dict(self.env),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                process_group=0)
        member.proc, member.started_at, member.restart_at = proc, time.monotonic(), None
        assert proc.stdout is not None
        member.pump = threading.Thread(target=self._pump, args=(member.kind.name, proc.stdout), daemon=True)
        member.pump.start()
        self.say("up", f"started {member.kind.name} (pid {proc.pid})")

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stopping = signum

    def _exited(self, member: Member, code: int) -> None:
        assert member.proc is not None
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(member.proc.pid, signal.SIGKILL)  # whatever it forked goes with it
        name, ran_s = member.kind.name, time.monotonic() - member.started_at
        if code == EX_CONFIG:
            self.say("up", f"{name} refused to start (exit {code}): stopping every process")
            self.exit_code, self._stopping = code, signal.SIGTERM
            return
        pause = member.backoff.after_exit(ran_s)
        member.restarts += 1
        member.restart_at = time.monotonic() + pause
        others = [m.kind.name for m in self.members.values() if m is not member and m.proc and m.proc.poll() is None]
        self.say("up", f"{name} exited with {code} after {ran_s:.1f}s; restart {member.restarts} in {pause:.0f}s "
                       f"(still running: {', '.join(others) or 'nothing'})")
        member.proc = None

    def run(self, poll_s: float = 0.2) -> int:
        """Start every process and keep each one running until a stop signal; the exit status."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        try:
            for kind in self.kinds:
                self.members[kind.name] = member = Member(kind, self.backoff())
                self.start(member)
            while self._stopping is None:
                for member in self.members.values():
                    if member.proc is not None and (code := member.proc.poll()) is not None:
                        self._exited(member, code)
                    elif member.proc is None and member.restart_at is not None \
                            and time.monotonic() >= member.restart_at and self._stopping is None:
                        self.start(member)
                time.sleep(poll_s)
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self.exit_code

    def stop(self) -> None:
        """SIGTERM to every live group, SIGKILL to what is left after the grace period."""
        live = [m for m in self.members.values() if m.proc is not None and m.proc.poll() is None]
        for member in live:
            assert member.proc is not None
            self.say("up", f"stopping {member.kind.name} (pid {member.proc.pid})")
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(member.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for member in self.members.values():
            if member.proc is None:
                continue
            try:
                member.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("up", f"{member.kind.name} still running after {self.grace_s:.0f}s: SIGKILL")
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(member.proc.pid, signal.SIGKILL)  # the group's stragglers too
            member.proc.wait()
        for member in self.members.values():
            if member.pump is not None:
                member.pump.join(timeout=2)


def environment(base: Mapping[str, str], cwd: Path, python: str = sys.executable) -> dict[str, str]:
    """The processes' environment: ``base``, then ``.env`` in ``cwd`` for what ``base`` lacks
    (as honcho reads it), with this interpreter's ``bin`` first on ``PATH`` so ``backorders``,
    ``celery`` and ``uvicorn`` are the ones installed beside it."""
    from dotenv import dotenv_values

    env = dict(base)
    dotenv = cwd / ".env"
    if dotenv.is_file():
        for key, value in dotenv_values(dotenv).items():
            if value is not None:
                env.setdefault(key, value)
    bin_dir = str(Path(python).parent)
    env["PATH"] = os.pathsep.join([bin_dir, *(p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir)])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
