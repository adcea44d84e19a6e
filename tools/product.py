"""What the product is: the packages and modules ``pyproject.toml`` installs, read from
``[tool.setuptools]`` (``packages.find.include`` and ``py-modules``; see
https://setuptools.pypa.io/en/latest/userguide/package_discovery.html). The type check and the
import tests take their list from here, so a new product package is named in one place."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Top-level packages of the checkout that are deliberately not installed with the product.
CHECKOUT_ONLY = ("bench", "demo", "sandbox", "tests", "tools")


def _setuptools(pyproject: Path) -> dict[str, Any]:
    section: dict[str, Any] = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]
    return section


def product_packages(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """Top-level packages installed (``"workers*"`` in the include list means ``workers``)."""
    include: list[str] = _setuptools(pyproject)["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").rstrip(".").split(".")[0] for pattern in include})


def product_modules(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """Top-level single-file modules installed (``celeryconfig``)."""
    modules: list[str] = _setuptools(pyproject).get("py-modules", [])
    return sorted(modules)
