"""One row per chaos scenario, collected across the run and printed as the closing table.

Each scenario calls :func:`record` once with what it counted; the pytest hook in
``tests/chaos/conftest.py`` prints the table and ``make chaos`` leaves it in
``.data/chaos/results.json`` so ``docs/reliability.md`` can quote the latest run.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS_PATH = Path(os.environ.get("CHAOS_RESULTS", Path(__file__).resolve().parents[2] / ".data" / "chaos" / "results.jsonl"))
#: ``CHAOS_SCALE=full`` (``make chaos``): every scenario at full size, rows kept in ``RESULTS_PATH``.
FULL = os.environ.get("CHAOS_SCALE", "").lower() == "full"
#: Where a smoke run (``make test``) keeps its rows: named by the process that prints the table
#: (the run itself, or the controller of ``pytest -n``, whose workers inherit the variable).
SMOKE_VARIABLE = "CHAOS_SMOKE_RESULTS"


def run_path() -> Path:
    """This run's results file: ``RESULTS_PATH`` for a full run, a scratch file for a smoke run."""
    if FULL:
        return RESULTS_PATH
    import tempfile

    return Path(os.environ.get(SMOKE_VARIABLE) or Path(tempfile.gettempdir()) / f"chaos-smoke-{os.getpid()}.jsonl")


@dataclass(frozen=True)
class ScenarioRow:
    scenario: str
    runs: int
    events_in: int
    effects: int
    lost: int
    duplicates: int
    recovery_s: float | None
    detail: str = ""


def record(scenario: str, *, runs: int, events_in: int, effects: int, lost: int, duplicates: int,
           recovery_s: float | None = None, detail: str = "") -> ScenarioRow:
    """Append a scenario's counts to the run's results file (one JSON object per line)."""
    row = ScenarioRow(scenario, runs, events_in, effects, lost, duplicates,
                      None if recovery_s is None else round(recovery_s, 2), detail)
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS_PATH.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(row)) + "\n")
    return row


def read_rows() -> list[ScenarioRow]:
    if not RESULTS_PATH.exists():
        return []
    rows = [ScenarioRow(**json.loads(line)) for line in RESULTS_PATH.read_text().splitlines() if line.strip()]
    latest: dict[str, ScenarioRow] = {}
    for row in rows:
        latest[row.scenario] = row
    return list(latest.values())


def reset() -> None:
    RESULTS_PATH.unlink(missing_ok=True)


def table(rows: list[ScenarioRow]) -> str:
    header = ("scenario", "runs", "events in", "effects", "lost", "duplicates", "recovery s")
    body = [(r.scenario, str(r.runs), str(r.events_in), str(r.effects), str(r.lost), str(r.duplicates),
             "-" if r.recovery_s is None else f"{r.recovery_s:.1f}") for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in body]
    return "\n".join(lines)


SUMMARY_PATH = RESULTS_PATH.with_name("results.json")


def write_summary(rows: list[ScenarioRow], path: Path = SUMMARY_PATH) -> Path:
    """The run's table as one JSON document (rows plus when and where it ran), for the docs."""
    import platform
    from datetime import UTC, datetime

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"),
                                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                            "system": platform.platform()},
                                "rows": [asdict(row) for row in rows], "table": table(rows)}, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.chaos.report [--reset]``: clear the results, or print and save the table."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if "--reset" in args:
        reset()
        return 0
    rows = read_rows()
    print(table(rows))
    print(f"\nwritten to {write_summary(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
