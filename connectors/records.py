"""Record shapes declared as data: where a platform keeps the fields of one of our records.

An order line is the same record on every storefront and differs only in key names: Shopify's
``line_items`` (https://shopify.dev/docs/api/admin-rest/latest/resources/order) name the title
``title`` and the variant ``variant_id``; WooCommerce's
(https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties) ``name`` and
``variation_id``, else ``product_id``. A connector declares :class:`LineFields` and maps an
order's lines with :meth:`LineFields.records`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from connectors.types import OrderLineRecord
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
