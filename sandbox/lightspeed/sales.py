"""X-Series sales: ``GET /api/2.0/sales`` (the version walk every 2.0 collection pages by) and the
till, ``_admin/create_order`` (a sale rung up) and ``_admin/update_sale`` (its status moved on).

A sale is ``{id, outlet_id, register_id, user_id, customer_id, invoice_number, status, sale_date,
created_at, updated_at, total_price, note, line_items: [{id, product_id, quantity, price,
price_total}], version, deleted_at}``; quantities and prices are numbers (the API's doubles)
(https://x-series-api.lightspeedhq.com/docs/sales_statuses for the statuses). A status that takes
the units out of the inventory — every one but ``SAVED`` (parked) and ``VOIDED`` — moves the count
at the sale's outlet, below zero if need be, as the till does; voiding gives them back. Each change
sends ``sale.update`` with the API 1.0 sale (lines under ``register_sale_products``, no version),
then ``inventory.update`` for each count moved.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sandbox.kit.admin import add_change, add_checkout, known
from sandbox.lightspeed.retailer import FIXTURES, RetailerState, _ts, _uuid, deliver_all, inventory_payload, kit, pages

#: Statuses whose units are not out of the inventory.
UNTAKEN = frozenset({"SAVED", "VOIDED"})


pages.serve(kit, "/2.0/sales", lambda state: state.sales.values())


def sale_payload(sale: dict[str, Any]) -> dict[str, Any]:
    """The API 1.0 register sale the ``sale.update`` webhook carries."""
    return FIXTURES.fill("register_sale", sale, register_sale_products=[
        FIXTURES.fill("register_sale_product", line) for line in sale["line_items"]])


def take(state: RetailerState, sale: dict[str, Any], before: str, after: str) -> list[tuple[str, Any]]:
    """Move the sale's units when its status starts or stops taking them; the webhooks to send."""
    units = int(before not in UNTAKEN) - int(after not in UNTAKEN)  # -1 takes them, +1 gives them back
    moved = [state.move(line["product_id"], sale["outlet_id"], units * int(line["quantity"]))
             for line in sale["line_items"]] if units else []
    return [("sale.update", sale_payload(sale)), *(("inventory.update", inventory_payload(row)) for row in moved)]


def sell(state: RetailerState, product_id: str, quantity: int, price: Any, now: datetime) -> tuple[Any, list[Any]]:
    return FIXTURES.fill("sale_line", id=str(uuid.uuid4()), product_id=product_id, quantity=float(quantity),
                         price=float(price), price_total=round(float(price) * quantity, 2)), []


def ring_up(state: RetailerState, lines: list[dict[str, Any]], payload: dict[str, Any], now: datetime,
            begun: Any) -> tuple[dict[str, Any], list[Any]]:
    """``{"lines": [{sku, quantity, price}], "status": "CLOSED", "outlet_id"?}``: the sale, stored."""
    outlet = str(payload.get("outlet_id") or state.outlets[0])
    known(outlet if outlet in state.outlets else None, f"outlet {outlet}")
    status = str(payload.get("status", "CLOSED")).upper()
    sale = FIXTURES.fill("sale", id=str(uuid.uuid4()), outlet_id=outlet, register_id=_uuid(state.name, outlet),
                         user_id=_uuid(state.name, "user"), customer_id=payload.get("customer_id"), at=_ts(now),
                         invoice_number=str(len(state.sales) + 1), status=status, note=payload.get("note", ""),
                         total_price=round(sum(line["price_total"] for line in lines), 2), line_items=lines,
                         version=state.bump())
    state.sales[sale["id"]] = sale
    return {"sale": dict(sale)}, take(state, sale, "SAVED", status)


add_checkout(kit, lambda state, sku: state.sku_index.get(sku), sell, ring_up, deliver_all)


def move_on(state: RetailerState, sale_id: str, payload: dict[str, Any], now: datetime) -> tuple[Any, Any]:
    """``{"id", "status"}``: a layby paid off, a sale voided (its units back in the inventory)."""
    sale = state.sales[sale_id]
    before = sale["status"]
    sale.update(status=str(payload["status"]).upper(), updated_at=_ts(now), version=state.bump())
    return dict(sale), take(state, sale, before, sale["status"])


add_change(kit, "/update_sale", lambda state, sale_id: sale_id if sale_id in state.sales else None, move_on,
           deliver_all, by="id", shown="sale")
