"""TradeGecko and QuickBooks Commerce export files read as a catalogue: products, variants, stock and
suppliers, every bad row named by its line.

QuickBooks Commerce (TradeGecko until Intuit renamed it; closed 31 August 2023) can no longer be
asked: ``api.tradegecko.com`` is gone, and its users hold CSV exports. Two layouts are accepted.

``tradegecko`` — the product file of TradeGecko's bulk import/export, one row per variant. Its
columns are those of TradeGecko's "Product and variant import fields" article
(https://support.tradegecko.com/hc/en-us/articles/115001995410): ``Product Name``, ``Product Type``,
``Supplier``, ``Supplier Code``, ``Brand``, ``Option 1 Label`` … ``Option 3 Value``, ``Variant Name``
and ``Variant SKU`` (required, unique). The price and stock columns after those are not quoted in
what survives of that article; they are read by the names of the variant's fields in TradeGecko's
API (``buy_price``, ``retail_price``, ``reorder_point``, ``keep_selling``, ``stock_on_hand``,
``committed_stock``, ``stock_levels`` per location, quantities as decimals such as ``"-5.0"``:
https://github.com/tradegecko/docs_old/blob/master/_posts/2013-01-07-variant.md) titled as the
export titled its headers: ``Buy Price``, ``Retail Price``, ``Reorder Point``, ``Keep Selling`` and one
``Stock On Hand - <location name>`` column per warehouse (a lone ``Stock On Hand`` column is the
location named ``Default``), ``Committed - <location name>`` optional beside each. ``Supplier Email``
is read when present. Every other column is ignored.

``qbcommerce`` — QuickBooks Commerce's inventory export, one row per variant and location: ``SKU``,
``Product Name``, ``Variant Name``, ``Product Type``, ``Supplier``, ``Supplier Email``, ``Location``,
``Stock On Hand``, ``Committed``, ``Buy Price``, ``Retail Price``, ``Reorder Point``, ``Keep Selling``.
No public page documents this layout any more (the help centre closed with the product); the names
are TradeGecko's own, as its stock-level reports titled them, and the file in ``examples/imports``
shows it. A variant's product fields must agree on each of its rows.

Quantities are whole units (``12`` or ``12.0``; below zero where the export oversold), prices
decimals in the file's currency rounded to cents. Problems are collected for the whole file and
raised together (:class:`ExportError`), each as ``<file> line N: …``; nothing is returned half read.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Callable

FORMATS = ("tradegecko", "qbcommerce")
STOCK_PREFIX, COMMITTED_PREFIX = "Stock On Hand - ", "Committed - "
TRUE, FALSE = {"true", "yes", "y", "1", "t"}, {"false", "no", "n", "0", "f", ""}
SLUG = re.compile(r"[^a-z0-9]+")


class ExportError(Exception):
    """The file's problems, each naming its line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Supplier:
    key: str
    name: str
    email: str = ""
    line: int = 0


@dataclass
class Variant:
    """One SKU and its stock per location name (``on_hand``, ``committed``)."""

    code: str
    title: str
    category: str
    line: int
    supplier: str | None = None
    cost: str | None = None
    price: str | None = None
    reorder_point: int | None = None
    keep_selling: bool | None = None
    stock: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Catalogue:
    variants: list[Variant]
    suppliers: list[Supplier]

    @property
    def locations(self) -> list[str]:
        return sorted({name for variant in self.variants for name in variant.stock})


def slug(text: str) -> str:
    return SLUG.sub("-", text.lower()).strip("-")[:64]


class _Row:
    """One data row's cells, with readers that note a problem instead of raising."""

    def __init__(self, cells: dict[str, str], line: int, where: str, problems: list[str]) -> None:
        self.cells, self.line, self.where, self.problems = cells, line, where, problems

    def text(self, column: str) -> str:
        return (self.cells.get(column) or "").strip()

    def problem(self, message: str) -> None:
        self.problems.append(f"{self.where} line {self.line}: {message}")

    def units(self, column: str, default: int | None = None) -> int | None:
        raw = self.text(column).replace(",", "")
        if not raw:
            return default
        try:
            number = Decimal(raw)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number != number.to_integral_value():
            self.problem(f"column {column!r}: {raw!r} is not a whole number of units")
            return default
        return int(number)

    def money(self, column: str) -> str | None:
        raw = self.text(column).lstrip("$£€").replace(",", "")
        if not raw:
            return None
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite() or amount < 0:
            self.problem(f"column {column!r}: {raw!r} is not a price")
            return None
        return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))

    def flag(self, column: str) -> bool | None:
        raw = self.text(column).lower()
        if column not in self.cells or not raw:
            return None
        if raw not in TRUE | FALSE:
            self.problem(f"column {column!r}: {raw!r} is not true or false")
            return None
        return raw in TRUE


