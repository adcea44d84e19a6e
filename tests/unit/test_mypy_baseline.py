"""The type-check ratchet: a file may not gain mypy errors, a new file may have none, and the
baseline is only ever rewritten to a total that is not larger."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tools import mypy_baseline as ratchet

OUTPUT = """\
domain/core/db.py:26: error: Unused "type: ignore" comment  [unused-ignore]
tasks/base.py:10:5: error: Argument 1 has incompatible type "int"; expected "str"  [arg-type]
tasks/base.py:12: note: See https://mypy.readthedocs.io/en/stable/error_codes.html
tasks/base.py:30: error: Item "None" of "X | None" has no attribute "y"  [union-attr]
Found 3 errors in 2 files (checked 113 source files)
"""


def test_counts_errors_per_file_not_notes_or_the_summary() -> None:
    assert ratchet.count_errors(OUTPUT) == Counter({"tasks/base.py": 2, "domain/core/db.py": 1})


def test_the_baseline_file_round_trips_and_drops_clean_files() -> None:
    counts = Counter({"tasks/base.py": 2, "domain/core/db.py": 1, "workers/app.py": 0})
    text = ratchet.format_baseline(counts)
    assert "# total 3" in text and "workers/app.py" not in text
    assert ratchet.read_baseline(text) == Counter({"tasks/base.py": 2, "domain/core/db.py": 1})


def test_a_malformed_baseline_line_is_named() -> None:
    with pytest.raises(ValueError, match=r":2: expected 'COUNT PATH'"):
        ratchet.read_baseline("1 a.py\ntwo b.py\n")


def test_a_file_gaining_errors_or_a_new_file_with_errors_fails() -> None:
    baseline = Counter({"tasks/base.py": 2, "domain/core/db.py": 1})
    grown = ratchet.compare(baseline, Counter({"tasks/base.py": 3, "domain/core/db.py": 1, "flows/poll.py": 1}))
    assert not grown.ok
    assert grown.grown == {"tasks/base.py": (2, 3), "flows/poll.py": (0, 1)}


def test_fewer_errors_pass_and_are_reported_as_lowerable() -> None:
    baseline = Counter({"tasks/base.py": 2, "domain/core/db.py": 1})
    fewer = ratchet.compare(baseline, Counter({"tasks/base.py": 1}))
    assert fewer.ok
    assert fewer.lowered == {"tasks/base.py": (2, 1), "domain/core/db.py": (1, 0)}
    text = ratchet.report(fewer, Counter({"tasks/base.py": 1}), baseline, "")
    assert "python -m tools.mypy_baseline --update" in text


def _main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, output: str, baseline: str | None,
          *argv: str) -> tuple[int, Path]:
    path = tmp_path / "mypy_baseline.txt"
    if baseline is not None:
        path.write_text(baseline)
    monkeypatch.setattr(ratchet, "BASELINE", path)
    monkeypatch.setattr(ratchet, "run_mypy", lambda: output)
    return ratchet.main(list(argv)), path


def test_main_fails_naming_the_new_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    status, _ = _main(monkeypatch, tmp_path, OUTPUT, "1 tasks/base.py\n1 domain/core/db.py\n")
    assert status == 1
    err = capsys.readouterr().err
    assert "tasks/base.py: 2 mypy error(s), the baseline allows 1" in err
    assert "union-attr" in err


def test_main_passes_at_the_baseline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    status, _ = _main(monkeypatch, tmp_path, OUTPUT, "2 tasks/base.py\n1 domain/core/db.py\n")
    assert status == 0


def test_update_lowers_and_moves_but_never_raises_the_total(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    # Code (and its errors) moved from domain/core/db.py to tasks/base.py: same total, accepted.
    status, path = _main(monkeypatch, tmp_path, OUTPUT, "1 tasks/base.py\n2 domain/core/db.py\n", "--update")
    assert status == 0
    assert ratchet.read_baseline(path.read_text()) == Counter({"tasks/base.py": 2, "domain/core/db.py": 1})
    # One more error than the baseline's total: refused, the file is left as it was.
    status, path = _main(monkeypatch, tmp_path, OUTPUT, "2 tasks/base.py\n", "--update")
    assert status == 1
    assert path.read_text() == "2 tasks/base.py\n"


def test_the_committed_baseline_parses_and_states_its_total() -> None:
    text = ratchet.BASELINE.read_text()
    counts = ratchet.read_baseline(text)
    assert counts and f"# total {sum(counts.values())}" in text


def test_mypy_checks_what_the_product_installs_and_nothing_beside_it() -> None:
    targets = ratchet.mypy_targets()
    assert {"workers", "tasks", "domain", "connectors", "celeryconfig.py"} <= set(targets)
    assert not {"demo", "sandbox", "tests", "bench", "tools"} & set(targets)
    assert all((ratchet.REPO_ROOT / target).exists() for target in targets)
