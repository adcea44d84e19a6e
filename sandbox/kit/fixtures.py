"""Resource shapes as data: the JSON a platform's docs show, kept as fixture files with holes.

A stand-in keeps each resource's JSON in ``sandbox/<platform>/fixtures/<name>.json``, copied from
the platform's reference page, with placeholders where a record's values go, so its code says
only where the values come from. A string that is exactly ``"{name}"`` becomes the value itself
(an int stays an int, None stays null); ``"{name|format}"`` passes it through one of the
declared formats first (Shopify's shop-zone times); a placeholder inside longer text is written
into it (``"gid://shopify/Product/{id}"``). Values come from the keyword arguments, else from the
source record (a dict's key or an object's attribute).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

HOLE = re.compile(r"\{([a-z_0-9]+)(?:\|([a-z_]+))?\}")


class Fixtures:
    """The fixture files of one folder and the formats their placeholders may name."""

    def __init__(self, folder: Path, formats: dict[str, Callable[[Any], Any]] | None = None) -> None:
        self.folder = folder
        self.formats = formats or {}

    @cache  # noqa: B019 (one instance per stand-in, kept for the process)
    def shape(self, name: str) -> Any:
        return json.loads((self.folder / f"{name}.json").read_text())

    def fill(self, shape: str, source: Any = None, /, **values: Any) -> Any:
        """A fresh copy of the ``shape`` with every placeholder filled."""
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
                return {key: walk(item) for key, item in node.items()}
            if isinstance(node, list):
                return [walk(item) for item in node]
            if isinstance(node, str):
                whole = HOLE.fullmatch(node)
                return value(whole) if whole else HOLE.sub(lambda m: str(value(m)), node)
            return node
        return walk(self.shape(shape))
