"""Stock at locations beside a stand-in's main one: each added location stocks only the items set
there, so a shop with many stores costs nothing until stock is placed.

A level is listed under a sort key ``ordinal × STRIDE + item key`` (ordinal 1 for the first added
location), so the levels of every location page through one cursor after the main location's
keys, which are the bare item keys. Shopify lists one inventory level per item and location
(https://shopify.dev/docs/api/admin-rest/latest/resources/inventorylevel).
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

#: Keys of the levels at added locations start at ``STRIDE`` (larger than any item key).
STRIDE = 2**40


@dataclass
class Locations:
    """The added locations' ids, in the order added, and their levels: location → item key →
    (available, updated_at)."""

    ids: list[int] = field(default_factory=list)
    levels: dict[int, dict[int, tuple[int | None, datetime]]] = field(default_factory=dict)

    def all(self, main: int) -> list[int]:
        """Every location's id: the stand-in's ``main`` one first, then the added ones."""
        return [main, *self.ids]

    def add(self, after: int, count: int) -> None:
        """``count`` more locations, numbered on from the highest id so far (or ``after``)."""
        for _ in range(count):
            self.ids.append(max([after, *self.ids]) + 1)

    def place(self, location: int, key: int, available: int | None, now: datetime) -> int | None:
        """Set the item's level at an added location (``available`` None keeps it; 0 if never set);
        the level now, or None when the location is not one of ours."""
        if location not in self.ids:
            return None
        at = self.levels.setdefault(location, {})
        level = at.get(key, (0, now))[0] if available is None else available
        at[key] = (level, now)
        return level

    def stocked(self, location: int, key: int) -> bool:
        """True when the item is stocked at that added location (its level can be set there)."""
        return key in self.levels.get(location, {})

    def remove(self, location: int, key: int) -> int | None:
        """Unstock the item at an added location (its level gone from every list); the level it
        had, or None when the item was not stocked there."""
        found = self.levels.get(location, {}).pop(key, None)
        return None if found is None else (found[0] if found[0] is not None else 0)

    def keys(self, location_ids: Collection[str], item_keys: Collection[int] | None,
             since: datetime | None) -> list[int]:
        """Sort keys of the levels that pass the filters (no location ids: every location)."""
        return sorted(ordinal * STRIDE + key for ordinal, location in enumerate(self.ids, start=1)
                      if not location_ids or str(location) in location_ids
                      for key, (_, updated_at) in self.levels.get(location, {}).items()
                      if (item_keys is None or key in item_keys) and (since is None or updated_at >= since))

    def at(self, sort_key: int) -> tuple[int, int, int | None, datetime] | None:
        """(location, item key, available, updated_at) behind a sort key; None for the main location."""
        ordinal, key = divmod(sort_key, STRIDE)
        if ordinal == 0:
            return None
        location = self.ids[ordinal - 1]
        return (location, key, *self.levels[location][key])

    def level_keys(self, main: int, main_keys: Callable[[datetime | None], Sequence[int]], total: int,
                   location_ids: Collection[str], item_keys: Collection[int] | None,
                   since: datetime | None) -> list[int]:
        """Sort keys of every level that passes the filters: the main location's (``main_keys(since)``,
        bare item keys below ``total``) first, then the added locations' (no location ids: all)."""
        found: Sequence[int] = []
        if not location_ids or str(main) in location_ids:
            found = main_keys(since)
            if item_keys is not None:
                found = sorted(k for k in item_keys if 0 <= k < total and (since is None or k in found))
        return [*found, *self.keys(location_ids, item_keys, since)]
