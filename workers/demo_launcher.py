"""``backorders demo``: starts the demo of a source checkout as its own program.

The demo and the sandbox are not part of the installed product (they live beside it in the
repository, in ``demo/`` and ``sandbox/``), so the command never imports them: it finds the
checkout the product runs from and hands over to ``python -m demo`` there, with that checkout
first on ``PYTHONPATH`` (https://docs.python.org/3/using/cmdline.html#envvar-PYTHONPATH). An
installed copy without a checkout says so and names what to run instead.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def demo_command(repo_root: Path, keep: bool, python: str,
                 environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run the demo of the checkout at ``repo_root``.

    Raises ``FileNotFoundError`` (its message says what to do) when ``repo_root`` holds no demo,
    as for a product installed from a wheel."""
    if not (repo_root / "demo" / "__main__.py").is_file() or not (repo_root / "sandbox").is_dir():
        raise FileNotFoundError(
            f"the demo is not installed with the product (no demo/ beside {repo_root}); run `make demo` "
            "or `python -m demo` in a checkout of the repository")
    paths = [str(repo_root), *(p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    env = {**environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
    return [python, "-m", "demo", *(["--keep"] if keep else [])], env
