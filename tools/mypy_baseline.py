"""``python -m tools.mypy_baseline [--update]``: the type check that may only get better.

Runs mypy over the product code (what ``pyproject.toml`` installs, ``tools.product``; its settings
are ``[tool.mypy]`` there), counts the errors per file and compares them with ``tools/mypy_baseline.txt``.
It fails when any file has more errors than its baseline line allows, or a file not listed there
has any: new code is typed, and old code is never made worse. A file with fewer errors than its
line is reported with the command that lowers the baseline; ``--update`` rewrites the file from
the current counts, and refuses when the total would grow (moving code, and its errors, from one
file to another is fine; adding errors is not). The output format parsed here is mypy's own,
``path:line: error: message  [code]`` (https://mypy.readthedocs.io/en/stable/error_codes.html).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.product import product_modules, product_packages

REPO_ROOT = Path(__file__).resolve().parents[1]
BASELINE = REPO_ROOT / "tools" / "mypy_baseline.txt"
ERROR_LINE = re.compile(r"^(?P<path>[^:\s][^:]*\.pyi?):\d+(?::\d+)?: error: ")
HEADER = ("# mypy errors allowed per file (python -m tools.mypy_baseline); the numbers only go down.\n"
          "# Lower them with: python -m tools.mypy_baseline --update\n")


@dataclass(frozen=True)
class Comparison:
    grown: dict[str, tuple[int, int]]   # path -> (baseline, now): more errors than allowed
    lowered: dict[str, tuple[int, int]]  # path -> (baseline, now): fewer, the baseline can drop

    @property
    def ok(self) -> bool:
        return not self.grown


def count_errors(mypy_output: str) -> Counter[str]:
    """Errors per file in mypy's output (notes and the summary line are not errors)."""
    counts: Counter[str] = Counter()
    for line in mypy_output.splitlines():
        match = ERROR_LINE.match(line)
        if match:
            counts[match["path"].replace("\\", "/")] += 1
    return counts


def read_baseline(text: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        count, _, path = line.partition(" ")
        if not count.isdigit() or not path.strip():
            raise ValueError(f"{BASELINE.name}:{number}: expected 'COUNT PATH', got {raw!r}")
        counts[path.strip()] = int(count)
    return counts


def format_baseline(counts: Counter[str]) -> str:
    lines = [f"{n} {path}" for path, n in sorted(counts.items()) if n > 0]
    return HEADER + f"# total {sum(counts.values())}\n" + "\n".join(lines) + "\n"


def compare(baseline: Counter[str], now: Counter[str]) -> Comparison:
    paths = set(baseline) | set(now)
    return Comparison(
        grown={p: (baseline[p], now[p]) for p in sorted(paths) if now[p] > baseline[p]},
        lowered={p: (baseline[p], now[p]) for p in sorted(paths) if now[p] < baseline[p]},
    )


def mypy_targets() -> list[str]:
    """The product's packages and modules, as paths mypy takes."""
    return [*product_packages(), *(f"{module}.py" for module in product_modules())]


def run_mypy(python: str = sys.executable) -> str:
    """mypy's output for the product; exit 2 (a crash, a bad configuration) raises."""
    result = subprocess.run([python, "-m", "mypy", "--no-error-summary", "--no-pretty", *mypy_targets()],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"mypy failed to run (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def report(comparison: Comparison, now: Counter[str], baseline: Counter[str], mypy_output: str) -> str:
    out = []
    for path, (allowed, found) in comparison.grown.items():
        out.append(f"{path}: {found} mypy error(s), the baseline allows {allowed}:")
        out.extend(f"  {line}" for line in mypy_output.splitlines()
                   if (m := ERROR_LINE.match(line)) and m["path"] == path)
    if comparison.grown:
        out.append("Fix the errors above (the baseline never grows); run `make lint` to check again.")
    if comparison.lowered:
        out.append("Fewer errors than the baseline in: " + ", ".join(
            f"{p} ({a} -> {f})" for p, (a, f) in comparison.lowered.items()))
        out.append("Lower the baseline: python -m tools.mypy_baseline --update, "
                   "and commit tools/mypy_baseline.txt")
    out.append(f"mypy: {sum(now.values())} error(s) in {len(now)} file(s); baseline {sum(baseline.values())}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mypy_baseline", description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true",
                        help="rewrite the baseline from the current counts (never to a larger total)")
    args = parser.parse_args(argv)
    output = run_mypy()
    now = count_errors(output)
    baseline = read_baseline(BASELINE.read_text()) if BASELINE.exists() else Counter()
    if args.update:
        if BASELINE.exists() and sum(now.values()) > sum(baseline.values()):
            print(f"refused: {sum(now.values())} errors now, the baseline allows "
                  f"{sum(baseline.values())} in all", file=sys.stderr)
            print(report(compare(baseline, now), now, baseline, output), file=sys.stderr)
            return 1
        BASELINE.write_text(format_baseline(now))
        print(f"{BASELINE.name}: {sum(now.values())} error(s) in {len(now)} file(s)")
        return 0
    comparison = compare(baseline, now)
    print(report(comparison, now, baseline, output), file=sys.stdout if comparison.ok else sys.stderr)
    return 0 if comparison.ok else 1


if __name__ == "__main__":
    sys.exit(main())
