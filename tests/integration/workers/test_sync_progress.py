"""``backorders sync STORE --full`` against the sandbox: progress while it reads, named by the
store's key, and the SKUs whose available figure changed, old → new, when it is done."""
from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import requests
from click.testing import CliRunner

from tests.integration.workers.conftest import StandIns
from workers.cli import main
from workers.sync_progress import SyncProgress


def test_a_full_sync_shows_progress_and_lists_what_changed(stand_ins: Callable[..., StandIns],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_PROGRESS_EVERY_S", "0")  # a line per page: the sandbox's pages are quick
    sandbox = stand_ins({"shopify"}, available=2)
    runner = CliRunner()
    first = runner.invoke(main, ["sync", "shopify-main", "--full"])
    assert first.exit_code == 0, first.output
    assert "shopify-main: full sync started\n" in first.stderr, "no expected count before a first full sync"
    assert "shopify-main: 30 records, 1 pages" in first.stderr and "(done)" in first.stderr
    assert "shopify-main: full poll, 1 pages, 30 records" in first.stdout
    assert "shopify-main: available changed for 30 SKU(s):" in first.stdout
    assert "  FUT-FRM-OAK-FULL: - → 2" in first.stdout and "  … and 10 more" in first.stdout

    requests.post(f"{sandbox.url}/shopify/shopify-main/_admin/set_stock",
                  json={"sku": "FUT-FRM-OAK-FULL", "available": 0}, timeout=10).raise_for_status()
    second = runner.invoke(main, ["sync", "shopify-main", "--full"])
    assert second.exit_code == 0, second.output
    assert "shopify-main: full sync started of ~30 expected" in second.stderr
    assert "30 records of ~30, 1 pages" in second.stderr
    assert "shopify-main: available changed for 1 SKU(s):\n  FUT-FRM-OAK-FULL: 2 → 0\n" in second.stdout

    third = runner.invoke(main, ["sync", "shopify-main", "--full"])
    assert "shopify-main: no available figure changed" in third.stdout


def test_on_a_terminal_it_is_a_bar_with_rate_and_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    # A terminal wide enough for every column: rich sizes a stream that is not a terminal from
    # COLUMNS, else from the terminal pytest runs in, else 80 columns (pytest -n: its workers have
    # none), where a quick run's rate ("106,856/s") squeezed "400/400" to "400/4…".
    monkeypatch.setenv("COLUMNS", "160")
    out = io.StringIO()
    with SyncProgress("woo-outlet", expected=400, full=True, stream=out, bar=True) as shown:
        for _ in range(4):
            shown.update("stock", 100)
        assert shown.pages == 4 and shown.records == 400
    text = out.getvalue()
    assert "woo-outlet full sync" in text and "400/400" in text and "4 pages" in text and "/s" in text


def test_plain_lines_say_how_long_is_left() -> None:
    out = io.StringIO()
    with SyncProgress("big-store", expected=20_000, full=True, stream=out, every_s=0, bar=False) as shown:
        shown.started -= 10  # ten seconds in
        shown.update("stock", 5_000)
    lines = out.getvalue().splitlines()
    assert lines[0] == "big-store: full sync started of ~20,000 expected"
    assert lines[1].startswith("big-store: 5,000 records of ~20,000, 1 pages, ") and "~30s left" in lines[1]
