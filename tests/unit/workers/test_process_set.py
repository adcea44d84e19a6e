"""``backorders up``: a process that dies is restarted alone, the others keep running; whatever it
forked dies with it; exit 78 stops the set; a stop signal leaves no process behind."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from demo.processes import group_members
from workers import procfile
from workers.process_set import environment

REPO_ROOT = Path(__file__).resolve().parents[3]
SLEEPER = f"{sys.executable} -c 'import time; time.sleep(600)'"


class Up:
    """``backorders up`` on a Procfile, its output collected line by line."""

    def __init__(self, tmp_path: Path, text: str) -> None:
        (tmp_path / "Procfile").write_text(text)
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "workers.cli", "up", "--procfile", str(tmp_path / "Procfile"),
                                      "--grace", "5"], cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, after: int = 0, timeout_s: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if match := re.search(pattern, line):
                    return match
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))

    def pid(self, name: str, after: int = 0) -> int:
        return int(self.wait_for(rf"started {name} \(pid (\d+)\)", after).group(1))


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_a_killed_process_is_restarted_alone_and_its_children_go_with_it(tmp_path: Path) -> None:
    # "pool" forks a child that would outlive it (as a Celery pool child can), then waits.
    forks = tmp_path / "forked"
    up = Up(tmp_path, f"pool: sh -c 'sleep 600 & echo $! > {forks}; wait'\nweb: {SLEEPER}\n")
    try:
        pool, web = up.pid("pool"), up.pid("web")
        deadline = time.monotonic() + 10
        while not forks.exists() or not forks.read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        orphan = int(forks.read_text())
        mark = len(up.lines)
        os.kill(pool, signal.SIGKILL)
        up.wait_for(r"pool exited with -9 after [\d.]+s; restart 1 in 1s \(still running: web\)", mark)
        again = up.pid("pool", mark)
        assert again != pool
        assert alive(web) and up.proc.poll() is None, "the others keep running"
        assert not alive(orphan), "what the dead process forked is killed with its group"
    finally:
        up.proc.send_signal(signal.SIGTERM)
        assert up.proc.wait(timeout=30) == 0
    assert not alive(web) and not alive(again)
    assert group_members(again) == [] and group_members(web) == []


def test_a_refusal_to_start_stops_the_set_with_its_status(tmp_path: Path) -> None:
    up = Up(tmp_path, f"web: {SLEEPER}\nworker: {sys.executable} -c 'raise SystemExit(78)'\n")
    web = up.pid("web")
    assert up.proc.wait(timeout=30) == 78
    up.wait_for(r"worker refused to start \(exit 78\): stopping every process")
    assert not alive(web)


def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    up = Up(tmp_path, f"a: {SLEEPER}\nb: {SLEEPER}\n")
    pids = [up.pid("a"), up.pid("b")]
    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(timeout=30) == 0
    assert not any(alive(pid) for pid in pids)


def test_procfile_lines_are_parsed_and_bad_ones_named() -> None:
    kinds = procfile.parse("# comment\n\nweb: uvicorn app --port ${PORT:-8000}\nworker:celery worker\n")
    assert [(k.name, k.command) for k in kinds] == [("web", "uvicorn app --port ${PORT:-8000}"),
                                                     ("worker", "celery worker")]
    with pytest.raises(ValueError, match="line 2"):
        procfile.parse("web: x\nnot a process line\n")
    with pytest.raises(ValueError, match="'web' is defined twice"):
        procfile.parse("web: x\nweb: y\n")


def test_every_process_sees_the_same_port_and_this_virtualenv_first(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=9100\nSECRET_KEY=from-dotenv\n")
    env = environment({"PATH": "/usr/bin", "SECRET_KEY": "from-shell"}, tmp_path, "/venv/bin/python")
    assert env["PORT"] == "9100" and env["SECRET_KEY"] == "from-shell"
    assert env["PATH"] == "/venv/bin:/usr/bin"
