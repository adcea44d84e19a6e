"""A lazy catalog: numbered ranges of generated items, built on demand; only touched ones stored.

Seeding 100,000 SKUs adds one :class:`Batch`; an item is computed from its key when read and
stored only once something changes it, so paging a large catalog costs no memory up front.
"""
from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True)
class Batch:
    """Keys ``start`` ≤ k < ``stop``, SKU ``{prefix}{k:06d}``; ``defaults`` are the platform's own."""

    start: int
    stop: int
    prefix: str
    created_at: datetime
    defaults: dict[str, Any] = field(default_factory=dict)


class LazyCatalog(Generic[Item]):
    """Stored items over generated batches; ``build(batch, key)`` makes an untouched one.
    ``key_of`` and ``stamp`` read an item's own key and last change, for :meth:`put` and
    :meth:`changed_since`."""

    def __init__(self, build: Callable[[Batch, int], Item], sku_of: Callable[[Item], str | None],
                 key_of: Callable[[Item], int] | None = None, stamp: Callable[[Item], datetime] | None = None,
                 ) -> None:
        self._build = build
        self._sku_of = sku_of
        self._key_of = key_of
        self._stamp = stamp
        self.batches: list[Batch] = []
        self.stored: dict[int, Item] = {}
        self.sku_index: dict[str, int] = {}

    @property
    def total(self) -> int:
        """One past the last generated key (the item count when keys start at 0)."""
        return self.batches[-1].stop if self.batches else 0

    def clear(self) -> None:
        self.batches, self.stored, self.sku_index = [], {}, {}

    def add_batch(self, start: int, stop: int, prefix: str, created_at: datetime, **defaults: Any) -> Batch:
        batch = Batch(start, stop, prefix, created_at, defaults)
        self.batches.append(batch)
        return batch

    def batch_of(self, key: int) -> Batch | None:
        pos = bisect.bisect_right([b.start for b in self.batches], key) - 1
        return self.batches[pos] if pos >= 0 and key < self.batches[pos].stop else None

    def get(self, key: int) -> Item | None:
        if key in self.stored:
            return self.stored[key]
        batch = self.batch_of(key)
        return self._build(batch, key) if batch is not None else None

    def store(self, key: int, item: Item) -> None:
        self.stored[key] = item
        sku = self._sku_of(item)
        if sku:
            self.sku_index[sku] = key

    def put(self, item: Item) -> None:
        """Store ``item`` under its own key (``key_of``)."""
        assert self._key_of is not None, "put needs the catalog's key_of"
        self.store(self._key_of(item), item)

    def key_for_sku(self, sku: str) -> int | None:
        """A stored item's key by SKU, else the generated key the SKU's digits name (unless that
        item was stored under another SKU since)."""
        if sku in self.sku_index:
            return self.sku_index[sku]
        for batch in self.batches:
            digits = sku[len(batch.prefix):]
            if sku.startswith(batch.prefix) and digits.isdigit() and batch.start <= int(digits) < batch.stop:
                key = int(digits)
                if key not in self.stored or self._sku_of(self.stored[key]) == sku:
                    return key
        return None

    def generated_since(self, since: datetime, strictly: bool = False) -> set[int]:
        """Untouched generated keys whose batch was created at/after ``since`` (after, if ``strictly``)."""
        keys: set[int] = set()
        for batch in self.batches:
            if batch.created_at > since or (not strictly and batch.created_at == since):
                keys.update(k for k in range(batch.start, batch.stop) if k not in self.stored)
        return keys

    def changed_since(self, since: datetime, stamp: Callable[[Item], datetime] | None = None,
                      strictly: bool = False) -> list[int]:
        """Sorted keys of the stored items ``stamp``ed (default: the catalog's ``stamp``) at/after
        ``since`` (after, if ``strictly``) and of the untouched generated ones whose batch was,
        without building a single generated item."""
        stamp = stamp or self._stamp
        assert stamp is not None, "changed_since needs a stamp"
        stored = {k for k, item in self.stored.items()
                  if stamp(item) > since or (not strictly and stamp(item) == since)}
        return sorted(stored | self.generated_since(since, strictly))
