"""``backorders import tradegecko|qbcommerce FILE``: a TradeGecko / QuickBooks Commerce export loaded
into the business file and the database, all of it or nothing.

1. The export is read whole (``domain.core.exports``); any bad row stops here, named by its line.
2. Its suppliers, locations and variants are merged into the TOML file the way ``stores discover``
   merges a catalogue (``domain.core.config_file``): only added, so SKUs, vendors and mapped
   locations already written stay exactly as they are. Suppliers become ``[[vendors]]`` (a vendor
   of the file with the supplier's name is that supplier; else the key is the supplier code, or the
   name; ``lead_time_days`` a placeholder marked for review, the email the file's or ``vendor_email``:
   a supplier with neither is refused, since every vendor needs an address for its orders), variants
   ``[[skus]]`` with their title, category, price, cost, vendor and reorder point, and each stock
   location of the file a location of ``store`` (mapped to a new ``[[locations]]`` entry unless the
   store's ``locations`` table already maps that name).
3. The merged file is checked exactly as ``backorders config check`` checks it, before it is written.
4. The database takes the file (``config apply``) and the export's stock as the store's figures
   (``domain.stock.levels.record_batch``, so history and transitions see them as any reading), in
   one transaction; the file is written inside it, and put back if the commit fails.

``store`` is the store whose figures the export's stock are: the QuickBooks Online store the
business moved to, or its back office. Its next poll replaces them with the platform's own.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit
from sqlalchemy import select

from connectors.types import StockRecord
from domain.core import config_file
from domain.core.business_config import BusinessConfig, ConfigError, load_config
from domain.core.config_file import MergeSummary, NewLocation, NewSku, NewVendor
from domain.core.db import session_scope
from domain.core.exports import Catalogue, read_export
from domain.core.models import Store
from domain.stock.catalog import apply_config
from domain.stock.levels import record_batch


@dataclass
class ImportReport:
    layout: str
    variants: int
    suppliers: int
    locations: list[str]
    merge: MergeSummary
    stock_rows: int = 0
    written: bool = False
    warnings: list[str] = field(default_factory=list)


def merged(document: tomlkit.TOMLDocument, catalogue: Catalogue, store_key: str, threshold: int,
           lead_time_days: int, added_by: str, vendor_email: str | None = None) -> MergeSummary:
    summary = MergeSummary()
    config_file.store_table(document, store_key)  # the store must be in the file: ConfigError names the ones there
    named = {str(t.get("name", "")).strip().lower(): str(t.get("key")) for t in document.get("vendors", [])}
    key = {s.key: named.get(s.name.strip().lower(), s.key) for s in catalogue.suppliers}  # a vendor known by name
    listed = {str(t.get("key")) for t in document.get("vendors", [])}
    unreachable = [s for s in catalogue.suppliers if key[s.key] not in listed and not (s.email or vendor_email)]
    if unreachable:  # a vendor needs an address for its purchase orders (config check refuses one without)
        raise ConfigError([f"supplier {s.name!r} (first on line {s.line}) has no email: fill its 'Supplier Email', "
                           f"add the vendor to the file first (matched by name), or pass --vendor-email"
                           for s in unreachable])
    config_file.merge_vendors(document, [NewVendor(key[s.key], s.name, s.email or vendor_email or "", lead_time_days)
                                         for s in catalogue.suppliers], summary, added_by)
    config_file.merge_locations(document, store_key, [NewLocation(name, name) for name in catalogue.locations],
                                summary)
    config_file.merge_skus(document, store_key, [
        NewSku(code=v.code, title=v.title, price=v.price, backorders_allowed=v.keep_selling, category=v.category or None,
               cost=v.cost, vendor=key.get(v.supplier or "", v.supplier), reorder_point=v.reorder_point) for v in catalogue.variants],
        threshold, summary, added_by)
    return summary


def checked(path: Path, document: tomlkit.TOMLDocument) -> BusinessConfig:
    """The merged file loaded as ``config check`` loads it, from a copy beside the original."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.check.", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(tomlkit.dumps(document))
        return load_config(Path(temporary))
    finally:
        Path(temporary).unlink(missing_ok=True)


def run(layout: str, export: Path, path: Path, store_key: str, *, threshold: int = 0, lead_time_days: int = 14,
        vendor_email: str | None = None, database: bool = True) -> ImportReport:
    """Import ``export`` into ``path`` (and the database); raises ``ExportError`` or ``ConfigError``
    with every problem, having written nothing."""
    catalogue = read_export(export, layout)
    original = path.read_text(encoding="utf-8") if path.exists() else None
    document = config_file.load(path)
    summary = merged(document, catalogue, store_key, threshold, lead_time_days,
                     f"backorders import {layout} {export.name}", vendor_email)
    loaded = checked(path, document)
    report = ImportReport(layout, len(catalogue.variants), len(catalogue.suppliers), catalogue.locations, summary)
    if not database:
        config_file.save(path, document)
        report.written = True
        return report
    try:
        with session_scope() as session:
            apply_config(session, loaded)
            store_id = session.scalar(select(Store.id).where(Store.key == store_key))
            if store_id is None:
                raise ConfigError([f"stores: {store_key!r} is not in the database after applying the file"])
            records = [StockRecord(external_id=v.code, sku=v.code, location_external_id=name, on_hand=on_hand,
                                   committed=committed, available=on_hand - committed)
                       for v in catalogue.variants for name, (on_hand, committed) in sorted(v.stock.items())]
            result = record_batch(session, store_id, records)
            report.stock_rows = len(records)
            report.warnings = [f"{r.sku} at {r.location_external_id}: not recorded (no such SKU or location mapping)"
                               for r in result.unknown]
            config_file.save(path, document)
            report.written = True
    except BaseException:
        if report.written and original is not None:
            path.write_text(original, encoding="utf-8")  # the commit failed after the file was written
        report.written = False
        raise
    return report
