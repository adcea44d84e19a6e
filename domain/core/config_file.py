"""Edits to the business TOML file that keep every hand edit: comments, order, and values set.

``backorders stores discover`` and ``stores connect`` write what they learn from a store into the
file the operator keeps (``tomlkit`` round-trips it byte for byte where nothing changed). They only
add: a location already mapped, a SKU already listed, a key already set is left exactly as it is,
so running them again after editing thresholds by hand changes nothing the operator wrote.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

import tomlkit
from tomlkit.items import AoT, InlineTable, Table

from domain.core.business_config import ConfigError, StoreConfig, parse_store

SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class NewLocation:
    """A store location to map: the platform's id and the name its admin shows."""

    external_id: str
    name: str


@dataclass(frozen=True)
class NewSku:
    """A catalogue item with a code; ``backorders_allowed`` is the platform's current setting."""

    code: str
    title: str
    price: str | None = None
    backorders_allowed: bool | None = None
    #: Written when known (an export file's variant): its category, cost, vendor key and reorder point.
    category: str | None = None
    cost: str | None = None
    vendor: str | None = None
    reorder_point: int | None = None


@dataclass(frozen=True)
class NewVendor:
    """A supplier to add to ``[[vendors]]``; ``lead_time_days`` is a placeholder to review."""

    key: str
    name: str
    email: str = ""
    lead_time_days: int = 14


@dataclass
class MergeSummary:
    """What a merge added and what it left alone, for the command to report."""

    locations_added: list[str] = field(default_factory=list)
    locations_kept: int = 0
    skus_added: int = 0
    skus_kept: int = 0
    keys_set: list[str] = field(default_factory=list)
    vendors_added: list[str] = field(default_factory=list)
    vendors_kept: int = 0


def load(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from exc
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from exc


def save(path: Path, document: tomlkit.TOMLDocument) -> None:
    """Write atomically (a temporary file renamed over it): a crash never leaves half a file."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(tomlkit.dumps(document))
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def store_table(document: tomlkit.TOMLDocument, key: str) -> Table:
    for table in document.get("stores", []):
        if table.get("key") == key:
            assert isinstance(table, Table)
            return table
    known = ", ".join(str(t.get("key")) for t in document.get("stores", [])) or "none"
    raise ConfigError([f"stores: no store with key {key!r} (stores in the file: {known})"])


def read_store(document: tomlkit.TOMLDocument, key: str) -> StoreConfig:
    """One store's settings, checked alone: a file still without locations or SKUs (the state
    before ``discover``) is enough to reach the store."""
    location_keys = {str(t.get("key")) for t in document.get("locations", [])}
    return parse_store(store_table(document, key).unwrap(), location_keys)


def set_default(table: Table, key: str, value: Any, summary: MergeSummary) -> Any:
    """``table[key] = value`` unless the key is already there; the value in force either way."""
    if key not in table:
        table[key] = value
        summary.keys_set.append(key)
    return table[key]


def _array_of_tables(document: tomlkit.TOMLDocument, name: str) -> AoT:
    if name not in document:
        document.append(name, tomlkit.aot())
    tables = document[name]
    assert isinstance(tables, AoT)
    return tables


def _location_key(base: str, taken: set[str]) -> str:
    slug = SLUG.sub("-", base.lower()).strip("-")[:56] or "location"
    if not slug[0].isalnum():
        slug = f"l{slug}"
    key, n = slug, 2
    while key in taken:
        key, n = f"{slug}-{n}", n + 1
    return key


def merge_locations(document: tomlkit.TOMLDocument, store_key: str, found: Iterable[NewLocation],
                    summary: MergeSummary) -> None:
    """Map every store location not mapped yet to a new ``[[locations]]`` entry named after it."""
    store = store_table(document, store_key)
    if "locations" not in store:
        store["locations"] = tomlkit.inline_table()
    mapping = store["locations"]
    assert isinstance(mapping, (InlineTable, Table)), "a store's locations are a table"
    locations = _array_of_tables(document, "locations")
    taken = {str(t.get("key")) for t in locations}
    timezone = (document.get("business") or {}).get("timezone")
    for location in found:
        if location.external_id in mapping:
            summary.locations_kept += 1
            continue
        key = _location_key(store_key if location.external_id == "default" else location.name, taken)
        taken.add(key)
        table = tomlkit.table()
        table["key"] = key
        table["name"] = location.name
        if timezone:
            table["timezone"] = str(timezone)
        locations.append(table)
        mapping[location.external_id] = key
        summary.locations_added.append(f"{location.external_id} → {key}")


def _price(value: str | None) -> str | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return f"{amount:.2f}" if amount >= 0 and amount == amount.quantize(Decimal("0.01")) else None


def merge_vendors(document: tomlkit.TOMLDocument, found: Iterable[NewVendor], summary: MergeSummary,
                  added_by: str) -> None:
    """Append a ``[[vendors]]`` table for every key the file does not list yet (an export's suppliers)."""
    vendors = _array_of_tables(document, "vendors")
    listed = {str(t.get("key")) for t in vendors}
    for vendor in found:
        if vendor.key in listed:
            summary.vendors_kept += 1
            continue
        listed.add(vendor.key)
        table = tomlkit.table()
        table.comment(f"added by `{added_by}` on {date.today().isoformat()}: check lead_time_days and email")
        table["key"] = vendor.key
        table["name"] = vendor.name
        if vendor.email:
            table["email"] = vendor.email
        table["lead_time_days"] = vendor.lead_time_days
        vendors.append(table)
        summary.vendors_added.append(vendor.key)


def merge_skus(document: tomlkit.TOMLDocument, store_key: str, items: Iterable[NewSku], threshold: int,
               summary: MergeSummary, added_by: str | None = None) -> None:
    """Append a ``[[skus]]`` table for every code the file does not list yet. ``allow_backorder``
    is the platform's current setting, so connecting a store never changes how its listings sell."""
    skus = _array_of_tables(document, "skus")
    listed = {str(t.get("code")) for t in skus}
    first = True
    for item in items:
        if item.code in listed:
            summary.skus_kept += 1
            continue
        listed.add(item.code)
        table = tomlkit.table()
        if first:
            table.comment(f"added by `{added_by or f'backorders stores discover {store_key}'}` on "
                          f"{date.today().isoformat()}")
            first = False
        table["code"] = item.code
        table["title"] = item.title
        if item.category:
            table["category"] = item.category
        if (price := _price(item.price)) is not None:
            table["price"] = price
        if (cost := _price(item.cost)) is not None:
            table["cost"] = cost
        if item.vendor:
            table["vendor"] = item.vendor
        table["threshold"] = threshold
        if item.reorder_point is not None:
            table["reorder_point"] = item.reorder_point
        if item.backorders_allowed is not None:
            table["allow_backorder"] = item.backorders_allowed
        skus.append(table)
        summary.skus_added += 1
