"""Prometheus' multiprocess mode: every process of a tree adds up, dead trees are cleaned at start.

Each scenario runs in fresh interpreters (``prometheus_client`` picks its value store when first
imported, so the test process's own mode says nothing): a "worker" whose master and a forked
child both count, as a prefork pool does, then ``/metrics``'s merge read from another process.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

WORKER = """
import os, sys
from workers import metrics_dir
tree = metrics_dir.configure("worker")
from flows import metrics
metrics.sent("slack", "sent")
child = os.fork()
if child == 0:
    metrics.sent("slack", "sent")
    metrics.pushed("shop", "ok", 3)
    metrics_dir.mark_dead(os.getpid())
    os._exit(0)
os.waitpid(child, 0)
print(tree)
"""

SCRAPE = """
import os
from workers import metrics_dir
metrics_dir.configure("web")
from workers.metrics_endpoint import AllTrees
for family in AllTrees().collect():
    for sample in family.samples:
        if sample.name in ("backorders_sends_total", "backorders_channel_pushes_total"):
            print(sample.name, sorted(sample.labels.items()), sample.value)
"""


def _run(code: str, root: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "BACKORDERS_METRICS"))}
    env.update(PROMETHEUS_MULTIPROC_DIR=str(root), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_master_and_its_forked_child_add_up_in_another_process(tmp_path: Path) -> None:
    tree = Path(_run(WORKER, tmp_path).strip())
    assert tree.parent == tmp_path and tree.name.startswith(f"worker-{socket.gethostname()}-")
    assert len(list(tree.glob("counter_*.db"))) == 2, "one file per process"
    # the worker's first process has exited: a new tree starting removes its directory
    scraped = _run(SCRAPE, tmp_path)
    assert scraped == "", "a dead tree's figures are gone once a new tree starts"
    assert not tree.exists()


def test_live_trees_are_summed_and_kept(tmp_path: Path) -> None:
    live = tmp_path / f"worker-{socket.gethostname()}-{os.getpid()}"  # this test's process stands in, alive
    live.mkdir()
    subprocess_tree = Path(_run(WORKER, tmp_path).strip())
    for db in subprocess_tree.glob("*.db"):
        db.rename(live / db.name)
    scraped = _run(SCRAPE, tmp_path)
    assert "backorders_sends_total [('outcome', 'sent'), ('provider', 'slack')] 2.0" in scraped
    assert "backorders_channel_pushes_total [('outcome', 'ok'), ('store', 'shop')] 3.0" in scraped
    assert live.exists()


def test_memory_mode_when_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers import metrics_dir

    monkeypatch.setenv("BACKORDERS_METRICS", "off")
    assert metrics_dir.root_dir() is None
