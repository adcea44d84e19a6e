"""``backorders supervise``: restarts what exits on its own, passes stop signals on, respects refusals."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from workers.supervise import EX_CONFIG, Backoff, Supervisor


def test_backoff_doubles_to_its_ceiling_and_resets_after_a_stable_run() -> None:
    backoff = Backoff(first_s=1, max_s=5, stable_after_s=60)
    assert [backoff.after_exit(0.5) for _ in range(5)] == [1, 2, 4, 5, 5]
    assert backoff.quick_exits == 5
    assert backoff.after_exit(61) == 1 and backoff.quick_exits == 0


def child(tmp_path: Path, code: int) -> list[str]:
    counter = tmp_path / "starts"
    return [sys.executable, "-c", f"import sys; open({str(counter)!r}, 'a').write('x'); sys.exit({code})"]


def test_a_child_that_keeps_exiting_is_restarted_until_the_quick_exit_limit(tmp_path: Path) -> None:
    lines: list[str] = []
    supervisor = Supervisor(child(tmp_path, 3), Backoff(first_s=0.01, max_s=0.02), max_quick_exits=4,
                            say=lines.append)
    assert supervisor.run() == 3
    assert (tmp_path / "starts").read_text() == "xxxx"
    assert supervisor.restarts == 3 and "giving up" in lines[-1]


def test_a_refusal_to_start_is_not_restarted(tmp_path: Path) -> None:
    lines: list[str] = []
    assert Supervisor(child(tmp_path, EX_CONFIG), Backoff(first_s=0.01), say=lines.append).run() == EX_CONFIG
    assert (tmp_path / "starts").read_text() == "x" and "refused to start" in lines[0]


def test_sigterm_reaches_the_child_and_ends_supervision(tmp_path: Path) -> None:
    marker = tmp_path / "child-got-term"
    script = ("import signal, sys, time\n"
              f"def stop(*_): open({str(marker)!r}, 'w').write('term'); sys.exit(0)\n"
              "signal.signal(signal.SIGTERM, stop)\nprint('ready', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-m", "workers.cli", "supervise", "--", sys.executable, "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 10
        assert marker.read_text() == "term"
    finally:
        if proc.poll() is None:
            proc.kill()
