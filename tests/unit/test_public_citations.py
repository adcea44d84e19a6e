"""Sources are cited as the vendors' public pages, never as files outside the repository.

A reader of a clone has the repository and the web, nothing else: a docstring that sends them to
a note on someone's disk cannot be checked.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from connectors.registry import CONNECTORS

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache", ".pytest_cache"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".ini", ".cfg", ".txt", ".yml", ".yaml", ".json", ".html", ".j2", ".sh"}
TEXT_NAMES = {"Makefile", "Procfile"}
#: Paths a clone does not have: absolute paths under a machine's users' folders, and relative ones
#: that climb out of the repository into notes kept beside it.
OUTSIDE = re.compile(r"(?<![\w.:/])/(?:work|home|root)/\w|(?<![\w./])\.\./[A-Za-z]")


def _text_files() -> list[Path]:
    files = []
    for path in REPO_ROOT.rglob("*"):
        if any(part in SKIPPED_DIRS for part in path.relative_to(REPO_ROOT).parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            files.append(path)
    return files


def test_no_file_cites_a_path_outside_the_repository() -> None:
    this = Path(__file__).resolve()
    offenders = [f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
                 for path in _text_files() if path.resolve() != this
                 for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
                 if OUTSIDE.search(line)]
    assert offenders == []


def test_every_platform_connector_cites_its_vendors_public_docs() -> None:
    for platform, cls in sorted(CONNECTORS.items()):
        doc = sys.modules[cls.__module__].__doc__ or ""
        assert re.search(r"https://\S+", doc), f"{cls.__module__} ({platform}) cites no public page"
