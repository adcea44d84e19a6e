"""What a prefork Celery worker counts reaches the web app's ``/metrics``.

The worker is started as operators and the demo start it — the ``celery`` command,
``celery -A workers.app worker -c 2`` — in a process of its own. That matters: the command loads
its plugins (Flower's among them, which imports ``prometheus_client``) before it imports the
app. With ``PROMETHEUS_MULTIPROC_DIR`` unset — the default, figures under
``$BACKORDERS_DATA_DIR/metrics`` — ``prometheus_client`` then chose memory before the app set the
variable, the children counted in memory, and ``/metrics`` never showed a poll, a push or a send.

Real parts only: PostgreSQL, Redis, the sandbox's Shopify over HTTP, the product's web app.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Store
from tests.conftest import REPO_ROOT, wait_for
from tests.stack import Stack, running_stack

USER, PASSWORD = "ops", "metrics-secret-2"
STORE = "shopify-main"


@pytest.fixture
def stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Iterator[Stack]:
    monkeypatch.setenv("FLOWER_BASIC_AUTH", f"{USER}:{PASSWORD}")
    with running_stack(db_session, monkeypatch, tmp_path, {"shopify"}) as running:
        yield running


@pytest.fixture
def prefork_worker(stack: Stack, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[subprocess.Popen[bytes]]:
    """``celery -A workers.app worker -c 2`` on this session's broker and database, configured as
    by default (figures under ``$BACKORDERS_DATA_DIR/metrics``); the web app of this process sums
    that root."""
    from celeryconfig import QUEUES
    from workers import metrics_dir

    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in (metrics_dir.ENV, metrics_dir.ROOT_ENV)}
    env.update({"BACKORDERS_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)})
    monkeypatch.setenv(metrics_dir.ROOT_ENV, str(data_dir / "metrics"))
    celery = str(Path(sys.executable).with_name("celery"))
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen([celery, "-A", "workers.app", "worker", "-c", "2", "-Q", ",".join(QUEUES),
                                   "-n", f"metrics-{os.getpid()}@%h", "-l", "WARNING"],
                                  cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        yield worker
    finally:
        with suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def _polls_done(stack: Stack) -> float:
    from tests.integration.workers.test_observability import _sample

    answer = requests.get(f"{stack.web}/metrics", auth=(USER, PASSWORD), timeout=10)
    assert answer.status_code == 200
    return _sample(answer.text, "backorders_polls_total", store=STORE, outcome="done")


def test_a_poll_run_in_a_prefork_child_is_counted_at_metrics(
        stack: Stack, prefork_worker: subprocess.Popen[bytes], db_session: Session, tmp_path: Path) -> None:
    from tasks.polling import poll_store

    before = _polls_done(stack)
    store_id = db_session.scalar(select(Store.id).where(Store.key == STORE))
    poll_store.delay(store_id, True)

    def polled() -> bool:
        assert prefork_worker.poll() is None, (tmp_path / "worker.log").read_text()
        db_session.expire_all()
        return db_session.scalar(select(Store.last_full_sync_at).where(Store.id == store_id)) is not None

    wait_for(polled, timeout_s=120, interval_s=0.5)
    # the count is written as the task ends, just after the poll's row
    assert wait_for(lambda: _polls_done(stack) == before + 1, timeout_s=20, interval_s=0.25)
