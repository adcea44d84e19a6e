"""``backorders embedded reset``: everything in the data directory goes, the directory stays, and
nothing goes without --yes or a yes."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from workers.cli import main


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    (root / "demo-logs").mkdir(parents=True)
    (root / "demo-logs" / "web.log").write_text("x")
    (root / "celerybeat-schedule").write_text("x")
    (root / "flower_auth").write_text("ops:x")
    monkeypatch.setenv("BACKORDERS_DATA_DIR", str(root))
    return root


def test_reset_deletes_every_entry_and_names_each(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["embedded", "reset", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"deleted {data_dir / name}"
                                          for name in ("celerybeat-schedule", "demo-logs", "flower_auth")]
    assert data_dir.is_dir() and list(data_dir.iterdir()) == []
    again = CliRunner().invoke(main, ["embedded", "reset", "--yes"])
    assert again.output == f"{data_dir}: nothing to delete\n"


def test_reset_asks_first_and_a_no_keeps_everything(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["embedded", "reset"], input="n\n")
    assert result.exit_code == 1 and "delete 3 entries in" in result.output
    assert sorted(p.name for p in data_dir.iterdir()) == ["celerybeat-schedule", "demo-logs", "flower_auth"]
