"""A real browser for the page tests: Playwright driving the system's Chromium.

Playwright's own browser download is not used (the machines that run this suite may reach no
download host): the Debian package's ``/usr/bin/chromium`` is passed as the executable, or
``$CHROMIUM`` when set. Without it every test here is skipped with the command that installs it.
Screenshots go to ``$ARTIFACTS_DIR`` (default ``tests/artifacts/``, ignored by git).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    """The Chromium binary to drive (``$CHROMIUM`` exactly when set), or None when it is not installed."""
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return None if os.environ.get("CHROMIUM") else shutil.which("chromium")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("ARTIFACTS_DIR") or REPO_ROOT / "tests" / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module (starting it costs seconds). Never longer: while Playwright's
    sync API is open its event loop counts as running in this thread, and every later test calling
    ``asyncio.run`` would fail."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (the browser tests drive it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (a dev dependency)")
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            yield launched
        finally:
            launched.close()
