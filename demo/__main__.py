"""``python -m demo [--keep]``: run the demo scenario and print its summary (``make demo``)."""
from __future__ import annotations

import argparse
import sys

from demo.run import main as run_demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--keep", action="store_true",
                        help="leave every process running afterwards (to browse Flower)")
    args = parser.parse_args(argv)
    return run_demo(args.keep, lambda line: print(line, flush=True))


if __name__ == "__main__":
    sys.exit(main())
