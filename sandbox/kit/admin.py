"""Admin edits every stand-in makes the same way, declared instead of written out.

* :func:`add_config`: ``POST _admin/config`` from a table of :class:`Setting` (which state
  attribute each key sets, how it is read, whether the answer shows it back).
* :func:`add_item_state`: ``GET _admin/state/items`` (``skus=`` or ``offset``/``limit``), what tests
  assert stock on.
* :func:`add_state_view`: ``GET _admin/state/<name>``, stored records as plain JSON.
* :func:`known`: the admin's 404 ``{"error": "unknown sku X"}`` for a SKU (or anything) not there.
* :func:`plain`: stored records (which may hold datetimes) as plain JSON.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.standin import Answer, StandIn

T = TypeVar("T")


@dataclass(frozen=True)
class Setting:
    """A config key: sets ``state.<attr>`` (dotted: ``bucket.size``) to ``parse(value)``, or calls
    ``apply(state, value)``; ``show`` renders the current value in the answer (None: not shown)."""

    attr: str
    parse: Callable[[Any], Any] = lambda value: value
    show: Callable[[Any], Any] | None = lambda value: value
    apply: Callable[[Any, Any], None] | None = None

    def owner(self, state: Any) -> tuple[Any, str]:
        *path, name = self.attr.split(".")
        for part in path:
            state = getattr(state, part)
        return state, name

    def set(self, state: Any, value: Any) -> None:
        if self.apply is not None:
            self.apply(state, value)
        else:
            owner, name = self.owner(state)
            setattr(owner, name, self.parse(value))

    def get(self, state: Any) -> Any:
        owner, name = self.owner(state)
        return getattr(owner, name)


def add_config(kit: StandIn[Any], settings: dict[str, Setting]) -> None:
    """``POST _admin/config``: each key given is set under the instance lock; the answer shows the
    settings that have a ``show``."""

    @kit.admin.post("/config")
    def config(state: Any = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        with state.lock:
            for name, setting in settings.items():
                if name in payload:
                    setting.set(state, payload[name])
            return {name: s.show(s.get(state)) for name, s in settings.items() if s.show is not None}


def add_item_state(kit: StandIn[Any], keys: Callable[[Any], Sequence[Any]],
                   find_sku: Callable[[Any, str], Any], get: Callable[[Any, Any], Any],
                   render: Callable[[Any, Any], dict[str, Any]]) -> None:
    """``GET _admin/state/items``: the items named by ``skus`` (unknown ones left out), else the
    ``offset``/``limit`` slice of ``keys(state)``; with the catalog's ``total``."""

    @kit.admin.get("/state/items")
    def state_items(skus: str | None = None, offset: int = 0, limit: int = 100,
                    state: Any = kit.state) -> JSONResponse:
        with state.lock:
            every = keys(state)
            if skus:
                found = [find_sku(state, sku) for sku in skus.split(",")]
                chosen = [key for key in found if key is not None]
            else:
                chosen = list(every[offset:offset + limit])
            return JSONResponse({"total": len(every), "items": [render(state, get(state, k)) for k in chosen]})


def add_state_view(kit: StandIn[Any], name: str, view: Callable[[Any], Any]) -> None:
    """``GET _admin/state/<name>``: ``{name: view(state)}`` under the instance lock, as plain JSON."""

    @kit.admin.get(f"/state/{name}", name=f"state_{name}")
    def state_view(state: Any = kit.state) -> JSONResponse:
        with state.lock:
            return plain({name: view(state)})


def known(found: T | None, what: str) -> T:
    """``found``, or the admin's 404 ``{"error": "unknown <what>"}`` raised."""
    if found is None:
        raise Answer(JSONResponse({"error": f"unknown {what}"}, status_code=404))
    return found


def plain(value: Any) -> JSONResponse:
    """Admin views of stored records (which may hold datetimes) as plain JSON."""
    return JSONResponse(json.loads(json.dumps(value, default=str)))
