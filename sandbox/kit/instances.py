"""Per-instance state and its request log: what every stand-in's instance has besides its data.

An instance (a shop, a site, an account, a database) is created with defaults the first time its
name is used, and keeps the API requests it received so tests can assert what a connector sent:
``GET _admin/requests?method=&path_contains=``, the same on every platform (docs/sandbox.md).
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from sandbox.kit.faults import Fault

#: How many requests an instance's log keeps; the oldest fall off first.
REQUEST_LOG_SIZE = 10_000


class RequestLog:
    """The API requests one instance received, oldest first: how tests assert what a connector sent.

    Entries are plain dicts the handler keeps filling in (``status`` once it answers, plus any
    platform extras), so the log shows what was answered, not only what was asked.
    """

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        self._entries.append(entry)
        return entry

    def record(self, request: Request, body: Any, at: str) -> dict[str, Any]:
        """The usual entry: method, path, query, body (as the platform chose to keep it), time."""
        return self.append({"method": request.method, "path": request.url.path,
                            "query": dict(request.query_params), "body": body, "status": None, "at": at})

    def rows(self, method: str | None = None, path_contains: str | None = None) -> list[dict[str, Any]]:
        return [r for r in list(self._entries)
                if (not method or r["method"] == method.upper())
                and (not path_contains or path_contains in r["path"])]

    def clear(self) -> None:
        self._entries.clear()


@dataclass
class PlatformState:
    """What every instance has besides its platform's data: its name, faults, log and lock.

    Platform states subclass it and add only fields with defaults, so ``State(name)`` builds one.
    """

    name: str
    faults: list[Fault] = field(default_factory=list)
    requests: RequestLog = field(default_factory=RequestLog)
    lock: threading.RLock = field(default_factory=threading.RLock)


State = TypeVar("State", bound=PlatformState)


class Instances(Generic[State]):
    """Every instance's state, created with defaults the first time its name is used.

    One per sandbox app (kept on ``app.state.<platform>``, not in module globals), so a test can
    run several independent sandboxes.
    """

    def __init__(self, factory: Callable[[str], State]) -> None:
        self.instances: dict[str, State] = {}
        self._factory = factory
        self._lock = threading.Lock()

    def get(self, name: str) -> State:
        with self._lock:
            if name not in self.instances:
                self.instances[name] = self._factory(name)
            return self.instances[name]


def add_request_log_routes(admin: APIRouter, sandbox: Instances[Any]) -> None:
    """``GET _admin/requests?method=&path_contains=`` and ``DELETE _admin/requests``."""

    @admin.get("/requests")
    def list_requests(instance: str, method: str | None = None, path_contains: str | None = None,
                      ) -> JSONResponse:
        return JSONResponse({"requests": sandbox.get(instance).requests.rows(method, path_contains)})

    @admin.delete("/requests")
    def clear_requests(instance: str) -> dict[str, Any]:
        sandbox.get(instance).requests.clear()
        return {"requests": 0}
