"""How many lines of its own code each platform stand-in has: ``python -m sandbox.loc``.

A platform's code is the package ``sandbox/<platform>/`` (every ``*.py`` in it) or the module
``sandbox/<platform>.py``. Counted as ``connectors.loc`` counts connectors: non-blank lines that are
not comments and not inside a docstring. What the stand-ins share is not counted against any of
them: the kit (``sandbox/kit/``), the messaging machinery (``sandbox/messaging.py``) and the app.
tests/unit/test_standin_loc.py holds each one to a ceiling, so code moved into the kit stays out.
"""
from __future__ import annotations

import sys
from pathlib import Path

from connectors.loc import code_lines
from sandbox.app import MODULES

HERE = Path(__file__).resolve().parent
#: Shared modules the app installs that are no platform of their own.
SHARED = ("control", "messaging")
PLATFORMS = tuple(name.split(".", 1)[1] for name in MODULES if name.split(".", 1)[1] not in SHARED)


def platform_files(platform: str, root: Path = HERE) -> list[Path]:
    package = root / platform
    return sorted(package.glob("*.py")) if package.is_dir() else [root / f"{platform}.py"]


def platform_lines(platform: str, root: Path = HERE) -> int:
    return sum(code_lines(path.read_text()) for path in platform_files(platform, root))


def main(argv: list[str] | None = None) -> int:
    for platform in (argv or sys.argv[1:]) or PLATFORMS:
        files = platform_files(platform)
        where = f"{platform}/ ({len(files)} files)" if (HERE / platform).is_dir() else f"{platform}.py"
        print(f"{platform:<12} {platform_lines(platform):>4}  {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
