"""The records a stand-in keeps: a catalog stand-in's (one id sequence for everything, products in
a lazy catalog, orders in a list) and an ERP's (records per model, each model numbered on its own).

* :class:`CatalogState`: the bookkeeping every catalog stand-in does the same way (Shopify,
  WooCommerce): read, store and find products by key or SKU, list what changed since a time
  without building the generated ones, find an order by id. :func:`changed_since` is the list
  filter that narrows by it (``updated_at_min``, ``modified_after``).
* :class:`CatalogRecords`: WooCommerce numbers products, variations, orders, refunds and coupons
  from one sequence (they are all WordPress posts), as BigCommerce and Magento number their
  entities from database sequences; a test reads ids from answers, so only their uniqueness and
  order matter here. It also moves managed stock and stores orders with both date renderings.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit.admin import known, plain
from sandbox.kit.catalog import LazyCatalog
from sandbox.kit.dates import SiteDates
from sandbox.kit.inventory import StockStatus
from sandbox.kit.ledger import found
from sandbox.kit.resources import Filter
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
class CatalogState:
    """A mixin for a stand-in's state (a dataclass) whose products live in ``catalog``, a
    :class:`LazyCatalog` the state declares with its ``key_of`` and ``stamp``, whose orders are
    the list ``orders``, and whose other records take ids from one sequence (:meth:`allocate`)."""

    orders: list[Record] = field(default_factory=list)
    catalog: LazyCatalog[Any] = field(init=False)
    next_id: int = 1

    def allocate(self, n: int = 1) -> int:
        """The first of ``n`` fresh consecutive ids of the state's one sequence."""
        first = self.next_id
        self.next_id += n
        return first

    @property
    def total(self) -> int:
        """One past the last generated key."""
        return self.catalog.total

    def get(self, key: int) -> Any:
        """The product under ``key`` (a generated one built on demand), or None."""
        return self.catalog.get(key)

    def store(self, product: Any) -> None:
        self.catalog.put(product)

    def key_for_sku(self, sku: str) -> int | None:
        return self.catalog.key_for_sku(sku)

    def by_sku(self, sku: str) -> Any:
        """The product with that SKU, or None."""
        key = self.catalog.key_for_sku(sku)
        return None if key is None else self.catalog.get(key)

    def find_order(self, order_id: Any) -> Record | None:
        return next((order for order in self.orders if order["id"] == order_id), None)

    def order(self, order_id: Any) -> Record:
        """The order, or the :class:`~sandbox.kit.ledger.Refusal` ``order`` unknown (the platform's 404)."""
        return found(self.find_order(order_id), "order")

    def changed(self, keys: Sequence[int], when: datetime | None, strictly: bool = False) -> Sequence[int]:
        """The ``keys`` (in their order) whose product changed at/after ``when`` (strictly after
        with ``strictly``; every key when ``when`` is None): stored ones by their stamp, untouched
        generated ones by their batch's. A range of keys (a whole catalog) costs only what changed."""
        if when is None:
            return keys
        wanted = self.catalog.changed_since(when, strictly=strictly)
        if isinstance(keys, range):
            return [key for key in wanted if key in keys]
        chosen = set(wanted)
        return [key for key in keys if key in chosen]


def changed_since(param: str, parse: Callable[[str, dict[str, str]], Any], strictly: bool = False) -> Filter:
    """A list filter keeping the products of a :class:`CatalogState` changed since the parsed value."""
    return Filter(param, narrow=lambda state, keys, when: state.changed(keys, when, strictly), parse=parse)


@dataclass
class CatalogRecords(CatalogState):
    """A catalog state whose records all take their ids from its one sequence (:meth:`allocate`),
    whose products are dicts with a managed stock (:meth:`move_stock`) and whose orders show their
    dates twice (:meth:`add_order`)."""

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


def add_order_view(kit: StandIn[Any], view: Callable[[Any, Record], dict[str, Any]]) -> None:
    """``GET _admin/state/orders/{order_id}``: ``view(state, order)`` of a stored order, for tests
    to assert on what the API does not show (404 ``unknown order N`` when there is none)."""

    @kit.admin.get("/state/orders/{order_id}")
    def state_order(order_id: int, state: Any = kit.state) -> JSONResponse:
        with state.lock:
            return plain(view(state, known(state.find_order(order_id), f"order {order_id}")))
