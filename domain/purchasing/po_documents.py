"""The vendor-facing purchase order: one context, rendered as text, HTML and CSV.

The context is built once from the database (:func:`po_context`) and holds only JSON values
(strings and integers), so the same dict can be stored as an outbox row's context: the vendor
email renders from it later, in another process, and shows exactly the figures the CSV carries.

Money is integer cents in the database; here it becomes decimal strings (``"1234.50"``) by integer
arithmetic, never through a float, so a CSV total always equals the sum of its lines.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Location, PurchaseOrder, PurchaseOrderLine, Sku, Vendor
from domain.messaging.rendering import TEMPLATES_DIR

CSV_HEADER = ("po_number", "sku", "title", "quantity", "unit_cost", "line_total", "expected_date")
CURRENCY_SYMBOLS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(cents: int) -> str:
    """``123456`` → ``"1234.56"``; exact for any integer (negative amounts keep their sign)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{part:02d}"


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _business_name(explicit: str | None) -> str:
    """The configured business name; the TOML file is only read when the caller did not say."""
    if explicit is not None:
        return explicit
    from domain.core.business_config import current_config

    return current_config().name


def _ship_to(session: Session, ship_to_key: str | None) -> dict[str, str] | None:
    """The location goods go to: the one named, else the first configured (the main warehouse)."""
    query = select(Location).order_by(Location.id).limit(1)
    if ship_to_key:
        query = select(Location).where(Location.key == ship_to_key)
    location = session.scalars(query).first()
    return {"key": location.key, "name": location.name} if location else None


def _line(line: Any, sku: Any, fallback_date: str | None) -> dict[str, Any]:
    total = int(line.quantity) * int(line.unit_cost_cents)
    return {
        "sku": sku.code, "title": sku.title or sku.code, "quantity": int(line.quantity),
        "unit_cost_cents": int(line.unit_cost_cents), "line_total_cents": total,
        "unit_cost": money(line.unit_cost_cents), "line_total": money(total),
        "expected_date": _iso(line.promised_date) or _iso(line.eta) or fallback_date,
    }


def po_context(session: Session, po_id: int, public_base_url: str, ack_link: str | None, *,
               business_name: str | None = None, ship_to_key: str | None = None,
               currency: str = "USD") -> dict[str, Any]:
    """Everything the PO documents and the vendor email show, as JSON-safe values.

    Lines are ordered by SKU so the text, HTML and CSV list them alike on every render. The total
    is the sum of the lines as rendered (not ``purchase_orders.total_cents``), so the documents
    are consistent with themselves even if a line changed after the total was stored.
    """
    po = session.get(PurchaseOrder, po_id)
    if po is None:
        raise LookupError(f"purchase order {po_id} does not exist")
    vendor = session.get(Vendor, po.vendor_id)
    rows = session.execute(
        select(PurchaseOrderLine, Sku).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
        .where(PurchaseOrderLine.purchase_order_id == po_id).order_by(Sku.code)
    ).all()
    expected = _iso(po.expected_at)
    lines = [_line(line, sku, expected) for line, sku in rows]
    total_cents = sum(line["line_total_cents"] for line in lines)
    return {
        "business_name": _business_name(business_name),
        "po_id": po.id, "po_number": po.number,
        "date": _iso(po.approved_at or po.created_at) or date.today().isoformat(),
        "vendor": {"key": vendor.key, "name": vendor.name, "email": vendor.email} if vendor else
                  {"key": "", "name": "", "email": ""},
        "ack_within_hours": int(vendor.ack_within_hours) if vendor else None,
        "ship_to": _ship_to(session, ship_to_key),
        "expected_date": expected,
        "currency": currency, "currency_symbol": CURRENCY_SYMBOLS.get(currency, f"{currency} "),
        "lines": lines, "total_cents": total_cents, "total": money(total_cents),
        "ack_link": ack_link, "public_base_url": public_base_url.rstrip("/"),
    }


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """Same rules as ``domain.messaging.rendering``: strict (a missing fact fails), HTML autoescaped."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)), undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        trim_blocks=True, lstrip_blocks=True,
    )


def render_po(context: dict[str, Any]) -> tuple[str, str, str]:
    """``(subject, text, html)`` of the stand-alone PO document (``templates/po/``)."""
    env = _environment()
    subject = " ".join(f"Purchase order {context['po_number']} from {context['business_name']}".split())
    text = env.get_template("po/purchase_order.txt").render(**context).strip() + "\n"
    html = env.get_template("po/purchase_order.html").render(**context)
    return subject, text, html


def po_csv(context: dict[str, Any]) -> bytes:
    """The lines as RFC 4180 CSV (UTF-8, CRLF, quoted where needed) for the vendor's systems."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in context["lines"]:
        writer.writerow((context["po_number"], line["sku"], line["title"], line["quantity"],
                         line["unit_cost"], line["line_total"], line["expected_date"] or ""))
    return buffer.getvalue().encode("utf-8")
