"""OData collections as a stand-in serves them: ``$filter``, ``$select``, ``$orderby``, ``$top``,
``$skip`` and server-driven paging with ``Prefer: odata.maxpagesize`` and a next link.

* ``$filter`` (https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html,
  §5.1.1): ``eq ne gt ge lt le``, ``and or not``, parentheses, string literals (``'O''Brien'``),
  numbers, ``null``, ``true``/``false``, property paths and the ``any`` lambda over a collection
  property (``DocumentLines/any(d: d/BaseEntry eq 7)``). Strings compare as text, which orders
  ``YYYY-MM-DD`` dates and ``HH:MM:SS`` times correctly. Anything else is an :class:`ODataError`,
  answered by the stand-in in its own error body.
* Paging (the protocol, §8.2.8.3 ``odata.maxpagesize``; §11.2.5.7 server-driven paging): a page
  holds at most the preferred size (else the service's default), and the body names the next page
  as a link relative to the service root, the original options kept and ``$skip`` moved on, under
  the version's key: ``odata.nextLink`` (v3 JSON, as SAP Business One's ``/b1s/v1`` answers) or
  ``@odata.nextLink`` (v4). ``odata.maxpagesize=0`` asks for everything at once.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<punct>[(),:])"
                   r"|(?P<name>[A-Za-z_$][\w/$]*))")
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b}
CONSTANTS = {"null": None, "true": True, "false": False}
Test = Callable[[Mapping[str, Any], dict[str, Any]], bool]


class ODataError(ValueError):
    """A query option the service cannot read; the message says where."""


def tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(text.rstrip()):
        match = TOKEN.match(text, at)
        if not match or match.end() == at:
            raise ODataError(f"Syntax error in '$filter' near position {at}: {text[at:at + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        at = match.end()
    return out


class _Parser:
    """Recursive descent over the tokens: or → and → not → comparison | lambda | ( … )."""

    def __init__(self, text: str) -> None:
        self.tokens, self.at = tokens(text), 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end" or (value is not None and token[1] != value):
            raise ODataError(f"Syntax error in '$filter': expected {value or 'more'}, found {token[1] or 'the end'}")
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
        operator = self.take()[1]
        if operator not in COMPARE:
            raise ODataError(f"Syntax error in '$filter': unknown operator {operator!r}")
        right = self.take()
        compare, get_left, get_right = COMPARE[operator], self.operand(kind, left), self.operand(*right)
        return lambda row, env: compare(get_left(row, env), get_right(row, env))

    def lambda_any(self, collection: str) -> Test:
        self.take("(")
        variable = self.take()[1]
        self.take(":")
        inner = self.expression()
        self.take(")")
        items = self.operand("name", collection)
        return lambda row, env: any(inner(row, {**env, variable: item}) for item in items(row, env) or [])

    @staticmethod
    def operand(kind: str, text: str) -> Callable[[Mapping[str, Any], dict[str, Any]], Any]:
        if kind == "string":
            value: Any = text[1:-1].replace("''", "'")
        elif kind == "number":
            value = float(text) if "." in text else int(text)
        elif text in CONSTANTS:
            value = CONSTANTS[text]
        else:
            head, *rest = text.split("/")

            def resolve(row: Mapping[str, Any], env: dict[str, Any]) -> Any:
                found: Any = env[head] if head in env else row.get(head)
                for part in rest:
                    found = found.get(part) if isinstance(found, Mapping) else None
                return found
            return resolve
        return lambda row, env: value


def parse_filter(text: str) -> Callable[[Mapping[str, Any]], bool]:
    """A ``$filter`` as a test of one record (raises :class:`ODataError` when it cannot be read)."""
    parser = _Parser(text)
    test = parser.expression()
    if parser.peek()[0] != "end":
        raise ODataError(f"Syntax error in '$filter': unexpected {parser.peek()[1]!r}")
    return lambda row: bool(test(row, {}))


def page_size(prefer: str | None, default: int) -> int | None:
    """The page size a ``Prefer`` header asks for (None: no paging), else ``default``."""
    match = re.search(r"odata\.maxpagesize=(\d+)", prefer or "")
    size = int(match.group(1)) if match else default
    return None if size == 0 else size


@dataclass(frozen=True)
class Query:
    """One collection query, read from the request's options."""

    options: dict[str, str]

    def apply(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Filtered and ordered rows, before ``$skip``/``$top`` and paging."""
        test = parse_filter(self.options["$filter"]) if self.options.get("$filter") else None
        chosen = [dict(row) for row in rows if test is None or test(row)]
        for clause in reversed([c.strip() for c in self.options.get("$orderby", "").split(",") if c.strip()]):
            field, _, direction = clause.partition(" ")
            chosen.sort(key=lambda row: (row.get(field) is not None, row.get(field)), reverse=direction == "desc")
        return chosen

    def select(self, row: Mapping[str, Any]) -> dict[str, Any]:
        wanted = [f.strip() for f in self.options.get("$select", "").split(",") if f.strip()]
        return {k: v for k, v in row.items() if k in wanted} if wanted else dict(row)

    def page(self, collection: str, rows: Iterable[Mapping[str, Any]], size: int | None,
             next_key: str = "odata.nextLink") -> dict[str, Any]:
        """``{"value": [...], next_key: "Collection?…&$skip=N"}`` for the page these options ask for."""
        try:
            skip, top = int(self.options.get("$skip", 0)), self.options.get("$top")
            limit = None if top is None else int(top)
        except ValueError:
            raise ODataError("Invalid value for '$skip' or '$top'") from None
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
