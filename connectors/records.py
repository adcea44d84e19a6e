"""Record shapes declared as data: where a platform keeps the fields of one of our records.

An order line is the same record on every storefront and differs only in key names: Shopify's
``line_items`` (https://shopify.dev/docs/api/admin-rest/latest/resources/order) name the title
``title`` and the variant ``variant_id``; WooCommerce's
(https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties) ``name`` and
``variation_id``, else ``product_id``. A connector declares :class:`LineFields` and maps an
order's lines with :meth:`LineFields.records`.

:func:`held_back` is the stock a pool of locations will not sell, counted at its first location.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from connectors.types import OrderLineRecord, StockRecord
from connectors.values import id_str, money_cents


@dataclass(frozen=True)
class LineFields:
    """The keys of an order line's fields; ``variant`` keys are tried in order and the first one
    set (not empty, not 0) is the variant. Money is a decimal string or number (``money_cents``)."""

    title: str = "title"
    variant: tuple[str, ...] = ("variant_id",)
    id: str = "id"
    sku: str = "sku"
    quantity: str = "quantity"
    price: str = "price"

    def record(self, line: Mapping[str, Any]) -> OrderLineRecord:
        variant = next((line[key] for key in self.variant if line.get(key)), None)
        return OrderLineRecord(external_id=str(line[self.id]), sku=line.get(self.sku) or None,
                               quantity=int(line.get(self.quantity, 0)), title=str(line.get(self.title) or ""),
                               price_cents=money_cents(line.get(self.price)), variant_external_id=id_str(variant))

    def records(self, lines: Iterable[Mapping[str, Any]] | None) -> list[OrderLineRecord]:
        """Every line of an order (none when the order has no line list)."""
        return [self.record(line) for line in lines or []]


def held_back(records: list[StockRecord], pool: Sequence[str], sellable: Callable[[str], int | None]
              ) -> list[StockRecord]:
    """Per SKU, what a pool of locations (``pool``: their ids by priority) will not sell — their
    on-hand figures less ``sellable(sku)`` — counted as committed at the pool's first location that
    holds the SKU, so the pool's available figures add up to what it sells.

    Magento's Multi-Source Inventory keeps reservations (orders not shipped yet) per stock, not per
    source: a stock's salable quantity is its sources' quantities less those reservations and the
    out-of-stock threshold (https://developer.adobe.com/commerce/webapi/rest/inventory/check-salable-quantity/),
    and which source ships is decided only at shipment. ``sellable`` is asked once per SKU the pool
    holds; records elsewhere are left as they are."""
    rank = {location: n for n, location in enumerate(pool)}
    out = list(records)
    for sku in dict.fromkeys(r.sku for r in records if r.sku):
        mine = sorted((n for n, r in enumerate(out) if r.sku == sku and r.location_external_id in rank),
                      key=lambda n: rank[str(out[n].location_external_id)])
        if mine:
            held = max(0, sum(out[n].on_hand or 0 for n in mine) - (sellable(str(sku)) or 0))
            out[mine[0]] = replace(out[mine[0]], committed=held, available=(out[mine[0]].on_hand or 0) - held)
    return out
