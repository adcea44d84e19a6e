"""OData collections as a stand-in serves them: one reader of ``$filter``, ``$select``, ``$orderby``,
``$top`` and ``$skip``, and server-driven paging in the two styles the back offices answer with.

* ``$filter`` (https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html,
  §5.1.1): ``eq ne gt ge lt le``, ``and or not``, parentheses, string literals (``'O''Brien'``),
  numbers, ``null``, ``true``/``false``, bare date-time literals (``2024-01-01T00:00:00Z``, compared
  as instants with the record's ISO text), property paths and the ``any`` lambda over a collection
  property (``DocumentLines/any(d: d/BaseEntry eq 7)``). Strings compare as text, which orders
  ``YYYY-MM-DD`` dates and ``HH:MM:SS`` times correctly. Given the entity's ``fields``, a property it
  does not have is refused (as Business Central does). Anything else is an :class:`ODataError` with
  the service's wording, answered by the stand-in in its own error body.
* ``$orderby`` puts nulls first ascending and last descending (§5.1.1.15 of the same part).
* Paging (Part 1, §8.2.8.3 ``odata.maxpagesize``; §11.2.6.7 server-driven paging): a page holds at
  most the preferred size (else the service's default). :meth:`Query.page` names the next page as a
  link relative to the service root, the original options kept and ``$skip`` moved on, under the
  version's key: ``odata.nextLink`` (v3 JSON, as SAP Business One's ``/b1s/v1`` answers) or
  ``@odata.nextLink`` (v4); ``odata.maxpagesize=0`` asks for everything at once.
  :class:`ODataPages` answers the v4 way Business Central does: an absolute ``@odata.nextLink``
  repeating the query with a ``$skiptoken``, and ``Preference-Applied`` when a size was preferred.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi.responses import Response

from sandbox.kit.standin import Call

TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')"
                   r"|(?P<instant>\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)"
                   r"|(?P<number>-?\d+(?:\.\d+)?)|(?P<punct>[(),:])|(?P<name>[A-Za-z_$][\w/$]*))")
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b}
CONSTANTS = {"null": None, "true": True, "false": False}
SYNTAX = "Bad Request - Error in query syntax."
Getter = Callable[[Mapping[str, Any], dict[str, Any]], Any]
Test = Callable[[Mapping[str, Any], dict[str, Any]], bool]


class ODataError(ValueError):
    """A query option the service cannot read; the message says where."""


def instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(text.rstrip()):
        match = TOKEN.match(text, at)
        if not match or match.end() == at:
            raise ODataError(f"Syntax error at position {at} in '{text}'.")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        at = match.end()
    return out


def _compare(operator: str) -> Callable[[Any, Any], bool]:
    compare = COMPARE[operator]

    def both(a: Any, b: Any) -> bool:
        if isinstance(b, datetime) and isinstance(a, str):
            a = instant(a)
        elif isinstance(a, datetime) and isinstance(b, str):
            b = instant(b)
        return compare(a, b)
    return both


class _Parser:
    """Recursive descent over the tokens: or → and → not → comparison | lambda | ( … )."""

    def __init__(self, text: str, fields: frozenset[str] | None) -> None:
        self.tokens, self.at, self.fields, self.variables = tokens(text), 0, fields, set[str]()

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end":
            raise ODataError(SYNTAX)
        if value is not None and token[1] != value:
            raise ODataError(f"'{value}' or operator expected.")
        self.at += 1
        return token

    def either(self, word: str, operand: Callable[[], Test], join: Callable[[Iterable[bool]], bool]) -> Test:
        parts = [operand()]
        while self.peek() == ("name", word):
            self.take()
            parts.append(operand())
        return parts[0] if len(parts) == 1 else (lambda row, env: join(part(row, env) for part in parts))

    def expression(self) -> Test:
        return self.either("or", lambda: self.either("and", self.unary, all), any)

    def unary(self) -> Test:
        if self.peek() == ("name", "not"):
            self.take()
            inner = self.unary()
            return lambda row, env: not inner(row, env)
        if self.peek() == ("punct", "("):
            self.take("(")
            inner = self.expression()
            self.take(")")
            return inner
        kind, left = self.take()
        if kind == "name" and left.endswith("/any") and self.peek() == ("punct", "("):
            return self.lambda_any(left[:-4])
        get_left = self.operand(kind, left)
        operator = self.take()[1]
        if operator not in COMPARE:
            raise ODataError(f"Syntax error: unknown operator '{operator}'.")
        compare, get_right = _compare(operator), self.operand(*self.take())
        return lambda row, env: compare(get_left(row, env), get_right(row, env))

    def lambda_any(self, collection: str) -> Test:
        items = self.operand("name", collection)
        self.take("(")
        variable = self.take()[1]
        self.take(":")
        self.variables.add(variable)
        inner = self.expression()
        self.variables.discard(variable)
        self.take(")")
        return lambda row, env: any(inner(row, {**env, variable: item}) for item in items(row, env) or [])

    def operand(self, kind: str, text: str) -> Getter:
        if kind == "string":
            value: Any = text[1:-1].replace("''", "'")
        elif kind == "instant":
            value = instant(text)
        elif kind == "number":
            value = float(text) if "." in text else int(text)
        elif kind == "name" and text in CONSTANTS:
            value = CONSTANTS[text]
        elif kind == "name":
            return self.path(text)
        else:
            raise ODataError(SYNTAX)
        return lambda row, env: value

    def path(self, text: str) -> Getter:
        head, *rest = text.split("/")
        if self.fields is not None and head not in self.fields and head not in self.variables:
            raise ODataError(f"Could not find a property named '{head}' on the entity.")

        def resolve(row: Mapping[str, Any], env: dict[str, Any]) -> Any:
            found: Any = env[head] if head in env else row.get(head)
            for part in rest:
                found = found.get(part) if isinstance(found, Mapping) else None
            return found
        return resolve


def parse_filter(text: str | None, fields: Sequence[str] | None = None) -> Callable[[Mapping[str, Any]], bool]:
    """A ``$filter`` as a test of one record, every record passing when there is none (raises
    :class:`ODataError` when it cannot be read, or names a property outside ``fields`` if given)."""
    if not text:
        return lambda row: True
    parser = _Parser(text, None if fields is None else frozenset(fields))
    test = parser.expression()
    if parser.peek()[0] != "end":
        raise ODataError(SYNTAX)
    return lambda row: bool(test(row, {}))


def page_size(prefer: str | None, default: int) -> int | None:
    """The page size a ``Prefer`` header asks for (None: no paging), else ``default``."""
    match = re.search(r"odata\.maxpagesize=(\d+)", prefer or "")
    size = int(match.group(1)) if match else default
    return None if size == 0 else size


def _names(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@dataclass(frozen=True)
class Query:
    """One collection query, read from the request's options; ``fields`` (when given) are the
    entity's properties, the only ones ``$filter`` and ``$orderby`` may name."""

    options: Mapping[str, str]
    fields: Sequence[str] | None = None

    def apply(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Filtered and ordered rows, before ``$skip``/``$top`` and paging."""
        test = parse_filter(self.options.get("$filter"), self.fields)
        chosen = [dict(row) for row in rows if test(row)]
        for clause in reversed(_names(self.options.get("$orderby"))):
            field, _, direction = clause.partition(" ")
            if self.fields is not None and field not in self.fields:
                raise ODataError(f"Could not find a property named '{field}' on the entity.")
            chosen.sort(key=lambda row: (row.get(field) is not None, row.get(field)),
                        reverse=direction.strip() == "desc")
        return chosen

    def select(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The ``$select``-ed properties (with any ``$expand``-ed ones and ``@`` annotations)."""
        wanted = set(_names(self.options.get("$select")))
        if not wanted:
            return dict(row)
        wanted |= set(_names(self.options.get("$expand")))
        return {k: v for k, v in row.items() if k in wanted or k.startswith("@")}

    def number(self, option: str) -> int | None:
        try:
            return int(self.options[option]) if self.options.get(option) else None
        except ValueError:
            raise ODataError(f"Invalid value for '{option}'") from None

    def page(self, collection: str, rows: Iterable[Mapping[str, Any]], size: int | None,
             next_key: str = "odata.nextLink") -> dict[str, Any]:
        """``{"value": [...], next_key: "Collection?…&$skip=N"}`` for the page these options ask for."""
        skip, limit = self.number("$skip") or 0, self.number("$top")
        chosen = self.apply(rows)[skip:]
        if limit is not None:
            chosen = chosen[:limit]
        shown = chosen if size is None else chosen[:size]
        body: dict[str, Any] = {"value": [self.select(row) for row in shown]}
        if len(shown) < len(chosen):
            rest = {**self.options, "$skip": str(skip + len(shown))}
            if limit is not None:
                rest["$top"] = str(limit - len(shown))
            body[next_key] = f"{collection}?" + "&".join(f"{k}={quote(v, safe='$,()=:/')}" for k, v in rest.items())
        return body


@dataclass(frozen=True)
class ODataPages:
    """Business Central's server-driven paging over records already in key order: ``max_page``
    unless the client prefers fewer, ``$top`` before the ``$skiptoken``, ``refuse(message)`` the
    platform's 400 body."""

    refuse: Callable[[str], Any]
    max_page: int = 20_000

    def answer(self, call: Call[Any], records: Sequence[dict[str, Any]], fields: Sequence[str],
               render: Callable[[dict[str, Any]], dict[str, Any]] = dict, context: str = "") -> Response:
        query = Query(call.query, fields)
        try:
            chosen, top, skip = query.apply(records), query.number("$top"), query.number("$skiptoken") or 0
        except ODataError as exc:
            raise call.refuse(self.refuse(str(exc)), 400) from None
        chosen = chosen[:top] if top is not None else chosen
        preferred = re.search(r"odata\.maxpagesize=(\d+)", call.request.headers.get("Prefer", ""))
        size = min(self.max_page, int(preferred.group(1))) if preferred else self.max_page
        body: dict[str, Any] = {"@odata.context": context,
                                "value": [query.select(render(r)) for r in chosen[skip:skip + size]]}
        if skip + size < len(chosen):
            base = str(call.request.url).split("?")[0]
            body["@odata.nextLink"] = f"{base}?{urlencode({**call.query, '$skiptoken': skip + size})}"
        return call.reply(body, headers={"Preference-Applied": f"odata.maxpagesize={size}"} if preferred else None)
