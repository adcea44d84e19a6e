"""Reading a Procfile: one ``name: command`` per line, the format honcho and Heroku read
(https://devcenter.heroku.com/articles/procfile). ``backorders up`` runs its processes, and the
tests hold the systemd units and the compose file in ``deploy/`` to the same commands."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LINE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+):\s*(?P<command>.+)$")


@dataclass(frozen=True)
class ProcessType:
    name: str
    command: str


def parse(text: str) -> list[ProcessType]:
    """Every process type, in file order; blank lines and ``#`` comments are skipped, and a line
    that is neither raises ``ValueError`` naming its number."""
    found: list[ProcessType] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = LINE.match(stripped)
        if match is None:
            raise ValueError(f"Procfile line {number}: expected `name: command`, got {stripped!r}")
        if any(p.name == match["name"] for p in found):
            raise ValueError(f"Procfile line {number}: {match['name']!r} is defined twice")
        found.append(ProcessType(match["name"], match["command"].strip()))
    return found


def load(path: Path) -> list[ProcessType]:
    return parse(path.read_text())
