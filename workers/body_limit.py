"""A ceiling on every request body, enforced while it is received, before any endpoint parses it.

Each endpoint has its own limit (webhooks 2 MB, callbacks 256 kB or 5 MB, reply forms 64 kB), but
a form parser or ``request.body()`` reads the whole body first, so a 20 MB upload would be held in
memory before being refused. This middleware answers ``413`` at once when ``Content-Length``
declares more than ``MAX_REQUEST_BYTES`` (default 6 MB, above every endpoint's own limit) and
stops reading a chunked body as soon as it passes that size.
"""
from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import suppress
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BYTES = 6 * 1024 * 1024


class BodyTooLargeError(Exception):
    """Raised from ``receive`` once the body passes the ceiling; turned into a 413 here."""


def max_request_bytes() -> int:
    raw = os.environ.get("MAX_REQUEST_BYTES", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BYTES


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = max_request_bytes()
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await too_large(send, limit)
            return
        received = 0
        exceeded = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            # An endpoint may catch the error and answer 400/503 itself: the answer is 413 still.
            nonlocal answered
            if exceeded:
                if not answered:
                    answered = True
                    await too_large(send, limit)
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        with suppress(BodyTooLargeError):  # the ceiling was hit mid-read: answered below
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not answered:
            await too_large(send, limit)


async def too_large(send: Send, limit: int) -> None:
    body = f'{{"error":"body larger than {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
