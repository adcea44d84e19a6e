"""``backorders up`` on the real Procfile: kill -9 the worker and the web process keeps answering,
the worker comes back and registers its heartbeat again, and a stop leaves nothing running."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from demo.processes import group_members
from domain.core.models import WorkerHeartbeat
from sandbox.server import free_port
from tests.conftest import REPO_ROOT, wait_for
from tests.unit.workers.test_process_set import Up, alive


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


@pytest.mark.e2e
def test_kill_9_of_the_worker_leaves_web_running_and_the_worker_returns(
        services: dict[str, str], db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    for key, value in {"PORT": str(port), "WEB_CONCURRENCY": "1", "WORKER_CONCURRENCY": "1",
                       "BACKORDERS_DATA_DIR": str(tmp_path / "data"),
                       "BACKORDERS_CONFIG": str(REPO_ROOT / "examples" / "futon-store.toml")}.items():
        monkeypatch.setenv(key, value)
    lines = [line for line in (REPO_ROOT / "Procfile").read_text().splitlines() if line.startswith(("web:", "worker:"))]
    up = Up(tmp_path, "\n".join(lines) + "\n")
    try:
        web, worker = up.pid("web"), up.pid("worker")
        url = f"http://127.0.0.1:{port}/readyz"

        def heartbeat_pids() -> set[int]:
            db_session.expire_all()
            return set(db_session.scalars(select(WorkerHeartbeat.pid).where(WorkerHeartbeat.name.like("worker@%"))))

        wait_for(lambda: _ready(url), 60)
        first = wait_for(heartbeat_pids, 60)
        mark = len(up.lines)
        os.killpg(worker, signal.SIGKILL)  # the worker, its supervisor and its pool at once
        up.wait_for(r"worker exited with -9 .*still running: web", mark)
        assert _ready(url) and alive(web), "web keeps running"
        again = up.pid("worker", mark)
        wait_for(lambda: heartbeat_pids() - first, 90)  # type: ignore[operator]
        assert alive(web) and up.proc.poll() is None
    finally:
        up.proc.send_signal(signal.SIGTERM)
        code = up.proc.wait(timeout=60)
    assert code == 0, "\n".join(up.lines)
    assert group_members(web) == [] and group_members(again) == []
