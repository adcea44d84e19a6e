"""A GraphQL endpoint for a stand-in: a query parsed and answered from plain JSON objects.

Enough of the language (https://spec.graphql.org/October2021/) for the reads a client sends: one
``query`` operation (named or not, its variable definitions), fields with aliases and arguments
(``$variables``, strings, numbers, enum names), nested selection sets and inline fragments
(``... on Type { }``). A stand-in keeps each object as a dict whose ``__typename`` names its type
and whose keys are its fields; a connection is an object with ``nodes`` and ``edges``. The answer
holds exactly the fields asked for; a field the object does not have is refused as the GraphQL
Admin API refuses it, ``{"errors": [{"message": "Field 'x' doesn't exist on type 'T'", ...,
"extensions": {"code": "undefinedField", "typeName": "T", "fieldName": "x"}}]}``
(https://shopify.dev/docs/api/usage/response-codes#graphql), and so is a variable the query
declares but the request does not give. A ``mutation`` operation is answered from the mutation
resolvers a stand-in gives (``answer(..., mutations=)``), its root fields run in order; input
objects come as ``$variables`` or written out (``{id: "…", note: "…"}``). Fragments by name and
directives are not parsed: a query using them is refused as unparsable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

TOKEN = re.compile(r'\s*(?:(\.\.\.)|([{}()\[\]:!$=@,])|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?)|([_A-Za-z][_0-9A-Za-z]*))')


class QueryError(ValueError):
    """A query this endpoint refuses: its ``errors`` entry."""

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.entry: dict[str, Any] = {"message": message, **({"extensions": extensions} if extensions else {})}


@dataclass
class Selection:
    """A field (``name``, shown as ``alias``, with ``args``) or an inline fragment (``on`` a type)."""

    name: str = ""
    alias: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    children: list["Selection"] = field(default_factory=list)
    on: str | None = None


def tokens(text: str) -> list[str]:
    found, at = [], 0
    text = re.sub(r"#[^\n]*", "", text)
    while at < len(text.rstrip()):
        match = TOKEN.match(text, at)
        if match is None:
            raise QueryError(f"Parse error on {text[at:at + 20]!r}", code="parseError")
        at = match.end()
        if match.group(0).strip() != ",":
            found.append(match.group(0).strip())
    return found


class _Parser:
    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        self.tokens, self.at, self.variables = tokens(text), 0, variables
        self.operation = "query"

    def peek(self) -> str:
        return self.tokens[self.at] if self.at < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            raise QueryError(f"Parse error on {token!r} (expected {expected or 'more'})", code="parseError")
        self.at += 1
        return token

    def document(self) -> list[Selection]:
        if self.peek() in ("query", "mutation"):
            self.operation = self.take()
            if self.peek() not in ("{", "("):
                self.take()  # the operation's name
            if self.peek() == "(":
                self.declared()
        elif self.peek() != "{":
            raise QueryError(f"this endpoint answers queries and mutations, not {self.peek()!r}", code="parseError")
        selections = self.selection_set()
        if self.peek():
            raise QueryError(f"Parse error on {self.peek()!r}: one operation per request", code="parseError")
        return selections

    def declared(self) -> None:
        """``($id: ID!, ...)``: each declared variable must be given (none here has a default)."""
        self.take("(")
        while self.peek() != ")":
            self.take("$")
            name = self.take()
            self.take(":")
            while self.peek() not in ("$", ")"):
                self.take()
            if name not in self.variables:
                raise QueryError(f"Variable ${name} of type ID! was provided invalid value", code="INVALID_VARIABLE")
        self.take(")")

    def selection_set(self) -> list[Selection]:
        self.take("{")
        found = []
        while self.peek() != "}":
            found.append(self.selection())
        self.take("}")
        return found

    def selection(self) -> Selection:
        if self.peek() == "...":
            self.take()
            self.take("on")
            on = self.take()
            return Selection(on=on, children=self.selection_set())
        alias = name = self.take()
        if self.peek() == ":":
            self.take()
            name = self.take()
        args: dict[str, Any] = {}
        if self.peek() == "(":
            self.take()
            while self.peek() != ")":
                key = self.take()
                self.take(":")
                args[key] = self.value()
            self.take(")")
        return Selection(name, alias, args, self.selection_set() if self.peek() == "{" else [])

    def value(self) -> Any:
        token = self.take()
        if token == "{":  # an input object written out
            found: dict[str, Any] = {}
            while self.peek() != "}":
                key = self.take()
                self.take(":")
                found[key] = self.value()
            self.take("}")
            return found
        if token == "[":
            items = []
            while self.peek() != "]":
                items.append(self.value())
            self.take("]")
            return items
        if token == "$":
            return self.variables.get(self.take())
        if token.startswith('"'):
            return bytes(token[1:-1], "utf-8").decode("unicode_escape")
        if re.fullmatch(r"-?\d+", token):
            return int(token)
        return {"true": True, "false": False, "null": None}.get(token, token)


def parse(query: str, variables: dict[str, Any] | None = None) -> list[Selection]:
    """The top-level selections of ``query``, with its variables put in place."""
    return _Parser(query, variables or {}).document()


def parse_operation(query: str, variables: dict[str, Any] | None = None) -> tuple[str, list[Selection]]:
    """``("query" | "mutation", its top-level selections)``."""
    parser = _Parser(query, variables or {})
    selections = parser.document()
    return parser.operation, selections


def project(value: Any, selections: list[Selection], path: list[str]) -> Any:
    """``value`` (an object, a list of them, or a scalar) cut down to what ``selections`` ask for."""
    if isinstance(value, list):
        return [project(item, selections, path) for item in value]
    if not isinstance(value, dict) or not selections:
        return value
    shown: dict[str, Any] = {}
    for one in selections:
        if one.on is not None:
            if value.get("__typename") == one.on:
                shown.update(project(value, one.children, path))
            continue
        if one.name not in value:
            type_name = str(value.get("__typename", "Object"))
            raise QueryError(f"Field '{one.name}' doesn't exist on type '{type_name}'", code="undefinedField",
                             typeName=type_name, fieldName=one.name)
        first = one.args.get("first")
        if isinstance(first, int) and first > 250:
            raise QueryError("The page size cannot be greater than 250", code="MAX_PAGE_SIZE_EXCEEDED")
        shown[one.alias] = project(value[one.name], one.children, [*path, one.alias])
    return shown


#: A root field's resolver: its arguments → the object (None: not found).
Resolver = Callable[[dict[str, Any]], Any]


def answer(query: Any, variables: Any, roots: dict[str, Resolver],
           mutations: dict[str, Resolver] | None = None) -> dict[str, Any]:
    """The response to one request: ``{"data": {...}}``, or ``{"errors": [...]}`` for a refused query."""
    if not isinstance(query, str) or not query.strip():
        return {"errors": [{"message": "No query string was present"}]}
    try:
        data: dict[str, Any] = {}
        operation, selections = parse_operation(query, variables if isinstance(variables, dict) else {})
        resolvers, type_name = (roots, "QueryRoot") if operation == "query" else (mutations or {}, "Mutation")
        for root in selections:
            if root.on is not None or root.name not in resolvers:
                raise QueryError(f"Field '{root.name}' doesn't exist on type '{type_name}'", code="undefinedField",
                                 typeName=type_name, fieldName=root.name)
            found = resolvers[root.name](root.args)
            data[root.alias] = None if found is None else project(found, root.children, [root.alias])
    except QueryError as exc:
        return {"errors": [exc.entry]}
    return {"data": data}
