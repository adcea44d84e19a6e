"""A product's stock status derived from its quantity, the rule declared as data.

Commerce platforms that track a quantity also show a status word derived from it whenever they
manage the stock: WooCommerce's ``stock_status`` (``instock`` / ``onbackorder`` / ``outofstock``,
``WC_Product_Data_Store_CPT::update_stock_status``), Magento's ``is_in_stock`` with its
``backorders`` setting, BigCommerce's ``inventory_tracking`` with ``availability``. The rule is the
same: a positive quantity is in stock; otherwise backorders decide between "on backorder" and
"out of stock"; an unmanaged stock keeps the status it was given. A stand-in names its words and
fields; every change of quantity (a merchant's edit, a sale, a restock) goes through
:meth:`StockStatus.changed` so the status can never disagree with the quantity.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

Record = dict[str, Any]


@dataclass(frozen=True)
class StockStatus:
    """The status words and the record's field names; ``no_backorders`` is the backorders value
    that refuses them."""

    in_stock: str
    on_backorder: str
    out_of_stock: str
    no_backorders: Any = "no"
    status: str = "stock_status"
    quantity: str = "stock_quantity"
    managed: str = "manage_stock"
    backorders: str = "backorders"
    modified: str = "date_modified"

    def derive(self, record: Record, current: str) -> str:
        """The status ``record`` shows: derived when its stock is managed, else ``current``."""
        if not record[self.managed]:
            return current
        quantity = record[self.quantity]
        if quantity is not None and quantity > 0:
            return self.in_stock
        return self.on_backorder if record[self.backorders] != self.no_backorders else self.out_of_stock

    def changed(self, record: Record, now: datetime, **changes: Any) -> Record:
        """A copy of ``record`` with ``changes``, its status derived again, modified ``now``."""
        updated = {**record, **changes, self.modified: now}
        updated[self.status] = self.derive(updated, updated[self.status])
        return updated

    def moved(self, record: Record, delta: int, now: datetime) -> Record:
        """``delta`` added to a managed quantity (negative for a sale); an unmanaged record as is."""
        if not record[self.managed]:
            return record
        return self.changed(record, now, **{self.quantity: (record[self.quantity] or 0) + delta})
