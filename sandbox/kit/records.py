"""The records a catalog stand-in keeps: one id sequence for everything, products in a lazy
catalog, orders in a list.

WooCommerce numbers products, variations, orders, refunds and coupons from one sequence (they
are all WordPress posts), as BigCommerce and Magento number their entities from database
sequences; a test reads ids from answers, so only their uniqueness and order matter here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.kit.catalog import LazyCatalog

Record = dict[str, Any]


@dataclass
class CatalogRecords:
    """A mixin for a stand-in's state (a dataclass): ``allocate`` ids, read and store products in
    ``catalog`` (generated ones are built on demand), find orders in ``orders`` by id."""

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
