"""Every product module imports on its own, and none pulls in the demo or the sandbox.

The product is what ``pyproject.toml`` installs (``tools.product`` reads it: today the ``workers``,
``tasks``, ``domain`` and ``connectors`` packages and the ``celeryconfig`` module). Each module is imported in a fresh
interpreter started in the repository root, where ``demo`` and ``sandbox`` *are* importable, so
a product module that reaches for either at import time is caught here (the import contracts of
``make lint`` catch the imports inside functions too). The servers' URLs point at closed ports:
importing a module must not need a database, a broker or the embedded servers.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tools.product import CHECKOUT_ONLY, product_modules, product_packages

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = tuple(product_packages())
PRODUCT_MODULES = tuple(product_modules())
OUTSIDE_PRODUCT = ("demo", "sandbox")
#: Nothing listens on port 9: a module that connects while being imported fails loudly.
CLOSED_ENV = {"DATABASE_URL": "postgresql://import-check@127.0.0.1:9/none",
              "REDIS_URL": "redis://127.0.0.1:9/0", "BROKER_URL": "redis://127.0.0.1:9/0",
              "SECRET_KEY": "import-check-" + "x" * 32}

#: Imports each module named in argv[1] (a JSON list) in turn; prints, per module, the traceback of
#: its failure (or null) and the demo / sandbox modules that importing it added to sys.modules.
_IMPORT_EACH = """
import importlib, json, sys, traceback
outside = tuple(json.loads(sys.argv[2]))
def loaded():
    return {m for m in sys.modules if m.split(".")[0] in outside}
results = {}
for name in json.loads(sys.argv[1]):
    before = loaded()
    try:
        importlib.import_module(name)
        error = None
    except BaseException:
        error = traceback.format_exc()
    results[name] = {"error": error, "pulled": sorted(loaded() - before)}
print("RESULTS " + json.dumps(results))
"""


def modules_under(root: Path, packages: tuple[str, ...], modules: tuple[str, ...] = ()) -> list[str]:
    """Dotted names of every module of ``packages`` (found on disk, without importing them)."""
    names = list(modules)
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def import_each(names: list[str], cwd: Path, outside: tuple[str, ...] = OUTSIDE_PRODUCT) -> dict[str, Any]:
    env = {**os.environ, **CLOSED_ENV, "PYTHONPATH": str(cwd)}
    env.pop("BACKORDERS_CONFIG", None)
    result = subprocess.run([sys.executable, "-c", _IMPORT_EACH, json.dumps(names), json.dumps(outside)],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULTS ")]
    assert result.returncode == 0 and lines, \
        f"the import check itself failed:\n{result.stdout}{result.stderr}"
    return json.loads(lines[-1].removeprefix("RESULTS "))


PRODUCT = modules_under(REPO_ROOT, PRODUCT_PACKAGES, PRODUCT_MODULES)


@cache
def _product_results() -> dict[str, Any]:
    return import_each(PRODUCT, REPO_ROOT)


def test_the_walk_finds_the_product() -> None:
    assert {"workers.app", "workers.web", "workers.cli", "tasks.base", "domain.core.models", "connectors.base",
            "celeryconfig"} <= set(PRODUCT)
    assert not [name for name in PRODUCT if name.split(".")[0] in OUTSIDE_PRODUCT]


@pytest.mark.parametrize("module", PRODUCT)
def test_product_module_imports(module: str) -> None:
    result = _product_results()[module]
    assert result["error"] is None, f"importing {module} failed:\n{result['error']}"


@pytest.mark.parametrize("module", PRODUCT)
def test_product_module_does_not_import_demo_or_sandbox(module: str) -> None:
    pulled = _product_results()[module]["pulled"]
    assert pulled == [], f"importing {module} loaded {pulled}"


def test_the_check_names_a_module_that_fails_or_reaches_outside(tmp_path: Path) -> None:
    """The check above can fail: a package that raises, and one that imports a stand-in, are named."""
    (tmp_path / "fakeproduct").mkdir()
    (tmp_path / "fakeproduct" / "__init__.py").write_text("")
    (tmp_path / "fakeproduct" / "broken.py").write_text("raise RuntimeError('no settings')\n")
    (tmp_path / "fakeproduct" / "leaky.py").write_text("import fakestandin.shop\n")
    (tmp_path / "fakestandin").mkdir()
    (tmp_path / "fakestandin" / "__init__.py").write_text("")
    (tmp_path / "fakestandin" / "shop.py").write_text("")
    names = modules_under(tmp_path, ("fakeproduct",))
    assert names == ["fakeproduct", "fakeproduct.broken", "fakeproduct.leaky"]
    results = import_each(names, tmp_path, outside=("fakestandin",))
    assert results["fakeproduct"] == {"error": None, "pulled": []}
    assert "RuntimeError: no settings" in results["fakeproduct.broken"]["error"]
    assert results["fakeproduct.leaky"] == {"error": None, "pulled": ["fakestandin", "fakestandin.shop"]}


def test_the_package_installs_neither_demo_nor_sandbox() -> None:
    assert {"workers", "tasks", "domain", "connectors"} <= set(PRODUCT_PACKAGES)
    assert not set(PRODUCT_PACKAGES) & set(CHECKOUT_ONLY)


def test_every_top_level_package_is_installed_or_declared_checkout_only() -> None:
    """A new part of the product (say ``flows/``) is installed, checked and imported only once it
    is in pyproject's include list; one that is not there, nor checkout-only, is named here."""
    packages = {path.parent.name for path in REPO_ROOT.glob("*/__init__.py")}
    assert sorted(packages - set(PRODUCT_PACKAGES) - set(CHECKOUT_ONLY)) == []


def test_the_import_contracts_cover_the_product_demo_and_sandbox() -> None:
    settings = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert set(settings["root_packages"]) == {*PRODUCT_PACKAGES, *OUTSIDE_PRODUCT}
    layers = next(c for c in settings["contracts"] if c["type"] == "layers")["layers"]
    assert {layer.strip("()") for layer in layers} >= {*PRODUCT_PACKAGES, *OUTSIDE_PRODUCT}
