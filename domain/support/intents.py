"""The intents a ticket is classified into and the labelled set the classifier learns from.

The set ships with the package (``data/intents.jsonl``: one ``{"intent", "subject", "body"}`` per
line, written for a futon, mattress and bedding store), so training needs no network and no
download: ``domain.support.classifier`` trains on it at first use.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from domain.core.support_config import INTENTS

__all__ = ["INTENTS", "DATA_PATH", "Example", "load_examples", "text_of"]

DATA_PATH = Path(__file__).resolve().parent / "data" / "intents.jsonl"


@dataclass(frozen=True)
class Example:
    intent: str
    subject: str
    body: str

    @property
    def text(self) -> str:
        return text_of(self.subject, self.body)


def text_of(subject: str, body: str) -> str:
    """What the classifier reads: the subject, then the body."""
    return f"{subject.strip()}\n{body.strip()}".strip()


def load_examples(path: Path = DATA_PATH) -> list[Example]:
    """Every labelled example; ValueError naming the line of an unknown intent or a broken row."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("intent") not in INTENTS or not isinstance(row.get("body"), str):
            raise ValueError(f"{path.name}:{number}: expected an intent in INTENTS and a body, got {row!r}")
        examples.append(Example(row["intent"], str(row.get("subject") or ""), row["body"]))
    return examples
