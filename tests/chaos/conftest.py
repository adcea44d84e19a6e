"""Chaos suite set-up: run size, a working directory per scenario, and the closing table.

``CHAOS_SCALE=full`` (what ``make chaos`` sets) runs every scenario at its full size, each on a
stack of its own; otherwise (``make test``) only the scenarios not marked ``chaos_full`` run, at a
smoke size, sharing one stack (starting one costs half a minute), and their rows go to a scratch
file so they never replace the last full run's table.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos import report
from tests.chaos.harness import ChaosStack, chaos_stack

FULL = report.FULL


def size(full: int, smoke: int) -> int:
    """A scenario's size for this run."""
    return full if FULL else smoke


def pytest_configure(config: pytest.Config) -> None:
    """The rows go to ``report.run_path()``; ``tests/conftest.py`` prints the table at the end of
    the run (in the process that reports: the run itself, or the controller of ``pytest -n``)."""
    config.addinivalue_line("markers", "chaos_full: chaos scenario run only by `make chaos` (CHAOS_SCALE=full)")
    report.RESULTS_PATH = report.run_path()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL:
        return
    skip = pytest.mark.skip(reason="full chaos run only (make chaos)")
    for item in items:
        if "chaos_full" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    result = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"chaos_{result.when}", result)


@pytest.fixture
def chaos_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A directory of the scenario's own: servers' data and every process's log.

    Kept when the scenario fails (its path is printed) so the logs can be read.
    """
    path = Path(tempfile.mkdtemp(prefix="chaos-"))
    path.chmod(0o755)
    yield path
    call = getattr(request.node, "chaos_call", None)
    if call is not None and call.failed:
        print(f"\nchaos logs kept in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


def _stack_scope(fixture_name: str, config: pytest.Config) -> str:
    return "function" if FULL else "session"


@pytest.fixture(scope=_stack_scope)  # type: ignore[arg-type]
def stack(request: pytest.FixtureRequest) -> Iterator[ChaosStack]:
    """The whole product on private servers (``tests.chaos.harness``), for scenarios that leave
    the servers running; scenarios that need their own configuration start their own."""
    path = Path(tempfile.mkdtemp(prefix="chaos-"))
    path.chmod(0o755)
    failed_before = request.session.testsfailed
    with chaos_stack(path) as running:
        yield running
    if request.session.testsfailed > failed_before:
        print(f"\nchaos logs kept in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)
