"""Order totals as the platforms price a draft order, a checkout or a cart: each line's price
times its quantity, then at most one order-level discount whose kinds are declared as data.

Shopify's draft orders (``applied_discount`` ``fixed_amount`` / ``percentage``), WooCommerce's and
Magento's coupons (``fixed_cart`` / ``percent``, ``by_fixed`` / ``by_percent``) and BigCommerce's
cart discounts all take money off the subtotal this way: a percentage rounds down to the cent, a
fixed amount is taken as written, and no discount takes off more than the subtotal. A request's
discount is checked the same way everywhere too (:meth:`Discounts.rules`): a kind the platform
knows, a value that is a number, not below zero nor above what its kind allows (100 percent).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sandbox.kit.money import to_cents
from sandbox.kit.validation import MISSING, Rule, decimal, number


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
    #: The most a kind's value may be (``{"percentage": 100}``); the others are not bounded.
    most: dict[str, int] = field(default_factory=dict)

    def rules(self, path: str, named: str, unknown: Any, not_a_number: Any, invalid: Any) -> tuple[Rule, ...]:
        """The checks of a discount at ``path`` of a request (none when it is absent or null), in
        order: its kind is one of ``kinds`` (else ``unknown``), its value a number (else
        ``not_a_number``) not below zero nor above its kind's ``most`` (else ``invalid``); each
        refusal names ``named.<kind_key>`` or ``named.<value_key>``."""
        value = f"{path}.{self.value_key}"
        return (Rule(path, lambda d, _, s: d is MISSING or d is None or (
                    isinstance(d, dict) and d.get(self.kind_key) in self.kinds), unknown,
                     field=f"{named}.{self.kind_key}"),
                Rule(value, number, not_a_number, field=f"{named}.{self.value_key}"),
                Rule(value, self.in_range, invalid, field=f"{named}.{self.value_key}"))

    def in_range(self, value: Any, discount: dict[str, Any], state: Any) -> bool:
        """A rule check: the value is not below zero nor above its kind's ``most``."""
        amount = decimal(value)
        return amount is not None and 0 <= amount <= self.most.get(discount[self.kind_key], amount)

    def off(self, cents: int, discount: dict[str, Any] | None) -> int:
        """The cents the discount takes off ``cents`` (none without a discount), at most all of it."""
        if not discount:
            return 0
        return min(self.kinds[discount[self.kind_key]](cents, Decimal(str(discount[self.value_key]))), cents)
