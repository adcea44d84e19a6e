"""A store's ``options`` checked from declared rules, by ``config check`` and when a connector is built.

A connector declares ``option_rules`` (``RestConnector``); ``connectors.registry.store_problems``
reports every broken rule under the key it names (``options.purchase_document: expected one of
order, request, got 'po'``) before any store is polled, and the connector refuses to be built with
the first one, so a typo in the file never reaches the platform as a strange request.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class OptionRule(Protocol):
    @property
    def key(self) -> str:
        """The option the rule checks."""
        ...

    def problem(self, value: Any) -> str | None:
        """What is wrong with the option's value (present in the file), or None."""
        ...


@dataclass(frozen=True)
class Choice:
    """One of ``values``."""

    key: str
    values: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        return None if value in self.values else f"expected one of {', '.join(self.values)}, got {value!r}"


@dataclass(frozen=True)
class Matching:
    """Text matching ``pattern`` (a field name, a code), described as ``expected``."""

    key: str
    pattern: str
    expected: str

    def problem(self, value: Any) -> str | None:
        return None if re.fullmatch(self.pattern, str(value)) else f"expected {self.expected}, got {value!r}"


@dataclass(frozen=True)
class TimeZone:
    """An IANA time zone name (``America/New_York``)."""

    key: str

    def problem(self, value: Any) -> str | None:
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            return f"unknown time zone {value!r}"
        return None


@dataclass(frozen=True)
class Names:
    """A table naming things by role (Airtable's column names: ``{sku = "SKU", …}``): the ``needed``
    roles given, no role outside ``roles``, every name a non-empty text."""

    key: str
    roles: tuple[str, ...]
    needed: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, Mapping):
            return f"expected a table like {{ {self.needed[0]} = \"…\" }}, got {value!r}"
        wrong = [f"{role} (one of {', '.join(self.roles)})" for role in value if role not in self.roles] + \
            [f"{role}: missing" for role in self.needed if role not in value] + \
            [f"{role}: expected a name" for role, name in value.items() if not isinstance(name, str) or not name]
        return "; ".join(wrong) or None


@dataclass(frozen=True)
class Required:
    """Another rule whose option must be given at all."""

    rule: OptionRule

    @property
    def key(self) -> str:
        return self.rule.key

    def problem(self, value: Any) -> str | None:
        return self.rule.problem(value)


def option_problems(options: Mapping[str, Any], rules: tuple[OptionRule, ...]) -> list[tuple[str, str]]:
    """(``options.<key>``, what is wrong) for every rule an option given in the file breaks, and
    every :class:`Required` one it leaves out."""
    missing = [(f"options.{rule.key}", "missing (required)") for rule in rules
               if isinstance(rule, Required) and rule.key not in options]
    return missing + [(f"options.{rule.key}", problem) for rule in rules
                      if rule.key in options and (problem := rule.problem(options[rule.key])) is not None]