def _read(path: Path, required: tuple[str, ...], each: Callable[[_Row], None]) -> list[str]:
    problems: list[str] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            headers = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = headers
            missing = [column for column in required if column not in headers]
            if missing:
                return [f"{path.name} line 1: missing column(s) {', '.join(repr(m) for m in missing)}"]
            for cells in reader:
                if None in cells:
                    problems.append(f"{path.name} line {reader.line_num}: more cells than the header has columns")
                    continue
                if any((value or "").strip() for value in cells.values()):
                    each(_Row(cells, reader.line_num, path.name, problems))
    except UnicodeDecodeError as exc:
        return [f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start}); export it again as UTF-8 CSV"]
    except csv.Error as exc:
        return [f"{path.name}: not a CSV file ({exc})"]
    return problems


def read_export(path: Path, layout: str) -> Catalogue:
    """The file as a :class:`Catalogue`, or :class:`ExportError` naming every bad line."""
    if layout not in FORMATS:
        raise ExportError([f"unknown export format {layout!r} (known: {', '.join(FORMATS)})"])
    variants: dict[str, Variant] = {}
    suppliers: dict[str, Supplier] = {}

    def supplier(row: _Row) -> str | None:
        name = row.text("Supplier")
        if not name:
            return None
        key = slug(row.text("Supplier Code") or name) or "supplier"
        known = suppliers.get(key)
        if known is None or (not known.email and row.text("Supplier Email")):
            suppliers[key] = Supplier(key=key, name=name, email=row.text("Supplier Email"),
                                      line=known.line if known else row.line)
        return key

    def variant(row: _Row, code_column: str) -> Variant | None:
        code = row.text(code_column)
        if not code:
            row.problem(f"column {code_column!r} is empty: every variant needs its SKU")
            return None
        title = row.text("Variant Name") or row.text("Product Name")
        if not title:
            row.problem(f"{code}: both 'Variant Name' and 'Product Name' are empty")
        reorder_point = row.units("Reorder Point")
        if reorder_point is not None and reorder_point < 0:
            row.problem(f"column 'Reorder Point': {reorder_point} is below zero")
        return Variant(code=code, title=title or code, category=slug(row.text("Product Type")), line=row.line,
                       supplier=supplier(row), cost=row.money("Buy Price"), price=row.money("Retail Price"),
                       reorder_point=reorder_point, keep_selling=row.flag("Keep Selling"))

    def tradegecko(row: _Row) -> None:
        found = variant(row, "Variant SKU")
        if found is None:
            return
        if found.code in variants:
            row.problem(f"SKU {found.code!r} is already on line {variants[found.code].line}")
            return
        for column in row.cells:
            name = "Default" if column == "Stock On Hand" else column[len(STOCK_PREFIX):].strip() \
                if column.startswith(STOCK_PREFIX) else None
            if name and row.text(column):
                committed = row.units(f"{COMMITTED_PREFIX}{name}", 0) or 0
                found.stock[name] = (row.units(column, 0) or 0, committed)
        variants[found.code] = found

    def qbcommerce(row: _Row) -> None:
        found = variant(row, "SKU")
        if found is None:
            return
        location = row.text("Location") or "Default"
        first = variants.setdefault(found.code, found)
        if first is not found and (first.title, first.supplier, first.cost, first.price) != \
                (found.title, found.supplier, found.cost, found.price):
            row.problem(f"SKU {found.code!r}: product fields differ from line {first.line}")
        if location in first.stock:
            row.problem(f"SKU {found.code!r} at {location!r} is already on an earlier line")
        first.stock[location] = (row.units("Stock On Hand", 0) or 0, row.units("Committed", 0) or 0)

    required = ("Product Name", "Variant SKU") if layout == "tradegecko" else ("SKU", "Location", "Stock On Hand")
    problems = _read(path, required, tradegecko if layout == "tradegecko" else qbcommerce)
    if problems:
        raise ExportError(problems)
    if not variants:
        raise ExportError([f"{path.name}: no variants in the file"])
    return Catalogue(list(variants.values()), sorted(suppliers.values(), key=lambda s: s.key))
