"""OData v4 collections as a stand-in serves them: ``$filter``, ``$select``, ``$orderby``, ``$top``,
server-driven paging with ``@odata.nextLink`` and the ``odata.maxpagesize`` preference.

From OData v4.01 (https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html):
``$filter`` with the comparison operators ``eq ne gt ge lt le``, ``and`` / ``or`` / ``not`` and
parentheses, over string literals (single quotes, ``''`` for a quote), numbers, ``true`` / ``false`` /
``null`` and bare date-time literals (``2024-01-01T00:00:00Z``); a property the entity does not have
is refused. Paging follows Part 1 §11.2.6.7 (a page too large ends with ``@odata.nextLink``, an
opaque link repeating the query with a ``$skiptoken``) and §8.2.8.3 (``Prefer:
odata.maxpagesize=N`` answered with ``Preference-Applied``). What the platform says when it refuses
is the stand-in's ``refuse(message)``.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import Response

from sandbox.kit.standin import Call

TOKEN = re.compile(r"(\(|\)|'(?:[^']|'')*'|\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?|-?\d+(?:\.\d+)?"
                   r"|[A-Za-z_][A-Za-z0-9_/]*)")
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a is not None and a > b,
    "ge": lambda a, b: a is not None and a >= b, "lt": lambda a, b: a is not None and a < b,
    "le": lambda a, b: a is not None and a <= b}
Test = Callable[[dict[str, Any]], bool]


class QueryError(ValueError):
    """A query option the service refuses; the message is what it says."""


def instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _value(token: str) -> Any:
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    if token in ("true", "false"):
        return token == "true"
    if token == "null":
        return None
    when = instant(token) if "T" in token else None
    if when is not None:
        return when
    try:
        return float(token) if "." in token else int(token)
    except ValueError:
        raise QueryError(f"Syntax error at '{token}'.") from None


def _field(record: dict[str, Any], name: str, right: Any) -> Any:
    value = record.get(name)
    if isinstance(right, datetime) and isinstance(value, str):
        return instant(value)
    return value


class _Parser:
    def __init__(self, text: str, fields: frozenset[str]) -> None:
        self.tokens: list[str] = []
        self.fields, self.at, position = fields, 0, 0
        while position < len(text):
            if text[position].isspace():
                position += 1
                continue
            match = TOKEN.match(text, position)
            if match is None:
                raise QueryError(f"Syntax error at position {position} in '{text}'.")
            self.tokens.append(match.group(1))
            position = match.end()

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise QueryError("Bad Request - Error in query syntax.")
        self.at += 1
        return token

    def expression(self) -> Test:
        tests = [self.term()]
        while self.peek() == "or":
            self.take()
            tests.append(self.term())
        return lambda r: any(t(r) for t in tests)

    def term(self) -> Test:
        tests = [self.factor()]
        while self.peek() == "and":
            self.take()
            tests.append(self.factor())
        return lambda r: all(t(r) for t in tests)

    def factor(self) -> Test:
        token = self.take()
        if token == "(":
            inner = self.expression()
            if self.take() != ")":
                raise QueryError("')' or operator expected.")
            return inner
        if token == "not":
            negated = self.factor()
            return lambda r: not negated(r)
        if token not in self.fields:
            raise QueryError(f"Could not find a property named '{token}' on the entity.")
        operator, right = self.take(), _value(self.take())
        if operator not in OPERATORS:
            raise QueryError(f"Syntax error: unknown operator '{operator}'.")
        compare = OPERATORS[operator]
        return lambda r: compare(_field(r, token, right), right)


def parse_filter(text: str | None, fields: Sequence[str]) -> Test:
    """The ``$filter`` as a test on records (every record passes when there is none)."""
    if not text:
        return lambda record: True
    parser = _Parser(text, frozenset(fields))
    test = parser.expression()
    if parser.peek() is not None:
        raise QueryError("Bad Request - Error in query syntax.")
    return test


@dataclass(frozen=True)
class ODataPages:
    """Server-driven paging over records already in key order: ``max_page`` unless the client
    prefers fewer, ``refuse(message)`` the platform's 400 body."""

    refuse: Callable[[str], Any]
    max_page: int = 20_000

    def answer(self, call: Call[Any], records: Sequence[dict[str, Any]], fields: Sequence[str],
               render: Callable[[dict[str, Any]], dict[str, Any]] = dict, context: str = "") -> Response:
        query = call.query
        try:
            test = parse_filter(query.get("$filter"), fields)
            chosen = [r for r in records if test(r)]
            for part in reversed([p.strip() for p in (query.get("$orderby") or "").split(",") if p.strip()]):
                name, _, direction = part.partition(" ")
                if name not in fields:
                    raise QueryError(f"Could not find a property named '{name}' on the entity.")
                chosen.sort(key=lambda r: (r.get(name) is None, r.get(name)), reverse=direction.strip() == "desc")
            top = int(query["$top"]) if "$top" in query else None
            skip = int(query.get("$skiptoken") or 0)
        except (QueryError, ValueError) as exc:
            raise call.refuse(self.refuse(str(exc)), 400) from None
        chosen = chosen[:top] if top is not None else chosen
        preferred = re.search(r"odata\.maxpagesize=(\d+)", call.request.headers.get("Prefer", ""))
        size = min(self.max_page, int(preferred.group(1))) if preferred else self.max_page
        keep = {f for f in (query.get("$select") or "").split(",") if f}
        keep |= {f for f in (query.get("$expand") or "").split(",") if f} if keep else set()
        page = [{k: v for k, v in render(r).items() if not keep or k in keep or k.startswith("@")}
                for r in chosen[skip:skip + size]]
        body: dict[str, Any] = {"@odata.context": context, "value": page}
        if skip + size < len(chosen):
            base = str(call.request.url).split("?")[0]
            body["@odata.nextLink"] = f"{base}?{urlencode({**query, '$skiptoken': skip + size})}"
        return call.reply(body, headers={"Preference-Applied": f"odata.maxpagesize={size}"} if preferred else None)
