"""Input no endpoint can use, refused with 400 before any endpoint sees it.

Two kinds were answered with a 5xx and a traceback before this existed:

* **NUL characters.** PostgreSQL text cannot hold U+0000 (``A string literal cannot contain NUL``;
  JSONB refuses ``\\u0000``), so a NUL in a store key, a link token, a form field or a JSON string
  failed at the first query: the database error looked like an outage and was answered 503. Here a
  NUL anywhere — the path (raw or ``%00``), the query string, a header, the body (a raw byte, a
  form's ``%00``, a JSON ``\\u0000`` escape) — is a 400.
* **Deeply nested JSON.** ``json.loads`` recurses once per level; 60 kB of ``[`` passes the
  interpreter's recursion limit and raised ``RecursionError`` (a 500). A body that looks like JSON
  (it starts with ``{`` or ``[``) nested deeper than ``MAX_JSON_DEPTH`` (default 64; no platform
  or provider payload we receive comes near 10) is a 400, whatever its content type. The depth is
  the running sum of the brackets outside strings, computed with ``bytes.translate`` and C
  iterators (strings are cut out only when counting their brackets too passes the limit).
  Measured here: 5 µs for a 200-byte webhook, 1.1 ms for 60 kB, 10 ms for a 2 MB legitimate
  payload. Unsigned bodies are measured up to ``UNSIGNED_SCAN_BYTES`` (256 kB, at worst 65 ms of
  brackets); larger ones only after their endpoint verified the signature.

Installed inside ``BodyLimitMiddleware`` (the body it buffers is already capped) and outside the
webhook fast path, so it covers every endpoint, the fast path included. The body is read once and
handed on unchanged.
"""
from __future__ import annotations

import json
import logging
import operator
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping
from itertools import accumulate, chain, count
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("workers.input_guard")

DEFAULT_MAX_JSON_DEPTH = 64
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
#: ``\u0000`` as a JSON escape: an odd run of backslashes before ``u0000`` (``\\u0000`` is text).
JSON_NUL_ESCAPE = re.compile(rb'(?<!\\)(?:\\\\)*\\u0000')
PERCENT_NUL = b"%00"
NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
FOLD_BRACES = bytes.maketrans(b"{}", b"[]")
WEIGHTS = bytes.maketrans(b"[]", b"\x02\x00")
UNSIGNED_SCAN_BYTES = 256 * 1024
"""Bodies up to this size have their JSON depth measured here, before any signature check (65 ms
at worst, measured on 256 kB of brackets and bracket-filled strings); larger ones (only webhooks and SendGrid accept them) are
measured by their endpoint once the signature verifies, so nobody unauthenticated can make this
middleware spend long on a body."""


def max_json_depth() -> int:
    raw = os.environ.get("MAX_JSON_DEPTH", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_JSON_DEPTH


def bracket_depth(brackets: bytes) -> int:
    """The deepest nesting of a string of ``[``/``]`` (braces folded in): with ``[`` as 2 and ``]``
    as 0, the depth after ``i`` brackets is their running sum minus ``i`` (C iterators only)."""
    if not brackets:
        return 0
    weights = brackets.translate(WEIGHTS)
    return max(0, max(map(operator.sub, accumulate(weights), count(1))))


def json_depth(body: bytes, limit: int) -> int:
    """The deepest bracket nesting outside JSON strings.

    Brackets inside strings can only make a count larger, so the strings are cut out (a regular
    expression, the slow part) only when counting them too passes the limit."""
    brackets = body.translate(FOLD_BRACES, NOT_BRACKETS)
    depth = bracket_depth(brackets)
    if depth <= limit or b'"' not in body:
        return depth
    return bracket_depth(JSON_STRING.sub(b"", body).translate(FOLD_BRACES, NOT_BRACKETS))


def too_deep(body: bytes, limit: int | None = None) -> str | None:
    """The 400 message for JSON nested past the limit, else None (for checks after a signature).

    JSON cannot nest deeper than it has opening brackets, so a body with no more than ``limit``
    of them is not measured (every webhook: two ``count`` scans, not the translate-and-sum)."""
    limit = limit or max_json_depth()
    if body.count(b"{") + body.count(b"[") <= limit:
        return None
    if looks_like_json(body) and json_depth(body, limit) > limit:
        return f"JSON nested deeper than {limit} levels"
    return None


def looks_like_json(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"{", b"[")


def request_problem(scope: Scope) -> str | None:
    """What is wrong with the request line and headers, or None."""
    path = scope.get("path", "")
    raw_path = scope.get("raw_path") or b""
    if "\x00" in path or b"\x00" in raw_path or PERCENT_NUL in raw_path.lower():
        return "the path contains a NUL character"
    query = scope.get("query_string") or b""
    if b"\x00" in query or PERCENT_NUL in query:
        return "the query string contains a NUL character"
    # one scan of every name and value joined (1 µs for a webhook's dozen headers, against 4 µs
    # for a loop testing each, measured)
    if b"\x00" in b"".join(chain.from_iterable(scope.get("headers") or ())):
        return "a header contains a NUL character"
    return None


def body_problem(body: bytes, content_type: bytes, limit: int) -> str | None:
    """What is wrong with the body, or None."""
    if b"\x00" in body:
        return "the body contains a NUL character"
    if b"x-www-form-urlencoded" in content_type and PERCENT_NUL in body:
        return "a form field contains a NUL character"
    if looks_like_json(body) or b"json" in content_type:
        if b"\\u0000" in body and JSON_NUL_ESCAPE.search(body):
            return "a JSON string contains a NUL character (\\u0000)"
        if len(body) <= UNSIGNED_SCAN_BYTES:
            return too_deep(body, limit)
    return None


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = request_problem(scope)
        if problem is not None:
            await bad_request(scope, send, problem)
            return
        if scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        first = await receive()
        if first["type"] == "http.request" and not first.get("more_body", False):
            # the whole body in one message (every webhook of a few kB): nothing to join or rebuild
            messages, body = [first], first.get("body", b"")
        else:
            messages, body = await read_all(first, receive)
        content_type = b""
        for name, value in scope.get("headers") or ():
            if name == b"content-type":
                content_type = value  # the last one, as a dict of the headers would have it
        content_type = content_type.lower()
        problem = body_problem(body, content_type, max_json_depth())
        if problem is not None:
            await bad_request(scope, send, problem)
            return
        complete = messages[-1]["type"] == "http.request"
        # A client gone mid-body is passed on as it happened: the endpoint sees the disconnect.
        if not complete:
            replay = list(messages)
        elif len(messages) == 1:
            replay = messages
        else:
            replay = [{"type": "http.request", "body": body, "more_body": False}]

        async def buffered_receive() -> Message:
            if replay:
                return replay.pop(0)
            return await receive()

        await self.app(scope, buffered_receive, send)


async def read_all(first: Message, receive: Receive) -> tuple[list[Message], bytes]:
    """Every message up to the body's last (or the disconnect), and the body they carry."""
    messages = [first]
    chunks = [first.get("body", b"")] if first["type"] == "http.request" else []
    message = first
    while message["type"] == "http.request" and message.get("more_body", False):
        message = await receive()
        messages.append(message)
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
    return messages, b"".join(chunks)


async def bad_request(scope: Scope, send: Send, problem: str) -> None:
    log.warning("%s %s refused: %s", scope.get("method"), _printable(scope.get("path", "")), problem)
    body = json.dumps({"error": problem}).encode()
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _printable(path: str) -> str:
    """The path for a log line: NULs and control characters shown escaped, and cut short."""
    return path.encode("unicode_escape").decode("ascii")[:120]
