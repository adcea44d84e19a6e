"""What the helpdesk stand-ins (Zendesk, Gorgias, Intercom) share: an id sequence, opaque cursors,
per-path rate-limit windows and the webhook subscriptions an admin call adds.

Cursors are opaque to clients, as each platform says of its own: here the base64 of the sort
position (``updated`` unix seconds and id) of the last item a page held.
"""
from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit.limits import Headers, Window
from sandbox.kit.standin import Answer, Call, KitState


@dataclass
class HelpdeskState(KitState):
    """An account: its id sequence and the webhook subscriptions (kit ``webhooks``)."""

    sequence: int = 1000

    def next_id(self) -> int:
        self.sequence += 1
        return self.sequence

    def unix(self) -> int:
        return int(self.now().timestamp())


def iso_z(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def encode_cursor(updated: int, item_id: int | str) -> str:
    return base64.urlsafe_b64encode(f"{updated}:{item_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, str] | None:
    """The position a cursor names, None when it is not one of ours."""
    try:
        updated, _, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        return int(updated), item_id
    except (ValueError, UnicodeDecodeError):
        return None


def after(items: list[dict[str, Any]], position: tuple[int, str] | None,
          key: Callable[[dict[str, Any]], tuple[int, str]]) -> list[dict[str, Any]]:
    """``items`` in (updated, id) order past ``position`` (all when None)."""
    ordered = sorted(items, key=lambda item: (key(item)[0], int(key(item)[1])))
    if position is None:
        return ordered
    return [item for item in ordered if (key(item)[0], int(key(item)[1])) > (position[0], int(position[1] or 0))]


@dataclass(frozen=True)
class PathWindows:
    """Fixed windows chosen by path: the first ``(path part, state attr)`` the path contains, else
    ``default``; a call past its window gets 429 with ``body()`` and ``refusal(window, left)``
    headers; ``every`` gives the headers every answer carries."""

    body: Callable[[], Any]
    refusal: Callable[[Window, float], Headers]
    every: Callable[[Window, int, float], Headers] = lambda window, remaining, left: {}
    paths: tuple[tuple[str, str], ...] = ()
    default: str = "window"

    def check(self, call: Call[Any]) -> Headers:
        attr = next((a for part, a in self.paths if part in call.request.url.path), self.default)
        with call.state.lock:
            window: Window = getattr(call.state, attr)
            ok, remaining, left = window.count()
            headers = self.every(window, remaining, left)
        if not ok:
            call.entry["status"] = 429
            raise Answer(JSONResponse(self.body(), status_code=429, headers={**headers, **self.refusal(window, left)}))
        return headers


def limit_settings(state: Any, payload: dict[str, Any], *attrs: str) -> dict[str, Any]:
    """``_admin/config``: ``{"<attr>": {"limit": n, "seconds": s}}`` resizes and restarts a window."""
    for attr in attrs:
        if attr in payload:
            window = Window(int(payload[attr].get("limit", 100)), float(payload[attr].get("seconds", 60)))
            setattr(state, attr, window)
    return {attr: {"limit": getattr(state, attr).limit, "seconds": getattr(state, attr).seconds} for attr in attrs}


@dataclass
class Notes:
    """Everything written to one ticket besides its fields, for the ``_admin/state`` views."""

    by_ticket: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, ticket_id: Any, note: dict[str, Any]) -> dict[str, Any]:
        self.by_ticket.setdefault(str(ticket_id), []).append(note)
        return note

    def of(self, ticket_id: Any) -> list[dict[str, Any]]:
        return self.by_ticket.get(str(ticket_id), [])
