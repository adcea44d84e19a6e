"""Which store a webhook URL names, remembered for a few seconds per web process.

Every delivery needs the store's connector (to check the signature and parse the body), and
reading the ``stores`` row for each one was a third of the receiver's database round trips.
The row changes rarely (a configuration apply, a store disabled), so each process keeps what
it read for ``STORE_TTL_S`` seconds; an unknown or disabled key is remembered for
``UNKNOWN_TTL_S``. Invalidation is by time only: a store disabled in the database still has
its webhooks accepted by a process for up to ``STORE_TTL_S`` seconds (the drain then meets
them like any other event), and a newly added store answers 404 for up to ``UNKNOWN_TTL_S``.
A changed webhook secret takes effect at once: the entry remembers the secret it was built
with and is rebuilt when the environment says otherwise.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from connectors.base import Connector
from domain.core import store_secrets
from domain.core.db import session_scope
from domain.core.models import Store
from flows.connections import connector_for

STORE_TTL_S = 5.0
UNKNOWN_TTL_S = 1.0


@dataclass(frozen=True)
class KnownStore:
    """What the receiver needs of an enabled store: its key and a connector for verify/parse."""

    key: str
    connector: Connector
    secret_env: str | None
    secret: str | None

    def current(self) -> bool:
        """False once the signing secret in the environment differs from the one built in."""
        return self.secret_env is None or store_secrets.lookup(self.secret_env) == self.secret


@dataclass(frozen=True)
class _Entry:
    store: KnownStore | None
    expires_at: float


_entries: dict[str, _Entry] = {}
_lock = threading.Lock()


def cached(store_key: str) -> tuple[bool, KnownStore | None]:
    """(hit, store) without touching the database; a hit with ``None`` means unknown or disabled."""
    entry = _entries.get(store_key)
    if entry is None or entry.expires_at < time.monotonic():
        return False, None
    if entry.store is not None and not entry.store.current():
        return False, None
    return True, entry.store


def load(store_key: str) -> KnownStore | None:
    """Read the enabled store from the database (blocking) and remember the answer.

    Database errors propagate: the caller answers 503, and nothing is remembered.
    """
    with session_scope() as session:
        store = session.scalar(select(Store).where(Store.key == store_key, Store.enabled))
        known = None
        if store is not None:
            secret_env = store.webhook_secret_env
            known = KnownStore(store.key, connector_for(store, require_credentials=False), secret_env,
                               store_secrets.lookup(secret_env) if secret_env else None)
    ttl = STORE_TTL_S if known is not None else UNKNOWN_TTL_S
    with _lock:
        _entries[store_key] = _Entry(known, time.monotonic() + ttl)
    return known


def forget() -> None:
    """Drop everything remembered (tests that rewrite stores between requests call this)."""
    with _lock:
        _entries.clear()
