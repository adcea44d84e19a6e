"""The Airtable stand-in's declarations: the base's state, its token, its rate limit, its errors
and the formula subset ``filterByFormula`` understands."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.limits import Penalized, Penalty

DEFAULT_TOKEN = "patSandbox.airtable_token"
DEFAULT_BASE = "appSandboxBase001"
TOKENS = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<field>\{[^}]*\})|(?P<num>\d+)"
                    r"|(?P<name>[A-Z_]+)|(?P<op>[(),=]))")


def error(kind: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status)


class FormulaError(ValueError):
    """What Airtable answers 422 ``INVALID_FILTER_BY_FORMULA`` for."""


@dataclass
class AirtableState(KitState):
    """One base: the token, the inventory table's fields and rows, its webhooks and their payloads."""

    token: str = DEFAULT_TOKEN
    base_id: str = DEFAULT_BASE
    table: str = "Inventory"
    table_id: str = "tblInventory00001"
    fields: list[str] = field(default_factory=lambda: ["SKU", "Quantity", "Location", "Committed", "Backorder status"])
    #: Row id → ``{"id", "createdTime", "fields", "modified": {field: datetime}}``, in creation order.
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    penalty: Penalty = field(default_factory=Penalty)
    hooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Every change as a webhook payload, the base's transactions in order (cursor N is the N-th).
    payloads: list[dict[str, Any]] = field(default_factory=list)


def check_token(call: Call[Any]) -> JSONResponse | None:
    header = call.request.headers.get("authorization", "")
    if header != f"Bearer {call.state.token}":
        return error("AUTHENTICATION_REQUIRED", "Authentication required", 401)
    return None


def evaluate(formula: str, row: dict[str, Any]) -> Any:
    """The formula's value for one row (a truthy value keeps the row)."""
    tokens = [(m.lastgroup, m.group(m.lastgroup)) for m in TOKENS.finditer(formula) if m.lastgroup]
    if "".join(text for _, text in tokens).replace(" ", "") != formula.replace(" ", ""):
        raise FormulaError(f"cannot read {formula!r}")
    value, rest = _expr(tokens, row)
    if rest:
        raise FormulaError(f"unexpected {rest[0][1]!r}")
    return value


def _expr(tokens: list[tuple[str | None, str]], row: dict[str, Any]) -> tuple[Any, list[Any]]:
    left, rest = _term(tokens, row)
    if rest and rest[0] == ("op", "="):
        right, rest = _term(rest[1:], row)
        return left == right, rest
    return left, rest


def _term(tokens: list[tuple[str | None, str]], row: dict[str, Any]) -> tuple[Any, list[Any]]:
    if not tokens:
        raise FormulaError("the formula ends too early")
    (kind, text), rest = tokens[0], tokens[1:]
    if kind == "str":
        return re.sub(r"\\(.)", r"\1", text[1:-1]), rest
    if kind == "num":
        return int(text), rest
    if kind == "field":
        return row["fields"].get(_known(row, text[1:-1])), rest
    if kind != "name" or not rest or rest[0] != ("op", "("):
        raise FormulaError(f"unexpected {text!r}")
    args, rest = [], rest[1:]
    while rest and rest[0] != ("op", ")"):
        if kind == "name" and text == "LAST_MODIFIED_TIME" and rest[0][0] == "field":
            args.append(_known(row, rest[0][1][1:-1]))
            rest = rest[1:]
        else:
            value, rest = _expr(rest, row)
            args.append(value)
        rest = rest[1:] if rest and rest[0] == ("op", ",") else rest
    return _call(text, args, row), rest[1:]


def _known(row: dict[str, Any], name: str) -> str:
    if name not in row["known"]:
        raise FormulaError(f"Unknown field names: {name.lower()}")
    return name


def _call(name: str, args: list[Any], row: dict[str, Any]) -> Any:
    if name == "RECORD_ID":
        return row["id"]
    if name == "LAST_MODIFIED_TIME":
        times = [row["modified"].get(f) for f in args or row["modified"]]
        return max((t for t in times if t), default=None)
    if name == "DATETIME_PARSE":
        return datetime.fromisoformat(str(args[0]).replace("Z", "+00:00"))
    if name == "IS_AFTER":
        return args[0] is not None and args[1] is not None and args[0] > args[1]
    if name in ("OR", "AND"):
        return (any if name == "OR" else all)(bool(a) for a in args)
    if name == "NOT":
        return not args[0]
    raise FormulaError(f"Unknown function names: {name}")


kit: StandIn[AirtableState] = StandIn(
    "airtable", "/v0", AirtableState, auth=check_token,
    error_body=lambda status: JSONResponse({"error": {"type": "SERVER_ERROR", "message": "Server error"}}, status),
    limit=Penalized(lambda: {"errors": [{"error": "RATE_LIMIT_REACHED",
                                         "message": "Rate limit exceeded. Please try again later"}]}))
