"""Where every process of a host writes its Prometheus figures, so one ``/metrics`` adds them up.

The web app runs as several uvicorn worker processes and each Celery worker as a master with
prefork children; a counter kept in one process's memory would be seen only by whichever process
happened to answer the scrape. ``prometheus_client``'s multiprocess mode keeps each process's
values in small memory-mapped files under ``PROMETHEUS_MULTIPROC_DIR`` instead, and
``workers.metrics_endpoint`` merges them.

The variable names the *root* (default ``<BACKORDERS_DATA_DIR>/metrics``). Each process tree —
a uvicorn worker, a Celery worker with its children, a CLI run — writes into its own
subdirectory, ``<role>-<host>-<pid>`` of the tree's first process, which this module creates
fresh when the tree starts and points ``PROMETHEUS_MULTIPROC_DIR`` at (children inherit it). At
the same time it removes the subdirectories of trees on this host whose first process is gone:
what they counted was counted by a process that no longer exists, and a restart is a counter
reset, which Prometheus' ``rate()`` and ``increase()`` expect. A prefork child that exits is
marked dead (``worker_process_shutdown``): its live-gauge files go, its counters stay in the
tree's sum.

``prometheus_client`` picks its value store when first imported, and that may come before
:func:`configure`: the ``celery`` command loads its plugins (Flower's ``celery flower``, an
entry point of group ``celery.commands``) before it imports ``-A workers.app``, and Flower imports
``prometheus_client``. Every worker, notify worker and beat would then count in memory, seen by no
scrape. So :func:`configure` picks the store again once the variable is set
(:func:`use_files`); what matters is that no metric of this product exists yet, and
``flows.metrics`` is imported only with the task modules, after ``workers.app`` has configured.
"""
from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import psutil

ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The root, once a tree's first process has set it up (its children find it here).
ROOT_ENV = "BACKORDERS_METRICS_ROOT"
#: ``off``: this process keeps its figures in memory (Flower, which serves its own).
MODE_ENV = "BACKORDERS_METRICS"


def root_dir() -> Path | None:
    """The root every tree of this host writes under, or ``None`` when this process keeps its
    figures in memory."""
    if os.environ.get(MODE_ENV, "").strip().lower() == "off":
        return None
    configured = os.environ.get(ROOT_ENV) or os.environ.get(ENV)
    if configured:
        return Path(configured)
    return Path(os.environ.get("BACKORDERS_DATA_DIR", ".data")).resolve() / "metrics"


def tree_name(pid: int | None = None, role: str | None = None) -> str:
    role = role or Path(sys.argv[0] or "python").name.replace("-", "_") or "python"
    return f"{role}-{socket.gethostname()}-{pid or os.getpid()}"


def owner_pid(directory: Path) -> int | None:
    """The first process of the tree that writes in ``directory``, if it is one of this host's."""
    head, _, pid = directory.name.rpartition("-")
    if not pid.isdigit() or not head.endswith(f"-{socket.gethostname()}"):
        return None
    return int(pid)


def remove_dead_trees(root: Path) -> list[Path]:
    """Remove the subdirectories of this host's trees whose first process has exited."""
    removed = []
    for directory in root.iterdir() if root.is_dir() else ():
        pid = owner_pid(directory)
        if directory.is_dir() and pid is not None and pid != os.getpid() and not psutil.pid_exists(pid):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def configure(role: str | None = None) -> Path | None:
    """Set up this process tree's directory (once per tree; children keep their parent's).
    Returns the directory this process writes in, or ``None`` in memory mode."""
    if os.environ.get(ROOT_ENV) and os.environ.get(ENV):
        use_files()
        return Path(os.environ[ENV])
    root = root_dir()
    if root is None:
        return None
    root.mkdir(parents=True, exist_ok=True)
    remove_dead_trees(root)
    tree = root / tree_name(role=role)
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()
    os.environ[ROOT_ENV] = str(root)
    os.environ[ENV] = str(tree)
    use_files()
    return tree


def use_files() -> None:
    """Make metrics created from now on keep their values in ``PROMETHEUS_MULTIPROC_DIR``, even
    if ``prometheus_client`` was imported (and chose memory) before the variable was set.

    ``prometheus_client.metrics`` reads ``values.ValueClass`` each time a metric (or a labelled
    child) is created, so re-running its own choice is enough; it is left alone when not yet
    imported, as the import will choose by itself."""
    values = sys.modules.get("prometheus_client.values")
    if values is not None and os.environ.get(ENV):
        values.ValueClass = values.get_value_class()  # type: ignore[attr-defined]


def active() -> bool:
    """Whether ``prometheus_client`` keeps values in files (it was imported after :func:`configure`)."""
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue


def mark_dead(pid: int) -> None:
    """A process of this tree exited: drop its live-gauge files (its counters stay summed)."""
    directory = os.environ.get(ENV)
    if directory and active():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, directory)


def _on_child_exit(pid: int | None = None, **_: object) -> None:
    """Celery's ``worker_process_shutdown``, sent in a prefork child as it exits."""
    mark_dead(pid or os.getpid())


def connect_child_exit() -> None:
    """Mark each prefork child dead as it exits (idempotent: Celery's signals keep one receiver)."""
    from celery.signals import worker_process_shutdown

    worker_process_shutdown.connect(_on_child_exit, weak=False, dispatch_uid="backorders.metrics.child_exit")
