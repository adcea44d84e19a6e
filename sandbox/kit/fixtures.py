"""Fixed parts of a stand-in's JSON answers, kept as data files beside its code.

Much of a platform's resource is constant for a stand-in: the fields a new coupon or refund
carries that the request does not set, a default billing address. Those shapes are copied from
the platform's documented examples, so they live as JSON in ``<stand-in>/fixtures/<name>.json``
where they read like the docs, and the code only fills in what varies. Each call answers a fresh
deep copy, so a record built from a fixture never shares a list with another.
"""
from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any


@cache
def _load(path: Path) -> Any:
    return json.loads(path.read_text())


class Fixtures:
    """The fixtures of the stand-in whose module is ``module_file`` (``Fixtures(__file__)``)."""

    def __init__(self, module_file: str) -> None:
        self.root = Path(module_file).resolve().parent / "fixtures"

    def __call__(self, name: str) -> Any:
        """A fresh copy of ``fixtures/<name>.json``."""
        return copy.deepcopy(_load(self.root / f"{name}.json"))
