"""The records a stand-in keeps: a catalog stand-in's (one id sequence for everything, products in
a lazy catalog, orders in a list) and an ERP's (records per model, each model numbered on its own).

WooCommerce numbers products, variations, orders, refunds and coupons from one sequence (they
are all WordPress posts), as BigCommerce and Magento number their entities from database
sequences; a test reads ids from answers, so only their uniqueness and order matter here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit.admin import known
from sandbox.kit.catalog import LazyCatalog
from sandbox.kit.dates import SiteDates
from sandbox.kit.inventory import StockStatus
from sandbox.kit.standin import StandIn

Record = dict[str, Any]


class ModelRecords:
    """A mixin for an ERP stand-in's state whose ``records`` hold a table per model, each numbering
    its ids from 1 as a database sequence does (Odoo's models, Business Central's tables)."""

    records: dict[str, dict[int, Record]]

    def add(self, model: str, values: dict[str, Any]) -> Record:
        table = self.records.setdefault(model, {})
        record = {"id": max(table, default=0) + 1, **values}
        table[record["id"]] = record
        return record


@dataclass
class CatalogRecords:
    """A mixin for a stand-in's state (a dataclass): ``allocate`` ids, read and store products in
    ``catalog`` (generated ones are built on demand), find orders in ``orders`` by id."""

    #: The product key that :meth:`changed_after` compares.
    modified_key = "date_modified"
    next_id: int = 1
    orders: list[Record] = field(default_factory=list)
    catalog: LazyCatalog[Record] = field(init=False)

    def allocate(self, n: int = 1) -> int:
        """The first of ``n`` fresh consecutive ids."""
        first = self.next_id
        self.next_id += n
        return first

    def get(self, pid: int) -> Record | None:
        return self.catalog.get(pid)

    def store(self, product: Record) -> None:
        self.catalog.store(product["id"], product)

    def id_for_sku(self, sku: str) -> int | None:
        return self.catalog.key_for_sku(sku)

    def find_order(self, order_id: int) -> Record | None:
        return next((o for o in self.orders if o["id"] == order_id), None)

    def move_stock(self, rule: StockStatus, product: Record, delta: int, when: datetime) -> Record:
        """``delta`` added to a managed product's quantity (its status derived again, stamped
        ``when``), stored and answered; an unmanaged product is answered as it is."""
        if product[rule.managed]:
            self.store(product := rule.moved(product, delta, when))
        return product

    def add_order(self, dates: SiteDates, order_id: int, now: datetime, lines: list[Record], **fields: Any) -> Record:
        """An order stored with its number and both renderings of its dates, its lines numbered
        after it (``order_id * 100 + n``), no refunds yet, ``fields`` on top; ``_modified`` keeps
        the instant for filters."""
        order = {"id": order_id, "number": str(order_id), **dates.pairs(date_created=now, date_modified=now),
                 **fields, "line_items": [{"id": order_id * 100 + n, **line} for n, line in enumerate(lines)],
                 "refunds": [], "_modified": now}
        self.orders.append(order)
        return order

    def changed_after(self, ids: list[int], when: datetime) -> list[int]:
        """A collection filter's ``narrow``: the ``ids`` modified strictly after ``when``, stored
        ones by their date and untouched generated ones by their batch's."""
        wanted = set(self.catalog.changed_since(when, lambda product: product[self.modified_key], strictly=True))
        return [pid for pid in ids if pid in wanted]


def add_order_view(kit: StandIn[Any], view: Callable[[Any, Record], dict[str, Any]]) -> None:
    """``GET _admin/state/orders/{order_id}``: ``view(state, order)`` of a stored order, for tests
    to assert on what the API does not show (404 ``unknown order N`` when there is none)."""

    @kit.admin.get("/state/orders/{order_id}")
    def state_order(order_id: int, state: Any = kit.state) -> JSONResponse:
        with state.lock:
            return JSONResponse(view(state, known(state.find_order(order_id), f"order {order_id}")))
