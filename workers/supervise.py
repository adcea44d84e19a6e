"""``backorders supervise -- COMMAND…``: run a process and start it again when it exits on its own.

Under ``honcho start`` one process that exits stops every process (``make up`` now runs
``backorders up``, which restarts each process alone: ``workers/process_set.py``). Celery's worker
and beat survive a lost Redis and its error replies (``celeryconfig``: retries for ever,
``broker_channel_error_retry``), but a worker can still end itself on a failure Celery does not
classify as recoverable — kombu's ``AttributeError: 'NoneType' object has no attribute
'hostname'`` when a channel of an already closed connection reopens its pool is one (the same
trace: https://github.com/celery/kombu/issues/582). The Procfile therefore runs worker, notify
and beat under this supervisor: nothing is lost by a restart (messages are acknowledged late, work is rows found again by the
sweepers), so a restart with backoff is the safe answer to any exit we did not ask for.

Rules:

* SIGTERM / SIGINT / SIGHUP / SIGQUIT are passed to the child and end supervision: the
  supervisor exits with the child's status once it has stopped (honcho's stop works as before).
* Exit status 78 (``EX_CONFIG``) means the process refused to start (``workers.startup_checks``):
  it is not restarted; the supervisor exits with it, so a misconfiguration stops the set.
* Any other exit is restarted after a pause: 1 s, doubling to ``--backoff-max`` (30 s), back to
  1 s once the child has run ``--stable-after`` seconds (60). ``--max-quick-exits`` exits in a
  row, each sooner than that, end supervision (default 0: never; a broker down for an hour is
  not a reason to give up).
"""
from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("workers.supervise")

EX_CONFIG = 78
"""``sysexits.h``: configuration error. A process that refuses to start exits with it."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def resolve(argv: Sequence[str]) -> list[str]:
    """A bare program name found beside this interpreter (the same virtualenv) wins over ``PATH``."""
    first = argv[0]
    sibling = Path(sys.executable).parent / first
    if "/" not in first and sibling.exists():
        return [str(sibling), *argv[1:]]
    return list(argv)


@dataclass
class Backoff:
    """Pause before the next start: doubling from ``first_s`` to ``max_s``, reset after a stable run."""

    first_s: float = 1.0
    max_s: float = 30.0
    stable_after_s: float = 60.0
    quick_exits: int = 0
    _next_s: float = field(default=0.0, init=False)

    def after_exit(self, ran_s: float) -> float:
        if ran_s >= self.stable_after_s:
            self._next_s, self.quick_exits = self.first_s, 0
        else:
            self._next_s = self.first_s if self._next_s == 0 else min(self._next_s * 2, self.max_s)
            self.quick_exits += 1
        return self._next_s


@dataclass
class Supervisor:
    argv: Sequence[str]
    backoff: Backoff = field(default_factory=Backoff)
    max_quick_exits: int = 0
    say: Callable[[str], None] = lambda line: print(f"supervise: {line}", file=sys.stderr, flush=True)
    restarts: int = 0
    _child: subprocess.Popen[bytes] | None = None
    _stopping: int | None = None

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stopping = signum
        if self._child is not None and self._child.poll() is None:
            self._child.send_signal(signum)

    def run(self) -> int:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        while True:
            started = time.monotonic()
            self._child = subprocess.Popen(resolve(self.argv))
            code = self._child.wait()
            ran_s = time.monotonic() - started
            if self._stopping is not None:
                return code
            if code == EX_CONFIG:
                self.say(f"{self.argv[0]} refused to start (exit {code}); not restarting")
                return code
            pause = self.backoff.after_exit(ran_s)
            if self.max_quick_exits and self.backoff.quick_exits >= self.max_quick_exits:
                self.say(f"{self.argv[0]} exited {self.backoff.quick_exits} times in a row within "
                         f"{self.backoff.stable_after_s:.0f}s of starting; giving up (exit {code})")
                return code
            self.restarts += 1
            self.say(f"{self.argv[0]} exited with {code} after {ran_s:.1f}s; restart {self.restarts} "
                     f"in {pause:.0f}s")
            deadline = time.monotonic() + pause
            while time.monotonic() < deadline:
                if self._stopping is not None:
                    return code
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
