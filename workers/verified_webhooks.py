"""The shape shared by the webhook receivers of configured accounts (helpdesks, payment
providers): read the body within ``WEBHOOK_MAX_BYTES`` (413), find the named entry in the
business file (404), verify the delivery with its connector and store it once, both within the
webhook's deadline — a refused signature is 401, a malformed payload 400, and a connector, database
or deadline failure 503 with ``Retry-After`` so the sender retries; never 500. The receiver turns
what was verified and stored into its own 200 answer."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from connectors.errors import ConnectorError, MalformedPayloadError, SignatureError
from workers.deadlines import DeadlineExceeded, deadline_of, run_blocking
from workers.webhooks import MAX_BODY_BYTES, BodyTooLarge, read_limited

Entry = TypeVar("Entry")
Verified = TypeVar("Verified")
Stored = TypeVar("Stored")


@dataclass(frozen=True)
class Accepted(Generic[Entry, Verified, Stored]):
    """A delivery verified and stored: the entry it came for, what verifying read, what storing said."""

    entry: Entry
    verified: Verified
    stored: Stored


@dataclass(frozen=True)
class Receiver(Generic[Entry, Verified, Stored]):
    """One kind of receiver: its name in log lines (``"helpdesk"`` → "helpdesk webhook for …"), its
    word for an unknown key (``"helpdesk"`` → "unknown helpdesk 'x'"), how it finds, verifies and
    stores, and its answer to a delivery accepted."""

    log: logging.Logger
    kind: str
    unknown: str
    find: Callable[[str], Entry | None]
    verify: Callable[[Entry, dict[str, str], bytes], Verified]
    store: Callable[[str, Verified], Stored]
    answer: Callable[[str, Accepted[Entry, Verified, Stored]], Response]
    headers: Callable[[Request], dict[str, str]] = lambda request: dict(request.headers.items())

    async def receive(self, key: str, request: Request) -> Response:
        """The answer to a delivery to ``key``: the refusal, or the receiver's own for one accepted."""
        accepted = await self.accept(key, request)
        return accepted if isinstance(accepted, Response) else self.answer(key, accepted)

    async def accept(self, key: str, request: Request) -> Accepted[Entry, Verified, Stored] | JSONResponse:
        """The delivery to ``key`` verified and stored, or the refusal to answer with."""
        try:
            body = await read_limited(request, MAX_BODY_BYTES)
        except BodyTooLarge:
            return JSONResponse({"error": f"body larger than {MAX_BODY_BYTES} bytes"}, status_code=413)
        entry = self.find(key)
        if entry is None:
            return JSONResponse({"error": f"unknown {self.unknown} {key!r}"}, status_code=404)
        headers = self.headers(request)
        deadline = deadline_of(dict(request.scope))
        try:
            verified = await run_blocking(deadline, self.verify, entry, headers, body)
            stored = await run_blocking(deadline, self.store, key, verified)
        except SignatureError as exc:
            self.log.warning("%s webhook for %s refused: %s", self.kind, key, exc)
            return JSONResponse({"error": "signature verification failed"}, status_code=401)
        except MalformedPayloadError as exc:
            return JSONResponse({"error": f"malformed payload: {exc}"}, status_code=400)
        except (ConnectorError, SQLAlchemyError, DeadlineExceeded) as exc:
            self.log.error("%s webhook for %s not stored: %s", self.kind, key, exc)
            return JSONResponse({"error": "temporarily unavailable, retry later"}, status_code=503,
                                headers={"Retry-After": "5"})
        return Accepted(entry, verified, stored)
