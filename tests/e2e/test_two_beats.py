"""Two beat processes for a while (default 2 minutes): a store's polls never overlap.

Real processes: one Celery worker and two `celery beat` against the test database and broker,
polling sandbox stores every second. Each finished poll leaves an audit row with its start and
end; the polls of one store must form a sequence with no overlap.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.business_config import load_config
from domain.core.models import AuditLog
from domain.stock.catalog import apply_config
from demo import scenario
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT

RUN_SECONDS = float(os.environ.get("E2E_BEAT_SECONDS", "120"))


def _spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.mark.e2e
def test_two_beats_never_overlap_a_stores_polls(services: dict[str, str], db_session: Session,
                                                 tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    with SandboxServer() as sandbox:
        text = scenario.sandbox_config_text(REPO_ROOT / "examples" / "futon-store.toml", sandbox.base_url,
                                            {"shopify", "woocommerce"})
        config_path = tmp_path / "store.toml"
        config_path.write_text(re.sub(r'(?m)^(poll_interval|full_sync_interval) = "[^"]*"',
                                      lambda m: f'{m.group(1)} = "{"1s" if m.group(1) == "poll_interval" else "5s"}"',
                                      text))
        config = load_config(config_path)
        apply_config(db_session, config)
        db_session.commit()
        env = {**os.environ, **scenario.sandbox_env(sandbox.base_url), "BACKORDERS_CONFIG": str(config_path),
               "SWEEP_INTERVAL_S": "1"}
        scenario.prepare(sandbox.base_url, config, None, env)
        procs = [
            _spawn([str(bin_dir / "celery"), "-A", "workers.app", "worker", "-Q", "sync,detect,default,timers,notify",
                    "-c", "4", "-l", "WARNING", "-n", "e2e-worker@%h"], env, tmp_path / "worker.log"),
            *[_spawn([str(bin_dir / "celery"), "-A", "workers.app", "beat", "-l", "WARNING", "--schedule",
                      str(tmp_path / f"beat-{n}")], env, tmp_path / f"beat-{n}.log") for n in (1, 2)],
        ]
        try:
            deadline = time.monotonic() + RUN_SECONDS
            while time.monotonic() < deadline:
                for proc in procs:
                    assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
                time.sleep(1)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()

    polls: dict[str, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for row in db_session.scalars(select(AuditLog).where(AuditLog.action == "poll")):
        polls[row.subject_id].append((datetime.fromisoformat(row.data["started_at"]),
                                      datetime.fromisoformat(row.data["finished_at"]), row.data["owner"]))
    assert len(polls) == len(config.stores), f"every store was polled: {dict(polls)}"
    for store, runs in polls.items():
        runs.sort()
        assert len(runs) >= max(3, RUN_SECONDS / 10), f"store {store} polled only {len(runs)} times"
        for (_, end, owner), (start, _, next_owner) in zip(runs, runs[1:]):
            assert start >= end, f"store {store}: poll {next_owner} started before {owner} finished"
