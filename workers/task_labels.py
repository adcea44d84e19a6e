"""Task arguments people can read in Flower: ``sku_id=12 (FUT-FRM-OAK-FULL), store_id=3 (shopify-main)``.

Messages carry ids only, so Flower's task list showed ``(12, 3)``. Celery lets the sender set
``argsrepr`` — the text monitors show instead of the arguments — without changing what the task
receives; ``before_task_publish`` sets it for every message: each argument named by its
parameter, store and SKU ids followed by the store's key and the SKU's code, lists shortened, and
the chain's correlation id last (``chain=…``), so Flower's search finds every task of one sale.

Names come from small per-process caches: all store keys in one query (reloaded at most every few
seconds on a miss), SKU codes one primary-key query each on a miss, bounded. A lookup that fails
leaves the id alone: a label must never stop a message.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from celery import current_app
from celery.signals import before_task_publish
from sqlalchemy import text

from domain.core import log_context
from workers.correlation import parameters

log = logging.getLogger(__name__)
MAX_LEN = 300
MAX_LIST = 5


class Names:
    """Store keys and SKU codes by id, cached for this process."""

    STORE_RELOAD_S = 5.0
    MAX_SKUS = 4096

    def __init__(self) -> None:
        self._stores: dict[int, str] = {}
        self._stores_at = float("-inf")
        self._skus: OrderedDict[int, str] = OrderedDict()
        self._lock = threading.Lock()

    def _query(self, sql: str, **params: Any) -> list[Any]:
        from domain.core.db import get_engine

        with get_engine().connect() as connection:
            return list(connection.execute(text(sql), params))

    def store(self, store_id: int) -> str | None:
        with self._lock:
            if store_id not in self._stores and time.monotonic() - self._stores_at > self.STORE_RELOAD_S:
                self._stores_at = time.monotonic()
                self._stores = {row[0]: row[1] for row in self._query("SELECT id, key FROM stores")}
            return self._stores.get(store_id)

    def sku(self, sku_id: int) -> str | None:
        with self._lock:
            if sku_id in self._skus:
                self._skus.move_to_end(sku_id)
                return self._skus[sku_id]
        rows = self._query("SELECT code FROM skus WHERE id = :id", id=sku_id)
        if not rows:
            return None
        with self._lock:
            self._skus[sku_id] = rows[0][0]
            while len(self._skus) > self.MAX_SKUS:
                self._skus.popitem(last=False)
        return str(rows[0][0])


NAMES = Names()
LOOKUPS = {"store_id": "store", "sku_id": "sku"}


def _value(name: str, value: Any, names: Names) -> str:
    if isinstance(value, list):
        shown = ", ".join(repr(v) for v in value[:MAX_LIST])
        more = f", … {len(value)} in all" if len(value) > MAX_LIST else ""
        return f"{name}=[{shown}{more}]"
    label = None
    if name in LOOKUPS and isinstance(value, int) and not isinstance(value, bool):
        try:
            label = getattr(names, LOOKUPS[name])(value)
        except Exception:  # a label must never stop a message
            log.debug("no %s name for %s", LOOKUPS[name], value, exc_info=True)
    return f"{name}={value!r} ({label})" if label else f"{name}={value!r}"


def _joined(parts: list[str]) -> str:
    joined = ", ".join(parts)
    return joined if len(joined) <= MAX_LEN else joined[:MAX_LEN - 1] + "…"


def describe(task: Any, args: Any, names: Names = NAMES, chain: str | None = None) -> str:
    """``sku_id=12 (FUT-…), store_id=3 (shopify-main), chain=…`` for a task's positional arguments."""
    params = parameters(task) if task is not None else ()
    parts = [_value(params[i] if i < len(params) else f"arg{i}", value, names) for i, value in enumerate(args or ())]
    return _joined(parts + ([f"chain={chain}"] if chain else []))


def describe_kwargs(kwargs: dict[str, Any], names: Names = NAMES) -> str:
    """``{countdown_for=…}``-style keyword arguments, named the same way."""
    return "{" + _joined([_value(key, value, names) for key, value in kwargs.items()]) + "}"


@before_task_publish.connect
def _label(sender: str | None = None, body: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None or not isinstance(body, tuple | list) or len(body) < 2:
        return
    try:
        task = current_app.tasks.get(sender or headers.get("task", ""))
        headers["argsrepr"] = describe(task, body[0], chain=headers.get(log_context.HEADER) or log_context.current_id())
        if body[1]:
            headers["kwargsrepr"] = describe_kwargs(body[1])
    except Exception:  # a label must never stop a message
        log.debug("no readable arguments for %s", sender, exc_info=True)
