"""Request validation as data: a stand-in declares its rules once and the kit answers the first
one a body breaks with the platform's documented error body.

A :class:`Rule` names a ``path`` into the JSON body (``draft_order.line_items[].quantity``; ``[]``
walks every element of a list, ``""`` is the body itself), a check, the error it answers and the
status. Rules run in the order declared; consecutive rules under the same list walk it element
by element, so the first bad element is reported the way a controller that loops over the lines
reports it. A rule is skipped where a parent on its path is absent or not an object (an optional
``applied_discount`` left out), except at the top: a body that is not an object leaves every
top-level value missing. ``Schema.body(field, error, status)`` turns a broken rule into the
platform's body, e.g. Shopify's ``{"errors": {field: [message]}}`` or WordPress's
``{"code", "message", "data": {"status"}}``.

:class:`FieldErrors` runs the same rules the Rails way instead: every field's first broken rule
is reported at once (``errors.messages``), as Rails apps such as Shopify answer a record that does
not validate. Both have ``problem(payload, state)``, so a resource declared with either (webhook
subscriptions) does not care which style its platform has.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


class _Missing:
    """A key the body does not have (distinct from an explicit ``null``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

#: ``check(value, holder, state)``: is the value (MISSING when absent) acceptable in its holder?
Check = Callable[[Any, dict[str, Any], Any], bool]


def given(value: Any, holder: dict[str, Any], state: Any) -> bool:
    """The key is present (``null`` counts)."""
    return value is not MISSING


def required(value: Any, holder: dict[str, Any], state: Any) -> bool:
    """The key is present and not ``null``."""
    return value is not MISSING and value is not None


def present(value: Any, holder: dict[str, Any], state: Any) -> bool:
    """Rails' ``presence``: present, not ``null`` and not empty (``can't be blank`` otherwise)."""
    return value is not MISSING and bool(value)


def is_object(value: Any, holder: dict[str, Any], state: Any) -> bool:
    return isinstance(value, dict)


def non_empty_list(value: Any, holder: dict[str, Any], state: Any) -> bool:
    return isinstance(value, list) and bool(value)


def list_of_objects(value: Any, holder: dict[str, Any], state: Any) -> bool:
    """Absent, empty or ``null`` is fine; otherwise a list whose every element is an object."""
    return value is MISSING or not value or (isinstance(value, list) and all(isinstance(v, dict) for v in value))


def one_of(choices: Sequence[Any], allow_null: bool = False) -> Check:
    """Absent is fine; otherwise one of ``choices`` (``null`` only when ``allow_null``)."""
    def check(value: Any, holder: dict[str, Any], state: Any) -> bool:
        return value is MISSING or (allow_null and value is None) or value in choices
    return check


def parses(read: Callable[[Any], Any], allow_null: bool = False) -> Check:
    """A value ``read`` accepts, as a controller that casts its input (``(int)``, an amount)
    refuses what does not cast; absent is fine, and so is ``null`` with ``allow_null``."""
    def check(value: Any, holder: dict[str, Any], state: Any) -> bool:
        if value is MISSING or (allow_null and value is None):
            return True
        try:
            read(value)
        except (TypeError, ValueError, ArithmeticError):
            return False
        return True
    return check


def whole_at_least(minimum: int, default: int) -> Check:
    """An integer (``default`` when absent) of at least ``minimum``; what ``int()`` refuses fails."""
    def check(value: Any, holder: dict[str, Any], state: Any) -> bool:
        try:
            return int(default if value is MISSING else value) >= minimum
        except (TypeError, ValueError):
            return False
    return check


def decimal(value: Any) -> Decimal | None:
    """``value`` as a decimal number, None when it is not one (absent and ``null`` are not)."""
    if value is MISSING or value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def number(value: Any, holder: dict[str, Any], state: Any) -> bool:
    return decimal(value) is not None


def exists(lookup: Callable[[Any, Any], Any]) -> Check:
    """``lookup(state, value)`` finds something; a lookup that raises on a malformed value fails."""
    def check(value: Any, holder: dict[str, Any], state: Any) -> bool:
        try:
            return lookup(state, value) is not None
        except (TypeError, ValueError, KeyError):
            return False
    return check


@dataclass(frozen=True)
class Rule:
    """``path`` must pass ``check``; else ``error`` (or ``error(value)``) is answered with ``status``
    under ``field`` (default: the path without ``[]``; ``""`` for an error that names no field).
    ``when(holder)`` limits the rule to holders it accepts (a variant line vs. a custom line)."""

    path: str
    check: Check
    error: Any
    status: int = 422
    field: str | None = None
    when: Callable[[dict[str, Any]], bool] | None = None

    @property
    def named(self) -> str:
        return self.path.replace("[]", "") if self.field is None else self.field

    def list_prefix(self) -> str | None:
        head, sep, _ = self.path.partition("[]")
        return head if sep else None

    def broken(self, value: Any, holder: dict[str, Any], state: Any) -> bool:
        if self.when is not None and not self.when(holder):
            return False
        return not self.check(value, holder, state)

    def message(self, value: Any) -> Any:
        return self.error(value) if callable(self.error) else self.error


def _walk(node: Any, path: str, top: bool = True) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The (value, holder) at a dotted ``path`` below ``node``: nothing when a parent below the top
    is absent or not an object; a top that is not an object holds nothing (every value missing)."""
    if not path:
        yield node, node if isinstance(node, dict) else {}
        return
    if not isinstance(node, dict):
        if top:
            yield MISSING, {}
        return
    head, _, rest = path.partition(".")
    value = node.get(head, MISSING)
    if not rest:
        yield value, node
    elif value is not MISSING and value is not None:
        yield from _walk(value, rest, top=False)


@dataclass(frozen=True)
class Schema:
    """Ordered rules and the platform's error body ``body(field, error, status)``."""

    rules: tuple[Rule, ...]
    body: Callable[[str, Any, int], Any]

    def problem(self, payload: Any, state: Any = None) -> tuple[int, Any] | None:
        """(status, body) of the first broken rule, or None when the payload passes them all."""
        for group in self._groups():
            found = self._first_in(group, payload, state)
            if found is not None:
                rule, value = found
                return rule.status, self.body(rule.named, rule.message(value), rule.status)
        return None

    def enforce(self, call: Any, payload: Any) -> None:
        """Raise the platform's refusal through ``call`` when the payload breaks a rule."""
        found = self.problem(payload, call.state)
        if found is not None:
            raise call.refuse(found[1], found[0])

    def _groups(self) -> Iterator[list[Rule]]:
        """Rules one by one, except consecutive rules under one list, which run per element."""
        group: list[Rule] = []
        for rule in self.rules:
            prefix = rule.list_prefix()
            if group and (prefix is None or prefix != group[0].list_prefix()):
                yield group
                group = []
            group.append(rule)
            if prefix is None:
                yield group
                group = []
        if group:
            yield group

    @staticmethod
    def _first_in(group: list[Rule], payload: Any, state: Any) -> tuple[Rule, Any] | None:
        prefix = group[0].list_prefix()
        if prefix is None:
            rule = group[0]
            for value, holder in _walk(payload, rule.path):
                if rule.broken(value, holder, state):
                    return rule, value
            return None
        for elements, _ in _walk(payload, prefix):
            for element in elements if isinstance(elements, list) else []:
                for rule in group:
                    for value, holder in _walk(element, rule.path[len(prefix) + 2:].lstrip("."), top=False):
                        if rule.broken(value, holder, state):
                            return rule, value
        return None


@dataclass(frozen=True)
class FieldErrors:
    """Rules answered the Rails way: each field's first broken rule (a field's later rules are
    skipped once one broke: ``can't be blank`` before ``is not included in the list``), every such
    field at once, as ``body({field: error})`` with ``status``. List paths (``[]``) are not walked."""

    rules: tuple[Rule, ...]
    body: Callable[[dict[str, Any]], Any]
    status: int = 422

    def problem(self, payload: Any, state: Any = None) -> tuple[int, Any] | None:
        """(status, body) naming every field with a broken rule, or None when the payload passes."""
        problems: dict[str, Any] = {}
        for rule in self.rules:
            if rule.named not in problems:
                for value, holder in _walk(payload, rule.path):
                    if rule.broken(value, holder, state):
                        problems[rule.named] = rule.message(value)
        return (self.status, self.body(problems)) if problems else None
