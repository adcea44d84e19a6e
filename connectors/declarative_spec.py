"""The ``rest`` platform's description, read from a store's ``options`` with problems that name the key.

A store whose platform is ``rest`` is described entirely in the TOML file: auth, the stock (and
optionally orders) collection with its pagination, cursor and field mapping, an optional stock
write-back and an optional webhook signature scheme (``docs/connectors.md``, "A REST platform
from the TOML file"). :func:`read_spec` turns the parsed ``[[stores]]`` table into a
:class:`RestSpec` and lists every problem as ``(key path under the store, message)``, so
``backorders config check`` reports ``stores[3].options.stock.fields.sku: missing …`` and the
connector refuses a description that would fail at the first poll.

Field paths are JSONPath-like dotted paths into one raw record: ``sku``, ``product.sku``,
``levels[0].qty``, ``$`` for the record itself (a leading ``$.`` is allowed). Pagination styles are
those of ``connectors.paging``: ``link_header`` (RFC 8288 ``Link: <…>; rel="next"``,
https://www.rfc-editor.org/rfc/rfc8288), ``page_number``, ``offset`` and ``next_link`` (a next URL
in the body). Webhook signatures are HMAC-SHA256 (RFC 2104, https://www.rfc-editor.org/rfc/rfc2104)
of the raw body, hex or base64, optionally behind a prefix such as GitHub's ``sha256=``
(https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries); or, for a
platform that signs nothing (Odoo's webhook action), ``encoding = "secret"``: the store's secret
itself in a header (``signature_header``) or in a query parameter of the address (``signature_param``,
``connectors.signing.query_value``), compared in constant time.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from connectors.values import money_cents, nonblank_id_str, parse_timestamp, whole_units

Problem = tuple[str, str]
SEGMENT = re.compile(r"^([^.\[\]\s]+)?((?:\[\d+\])*)$")

#: Value types a mapped field may be coerced to, grouped by what a target field can hold.
COERCE: Mapping[str, Callable[[Any], Any]] = {
    "string": nonblank_id_str,
    "int": whole_units,
    "bool": lambda v: None if v is None else (v.strip().lower() in ("true", "yes", "1", "y", "on")
                                              if isinstance(v, str) else bool(v)),
    "timestamp": lambda v: parse_timestamp(v) if isinstance(v, str) else None,
    "epoch_seconds": lambda v: _epoch(v, 1),
    "epoch_millis": lambda v: _epoch(v, 1000),
    "cents": lambda v: None if v is None else money_cents(v),
}
FAMILIES: Mapping[str, tuple[str, ...]] = {
    "string": ("string",), "int": ("int",), "bool": ("bool",), "cents": ("cents",),
    "timestamp": ("timestamp", "epoch_seconds", "epoch_millis"),
}
STOCK_FIELDS: Mapping[str, str] = {
    "external_id": "string", "sku": "string", "location": "string", "available": "int", "on_hand": "int",
    "committed": "int", "updated_at": "timestamp", "inventory_item_id": "string",
    "parent_external_id": "string", "backorders_allowed": "bool", "reorder_point": "int",
}
ORDER_FIELDS: Mapping[str, str] = {
    "external_id": "string", "number": "string", "placed_at": "timestamp", "email": "string", "phone": "string",
    "customer_name": "string", "currency": "string", "total": "cents", "status": "string",
    "updated_at": "timestamp",
}
LINE_FIELDS: Mapping[str, str] = {
    "external_id": "string", "sku": "string", "quantity": "int", "title": "string", "price": "cents",
    "variant_external_id": "string",
}
PAGINATION_KEYS: Mapping[str, frozenset[str]] = {
    "link_header": frozenset({"size_param", "page_size"}),
    "page_number": frozenset({"page_param", "size_param", "page_size", "total_pages_header"}),
    "offset": frozenset({"offset_param", "limit_param", "limit", "total_field"}),
    "next_link": frozenset({"field", "size_param", "page_size"}),
}
AUTH_KEYS: Mapping[str, frozenset[str]] = {
    "none": frozenset(), "header": frozenset({"header", "credential", "prefix"}),
    "bearer": frozenset({"credential"}), "basic": frozenset({"user", "password"}),
}
WRITE_PLACEHOLDERS = frozenset({"external_id", "sku", "location", "inventory_item_id", "parent_external_id",
                                "available", "backorder"})
WEBHOOK_KINDS = ("inventory_update", "order_created", "sku_modified", "ping", "other")
#: Options every store may carry besides the description (``connectors.http``, ``domain.stock.propagation``).
SHARED_OPTIONS = frozenset({"buffer_floor", "max_retries", "max_retry_after_s"})


def _epoch(value: Any, per_second: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value) / per_second, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


@dataclass(frozen=True)
class FieldPath:
    """A parsed dotted path; :meth:`get` is None wherever the record has no such member."""

    text: str
    steps: tuple[str | int, ...]

    def get(self, record: Any) -> Any:
        value = record
        for step in self.steps:
            if isinstance(step, int):
                value = value[step] if isinstance(value, list) and -len(value) <= step < len(value) else None
            else:
                value = value.get(step) if isinstance(value, Mapping) else None
            if value is None:
                return None
        return value


def parse_path(text: Any) -> FieldPath | None:
    """``a.b[0].c`` → steps ``("a", "b", 0, "c")``; ``$`` (or ``$.`` before a path) is the record
    itself; None when the text is not such a path."""
    if not isinstance(text, str) or not text.strip():
        return None
    body = text.strip()
    if body == "$":
        return FieldPath(text, ())
    body = body[2:] if body.startswith("$.") else body
    steps: list[str | int] = []
    for part in body.split("."):
        match = SEGMENT.match(part)
        if not part or match is None:
            return None
        if match.group(1):
            steps.append(match.group(1))
        steps.extend(int(index) for index in re.findall(r"\[(\d+)\]", match.group(2)))
        if not match.group(1) and not match.group(2):
            return None
    return FieldPath(text, tuple(steps))


@dataclass(frozen=True)
class FieldRule:
    """One target field: where its value sits in the raw record and how it is coerced."""

    path: FieldPath
    type: str

    def value(self, record: Any) -> Any:
        return COERCE[self.type](self.path.get(record))


@dataclass(frozen=True)
class Pagination:
    style: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CursorSpec:
    """The high-water field (a raw path, coerced to a time) and the query parameter it travels in."""

    field: FieldPath
    param: str
    format: str = "iso8601"


@dataclass(frozen=True)
class Lines:
    records: FieldPath
    fields: Mapping[str, FieldRule]


@dataclass(frozen=True)
class ReadSpec:
    path: str
    records: FieldPath
    pagination: Pagination
    fields: Mapping[str, FieldRule]
    params: Mapping[str, Any] = field(default_factory=dict)
    cursor: CursorSpec | None = None
    lines: Lines | None = None


@dataclass(frozen=True)
class AuthSpec:
    scheme: str = "none"
    header: str = ""
    credential: str = ""
    prefix: str = ""
    user: str = ""
    password: str = ""


@dataclass(frozen=True)
class WriteSpec:
    method: str
    path: str
    body: Any


@dataclass(frozen=True)
class WebhookSpec:
    signature_header: str
    encoding: str  # "hex" | "base64" (HMAC-SHA256 of the body) | "secret" (the secret itself)
    prefix: str = ""
    topic_header: str | None = None
    topic_field: FieldPath | None = None
    id_header: str | None = None
    kinds: Mapping[str, str] = field(default_factory=dict)
    records: FieldPath = field(default_factory=lambda: FieldPath("$", ()))
    #: The query parameter carrying the secret (``encoding = "secret"``), where no header can.
    signature_param: str | None = None


@dataclass(frozen=True)
class RestSpec:
    auth: AuthSpec
    stock: ReadSpec
    orders: ReadSpec | None = None
    write: WriteSpec | None = None
    webhooks: WebhookSpec | None = None


class _Check:
    """Collects problems under the store table while reading the description."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def table(self, parent: Mapping[str, Any], key: str, at: str, allowed: frozenset[str] | set[str] | None,
              required: bool = False) -> dict[str, Any] | None:
        """``parent[key]`` as a table (None when absent or not one); keys outside ``allowed`` (any
        when None) are problems."""
        value = parent.get(key)
        if value is None:
            if required:
                self.problem(f"{at}.{key}", "missing (a table)")
            return None
        if not isinstance(value, dict):
            self.problem(f"{at}.{key}", f"expected a table, got {value!r}")
            return None
        known = set(value) if allowed is None else set(allowed)
        for extra in sorted(set(value) - known):
            self.problem(f"{at}.{key}.{extra}", f"unknown key (expected one of {', '.join(sorted(known))})")
        return value

    def text(self, table: Mapping[str, Any], key: str, at: str, default: str | None = None) -> str | None:
        value = table.get(key, default)
        if value is None:
            self.problem(f"{at}.{key}", "missing")
        elif not isinstance(value, str) or not value.strip():
            self.problem(f"{at}.{key}", f"expected a non-empty string, got {value!r}")
            return None
        return value

    def choice(self, table: Mapping[str, Any], key: str, at: str, options: tuple[str, ...] | frozenset[str],
               default: str | None = None) -> str | None:
        value = self.text(table, key, at, default)
        if value is not None and value not in options:
            self.problem(f"{at}.{key}", f"unknown {key} {value!r} (one of {', '.join(sorted(options))})")
            return None
        return value

    def whole(self, table: Mapping[str, Any], key: str, at: str, default: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(f"{at}.{key}", f"expected a whole number ≥ 1, got {value!r}")
            return default
        return value

    def path(self, value: Any, at: str) -> FieldPath | None:
        if value is None:
            self.problem(at, "missing (a field path such as \"lines\" or \"data.items\")")
            return None
        parsed = parse_path(value)
        if parsed is None:
            self.problem(at, f"not a field path like \"product.sku\" or \"levels[0].qty\": {value!r}")
        return parsed

    def url_path(self, table: Mapping[str, Any], key: str, at: str, placeholders: frozenset[str] = frozenset()
                 ) -> str | None:
        value = self.text(table, key, at)
        if value is None:
            return None
        if "://" in value or "?" in value or "#" in value or any(c.isspace() for c in value) \
                or ".." in value.split("/"):
            self.problem(f"{at}.{key}", f"expected a path under base_url like \"v1/stock\" (no scheme, query, "
                                        f"spaces or ..), got {value!r}")
            return None
        unknown = _placeholders(value, f"{at}.{key}", self) - placeholders
        for name in sorted(unknown):
            self.problem(f"{at}.{key}", f"unknown placeholder {{{name}}}"
                         + (f" (one of {', '.join(sorted(placeholders))})" if placeholders else ""))
        return value if not unknown else None


def _placeholders(template: str, at: str, check: _Check) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        check.problem(at, f"bad placeholder in {template!r}: {exc}")
        return set()


def _fields(check: _Check, table: Mapping[str, Any], at: str, targets: Mapping[str, str]) -> dict[str, FieldRule]:
    out: dict[str, FieldRule] = {}
    for name, raw in table.items():
        key = f"{at}.{name}"
        if name not in targets:
            check.problem(key, f"unknown field (one of {', '.join(sorted(targets))})")
            continue
        family = targets[name]
        kind = FAMILIES[family][0]
        if isinstance(raw, dict):
            for extra in sorted(set(raw) - {"path", "type"}):
                check.problem(f"{key}.{extra}", "unknown key (expected path, type)")
            kind = raw.get("type", kind)
            if kind not in FAMILIES[family]:
                check.problem(f"{key}.type", f"{kind!r} cannot fill {name} (use {' or '.join(FAMILIES[family])})")
                continue
            raw, key = raw.get("path"), f"{key}.path"
        path = check.path(raw, key)
        if path is not None:
            out[name] = FieldRule(path, kind)
    return out


def _pagination(check: _Check, read: Mapping[str, Any], at: str) -> Pagination:
    raw = read.get("pagination", {"style": "none"})
    if isinstance(raw, str):
        raw = {"style": raw}
    if not isinstance(raw, dict):
        check.problem(f"{at}.pagination", f"expected a table like {{ style = \"page_number\" }}, got {raw!r}")
        return Pagination("none")
    styles = frozenset({"none", *PAGINATION_KEYS})
    style = check.choice(raw, "style", f"{at}.pagination", styles)
    if style is None:
        return Pagination("none")
    allowed = PAGINATION_KEYS.get(style, frozenset())
    for extra in sorted(set(raw) - allowed - {"style"}):
        check.problem(f"{at}.pagination.{extra}", f"unknown key for style {style!r}"
                      + (f" (expected {', '.join(sorted(allowed))})" if allowed else ""))
    for key in ("page_size", "limit"):
        if key in raw:
            check.whole(raw, key, f"{at}.pagination", 100)
    for key in ("page_param", "size_param", "offset_param", "limit_param", "total_pages_header", "total_field"):
        if key in raw:
            check.text(raw, key, f"{at}.pagination")
    if "field" in raw:
        check.path(raw["field"], f"{at}.pagination.field")
    if style == "next_link" and "field" not in raw:
        check.problem(f"{at}.pagination.field", "missing: the body field holding the next page's URL")
    return Pagination(style, {k: v for k, v in raw.items() if k != "style"})


def _read(check: _Check, options: Mapping[str, Any], name: str, targets: Mapping[str, str],
          required_fields: tuple[str, ...]) -> ReadSpec | None:
    at = f"options.{name}"
    read = check.table(options, name, "options", {"path", "records", "params", "pagination", "cursor", "fields",
                                                   "lines"} if name == "orders" else
                       {"path", "records", "params", "pagination", "cursor", "fields"}, required=name == "stock")
    if read is None:
        return None
    path = check.url_path(read, "path", at)
    records = check.path(read.get("records", "$"), f"{at}.records")
    params = check.table(read, "params", at, None) or {}
    pagination = _pagination(check, read, at)
    fields = check.table(read, "fields", at, None, required=True)
    rules = _fields(check, fields, f"{at}.fields", targets) if fields is not None else {}
    if fields is not None:
        for wanted in required_fields:
            if wanted not in fields:
                label = "a stock record" if name == "stock" else "an order"
                check.problem(f"{at}.fields.{wanted}", f"missing: {label} needs a mapping for {wanted}")
        if name == "stock" and not {"available", "on_hand"} & set(fields):
            check.problem(f"{at}.fields.available", "missing: map the quantity as available or on_hand (or both)")
    cursor = None
    raw_cursor = check.table(read, "cursor", at, {"field", "param", "format"})
    if raw_cursor is not None:
        cursor_path = check.path(raw_cursor.get("field"), f"{at}.cursor.field")
        param = check.text(raw_cursor, "param", f"{at}.cursor")
        fmt = check.choice(raw_cursor, "format", f"{at}.cursor", ("iso8601", "epoch_seconds"), "iso8601")
        mapped = rules.get("updated_at")
        if cursor_path is not None and mapped is not None and mapped.path.steps != cursor_path.steps:
            check.problem(f"{at}.cursor.field", f"{cursor_path.text!r} differs from fields.updated_at "
                                                f"{mapped.path.text!r}: the cursor is the newest updated_at")
        elif cursor_path is not None and mapped is None:
            rules["updated_at"] = FieldRule(cursor_path, "epoch_seconds" if fmt == "epoch_seconds" else "timestamp")
        if cursor_path is not None and param and fmt:
            cursor = CursorSpec(cursor_path, param, fmt)
    lines = None
    if name == "orders":
        raw_lines = check.table(read, "lines", at, {"records", "fields"}, required=True)
        if raw_lines is not None:
            line_records = check.path(raw_lines.get("records"), f"{at}.lines.records")
            line_fields = check.table(raw_lines, "fields", f"{at}.lines", None, required=True)
            line_rules = _fields(check, line_fields or {}, f"{at}.lines.fields", LINE_FIELDS)
            for wanted in ("sku", "quantity"):
                if line_fields is not None and wanted not in line_fields:
                    check.problem(f"{at}.lines.fields.{wanted}", f"missing: an order line needs a mapping for {wanted}")
            if line_records is not None:
                lines = Lines(line_records, line_rules)
    if path is None or records is None:
        return None
    return ReadSpec(path, records, pagination, rules, dict(params), cursor, lines)


def _auth(check: _Check, options: Mapping[str, Any], credentials: set[str]) -> AuthSpec:
    raw = options.get("auth", {"scheme": "none"})
    if not isinstance(raw, dict):
        check.problem("options.auth", f"expected a table like {{ scheme = \"bearer\", credential = \"token\" }}, "
                                      f"got {raw!r}")
        return AuthSpec()
    scheme = check.choice(raw, "scheme", "options.auth", tuple(AUTH_KEYS))
    if scheme is None:
        return AuthSpec()
    for extra in sorted(set(raw) - AUTH_KEYS[scheme] - {"scheme"}):
        check.problem(f"options.auth.{extra}", f"unknown key for scheme {scheme!r}")
    names = {"header": ("credential",), "bearer": ("credential",), "basic": ("user", "password")}.get(scheme, ())
    for key in names:
        name = check.text(raw, key, "options.auth")
        if name is not None and name not in credentials:
            check.problem(f"options.auth.{key}", f"credential {name!r} is not in this store's credentials "
                                                 f"(have: {', '.join(sorted(credentials)) or 'none'})")
    if scheme == "header":
        check.text(raw, "header", "options.auth")
    return AuthSpec(scheme, str(raw.get("header", "")), str(raw.get("credential", "")), str(raw.get("prefix", "")),
                    str(raw.get("user", "")), str(raw.get("password", "")))


def _template_problems(check: _Check, body: Any, at: str) -> None:
    if isinstance(body, dict):
        for key, value in body.items():
            _template_problems(check, value, f"{at}.{key}")
    elif isinstance(body, list):
        for index, value in enumerate(body):
            _template_problems(check, value, f"{at}[{index}]")
    elif isinstance(body, str):
        for name in sorted(_placeholders(body, at, check) - WRITE_PLACEHOLDERS):
            check.problem(at, f"unknown placeholder {{{name}}} (one of {', '.join(sorted(WRITE_PLACEHOLDERS))})")


def _write(check: _Check, options: Mapping[str, Any]) -> WriteSpec | None:
    raw = check.table(options, "write", "options", {"method", "path", "body"})
    if raw is None:
        return None
    method = check.choice(raw, "method", "options.write", ("PUT", "POST", "PATCH"), "PUT")
    path = check.url_path(raw, "path", "options.write", WRITE_PLACEHOLDERS)
    body = raw.get("body")
    if not isinstance(body, (dict, list)):
        check.problem("options.write.body", f"expected a table (the JSON body with {{placeholders}}), got {body!r}")
        return None
    _template_problems(check, body, "options.write.body")
    return WriteSpec(method, path, body) if method and path else None


def _webhooks(check: _Check, options: Mapping[str, Any], store: Mapping[str, Any], runtime: bool
              ) -> WebhookSpec | None:
    raw = check.table(options, "webhooks", "options", {"signature_header", "algorithm", "encoding", "prefix",
                                                        "topic_header", "topic_field", "id_header", "topics",
                                                        "records", "signature_param"})
    if raw is None:
        return None
    at = "options.webhooks"
    if not runtime and not store.get("webhook_secret_env"):
        check.problem("webhook_secret_env", "missing: options.webhooks needs the variable holding the signing secret")
    encoding = check.choice(raw, "encoding", at, ("hex", "base64", "secret"), "hex")
    param = check.text(raw, "signature_param", at) if "signature_param" in raw else None
    if param is not None and encoding != "secret":
        check.problem(f"{at}.signature_param", "only with encoding = \"secret\" (an HMAC travels in a header)")
    header = check.text(raw, "signature_header", at) if param is None or "signature_header" in raw else ""
    check.choice(raw, "algorithm", at, ("hmac-sha256",), "hmac-sha256")
    prefix = raw.get("prefix", "")
    if not isinstance(prefix, str):
        check.problem(f"{at}.prefix", f"expected a string like \"sha256=\", got {prefix!r}")
    topic_field = check.path(raw["topic_field"], f"{at}.topic_field") if "topic_field" in raw else None
    if "topic_header" in raw:
        check.text(raw, "topic_header", at)
    if "id_header" in raw:
        check.text(raw, "id_header", at)
    kinds = check.table(raw, "topics", at, None) or {}
    for topic, kind in kinds.items():
        if kind not in WEBHOOK_KINDS:
            check.problem(f"{at}.topics.{topic}", f"unknown kind {kind!r} (one of {', '.join(WEBHOOK_KINDS)})")
    if kinds and "topic_header" not in raw and "topic_field" not in raw:
        check.problem(f"{at}.topic_header", "missing: topics need a topic_header or topic_field to read the topic")
    records = check.path(raw.get("records", "$"), f"{at}.records")
    if header is None or encoding is None or records is None:
        return None
    return WebhookSpec(header, encoding, prefix if isinstance(prefix, str) else "", raw.get("topic_header"),
                       topic_field, raw.get("id_header"), dict(kinds), records, param)


def read_spec(store: Mapping[str, Any], *, runtime: bool = False) -> tuple[RestSpec | None, list[Problem]]:
    """The description in a ``[[stores]]`` table (its ``options``, ``credentials``,
    ``webhook_secret_env`` and ``sells``): the spec, or None with every problem found.

    ``runtime`` (a connector built from a stored row) skips what only the file can tell: whether a
    selling store describes its write and whether it names a webhook secret variable."""
    check = _Check()
    options = store.get("options")
    if not isinstance(options, dict):
        return None, [("options", "missing: a rest store is described by its options table "
                                  "(auth, stock, optionally orders, write, webhooks)")]
    known = {"auth", "stock", "orders", "write", "webhooks", *SHARED_OPTIONS}
    for extra in sorted(set(options) - known):
        check.problem(f"options.{extra}", f"unknown key (expected one of {', '.join(sorted(known))})")
    credentials = store.get("credentials")
    auth = _auth(check, options, set(credentials) if isinstance(credentials, dict) else set())
    stock = _read(check, options, "stock", STOCK_FIELDS, ("sku",))
    orders = _read(check, options, "orders", ORDER_FIELDS, ("external_id",)) if "orders" in options else None
    write = _write(check, options)
    webhooks = _webhooks(check, options, store, runtime)
    if not runtime and store.get("sells", True) is True and "write" not in options:
        check.problem("options.write", "missing: a selling store (sells = true) is written back to; describe the "
                                       "write, or set sells = false for a store that is only read")
    if check.problems or stock is None:
        return None, check.problems
    return RestSpec(auth, stock, orders, write, webhooks), []


def webhook_spec(options: Mapping[str, Any], defaults: Mapping[str, Any]) -> tuple[WebhookSpec | None, list[Problem]]:
    """A built-in platform's signed webhooks in the same scheme: ``defaults`` (what its module sends
    by default: Magento's observer) with the store's ``options.webhooks`` keys on top; the spec, or
    None with the problems under ``options.webhooks``."""
    given = options.get("webhooks", {})
    if not isinstance(given, dict):
        return None, [("options.webhooks", f"expected a table, got {given!r}")]
    check = _Check()
    spec = _webhooks(check, {"webhooks": {**defaults, **given}}, {}, runtime=True)
    return (spec, []) if spec is not None and not check.problems else (None, check.problems)
