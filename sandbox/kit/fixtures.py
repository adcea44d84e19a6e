"""Resource shapes as data: the JSON a platform's docs show, kept as fixture files beside its code.

A stand-in keeps each resource's JSON in ``sandbox/<platform>/fixtures/<name>.json``, copied from
the platform's reference page, so its code says only where the values come from.

- ``fixtures(name)`` answers a fresh deep copy of a fixed shape (the fields a new coupon or refund
  carries that the request does not set, a default billing address): a record built from it never
  shares a list with another.
- ``fixtures.fill(name, source, **values)`` fills a shape with holes: a string that is exactly
  ``"{name}"`` becomes the value itself (an int stays an int, None stays null); ``"{name|format}"``
  passes it through one of the declared formats first (Shopify's shop-zone times); a placeholder
  inside longer text is written into it (``"gid://shopify/Product/{id}"``), and so is one in a
  key (``{"{field}": ["is invalid"]}``). Values come from the keyword arguments, else from the
  source record (a dict's key or an object's attribute). ``fill_node`` fills a part of a shape
  already read (an entry of a table such as the platform's refusals).
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

HOLE = re.compile(r"\{([a-z_0-9]+)(?:\|([a-z_]+))?\}")


@cache
def _load(path: Path) -> Any:
    return json.loads(path.read_text())


class Fixtures:
    """The fixture files of one folder (a ``Path``), or of the stand-in whose module is
    ``module_file`` (``Fixtures(__file__)``: its ``fixtures/`` folder), and the formats their
    placeholders may name."""

    def __init__(self, folder: Path | str, formats: dict[str, Callable[[Any], Any]] | None = None) -> None:
        self.folder = folder if isinstance(folder, Path) else Path(folder).resolve().parent / "fixtures"
        self.formats = formats or {}

    def shape(self, name: str) -> Any:
        """The shape as stored (shared: copy before changing it)."""
        return _load(self.folder / f"{name}.json")

    def __call__(self, name: str) -> Any:
        """A fresh copy of ``fixtures/<name>.json``."""
        return copy.deepcopy(self.shape(name))

    def fill(self, shape: str, source: Any = None, /, **values: Any) -> Any:
        """A fresh copy of the ``shape`` with every placeholder filled."""
        return self.fill_node(self.shape(shape), source, **values)

    def fill_node(self, node: Any, source: Any = None, /, **values: Any) -> Any:
        """A fresh copy of ``node`` (JSON data) with every placeholder filled."""
        def value(match: re.Match[str]) -> Any:
            key, form = match.group(1), match.group(2)
            if key in values:
                found = values[key]
            elif isinstance(source, dict):
                found = source[key]
            else:
                found = getattr(source, key)
            return self.formats[form](found) if form else found

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                return {HOLE.sub(lambda m: str(value(m)), key): walk(item) for key, item in node.items()}
            if isinstance(node, list):
                return [walk(item) for item in node]
            if isinstance(node, str):
                whole = HOLE.fullmatch(node)
                return value(whole) if whole else HOLE.sub(lambda m: str(value(m)), node)
            return node
        return walk(node)
