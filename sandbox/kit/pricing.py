"""Order totals as the platforms price a draft order, a checkout or a cart: each line's price
times its quantity, then at most one order-level discount whose kinds are declared as data.

Shopify's draft orders (``applied_discount`` ``fixed_amount`` / ``percentage``), WooCommerce's and
Magento's coupons (``fixed_cart`` / ``percent``, ``by_fixed`` / ``by_percent``) and BigCommerce's
cart discounts all take money off the subtotal this way: a percentage rounds down to the cent, a
fixed amount is taken as written, and no discount takes off more than the subtotal.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.kit.money import to_cents


def subtotal(lines: Iterable[dict[str, Any]], price: str = "price", quantity: str = "quantity") -> int:
    """The lines' sum in cents."""
    return sum(to_cents(line[price]) * int(line[quantity]) for line in lines)


def percentage(cents: int, value: Decimal) -> int:
    return int(cents * value / 100)


def fixed_amount(cents: int, value: Decimal) -> int:
    return to_cents(value)


@dataclass(frozen=True)
class Discounts:
    """A discount is ``{kind_key: one of kinds, value_key: number}``; ``kinds`` says how much each
    kind takes off a subtotal (``percentage``, ``fixed_amount`` above)."""

    kinds: dict[str, Callable[[int, Decimal], int]]
    kind_key: str = "value_type"
    value_key: str = "value"

    def off(self, cents: int, discount: dict[str, Any] | None) -> int:
        """The cents the discount takes off ``cents`` (none without a discount), at most all of it."""
        if not discount:
            return 0
        return min(self.kinds[discount[self.kind_key]](cents, Decimal(str(discount[self.value_key]))), cents)
