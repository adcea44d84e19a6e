"""The ``[fraud]`` table: signal weights, the review/hold thresholds, the windows the counting
signals look back over and the reshipper addresses (``domain.fraud``).

Without the table orders are not scored automatically (``backorders fraud score`` still scores one
on request, with these defaults). ``decline_at`` has no default: a score leads to a declined
order only when the store wrote that rule. Problems are reported with their key path, like the
rest of the file (``domain.core.business_config``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.core.business_config import _Reader

#: Every signal and its default weight (points added when it fires). ``docs/fraud.md`` says what
#: each one reads; ``domain.fraud.signals`` holds the rules in this order.
DEFAULT_WEIGHTS: dict[str, int] = {
    "avs_mismatch": 30,
    "cvv_mismatch": 30,
    "country_mismatch": 20,
    "new_customer_high_value": 20,
    "many_cards": 25,
    "many_addresses": 15,
    "velocity_email": 20,
    "velocity_ip": 20,
    "reshipper": 30,
}
DEFAULT_REVIEW_AT = 50
DEFAULT_HOLD_AT = 80
DEFAULT_HIGH_VALUE_CENTS = 75_000
DAY_S = 86_400


@dataclass(frozen=True)
class Reshipper:
    """A known reshipper or freight forwarder: a shipping address matches when every part set here
    holds (postcode compared without spaces and case, country as ISO alpha-2, ``address`` as text
    found in the address lines or company, any case)."""

    name: str
    postcode: str | None = None
    country: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class FraudConfig:
    #: False when the file has no ``[fraud]`` table (or says ``enabled = false``): nothing is scored
    #: on its own.
    enabled: bool = False
    weights: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    review_at: int = DEFAULT_REVIEW_AT
    hold_at: int = DEFAULT_HOLD_AT
    #: None: never decline automatically (the default); set, a score at or above it is a decline.
    decline_at: int | None = None
    high_value_cents: int = DEFAULT_HIGH_VALUE_CENTS
    velocity_window_s: int = DAY_S
    velocity_orders: int = 3
    identity_window_s: int = 30 * DAY_S
    cards_at_least: int = 3
    addresses_at_least: int = 3
    #: Orders placed longer ago than this when they are stored (a store's history read on its first
    #: sync) are not scored on their own.
    order_max_age_s: int = 7 * DAY_S
    reshippers: tuple[Reshipper, ...] = ()

    def thresholds(self) -> dict[str, int | None]:
        return {"review_at": self.review_at, "hold_at": self.hold_at, "decline_at": self.decline_at}


KEYS = {"enabled", "weights", "review_at", "hold_at", "decline_at", "high_value", "velocity_window", "velocity_orders",
        "identity_window", "cards_at_least", "addresses_at_least", "order_max_age", "reshippers"}


def read_fraud(reader: _Reader, data: dict[str, Any]) -> FraudConfig:
    """``[fraud]`` with ``[fraud.weights]`` and ``[[fraud.reshippers]]``; absent: not enabled."""
    if "fraud" not in data:
        return FraudConfig()
    table = reader.table(data, "fraud", "fraud")
    reader.unknown_keys(table, KEYS, "fraud")
    weights = dict(DEFAULT_WEIGHTS)
    raw_weights = reader.table(table, "weights", "fraud.weights")
    for name in raw_weights:
        if name not in DEFAULT_WEIGHTS:
            reader.problem(f"fraud.weights.{name}", f"unknown signal (one of {', '.join(DEFAULT_WEIGHTS)})")
        else:
            weights[name] = reader.integer(raw_weights, name, "fraud.weights", default=weights[name]) or 0
    review_at = reader.integer(table, "review_at", "fraud", default=DEFAULT_REVIEW_AT, minimum=1) or DEFAULT_REVIEW_AT
    hold_at = reader.integer(table, "hold_at", "fraud", default=max(DEFAULT_HOLD_AT, review_at), minimum=1) or review_at
    if hold_at < review_at:
        reader.problem("fraud.hold_at", f"must be at least review_at ({review_at}), got {hold_at}")
    decline_at = reader.integer(table, "decline_at", "fraud", minimum=1) if "decline_at" in table else None
    if decline_at is not None and decline_at < hold_at:
        reader.problem("fraud.decline_at", f"must be at least hold_at ({hold_at}), got {decline_at}")
    high_value = reader.money_cents(table, "high_value", "fraud") if "high_value" in table else DEFAULT_HIGH_VALUE_CENTS
    defaults = FraudConfig()
    return FraudConfig(
        enabled=reader.boolean(table, "enabled", "fraud", True), weights=weights, review_at=review_at,
        hold_at=hold_at, decline_at=decline_at, high_value_cents=high_value,
        velocity_window_s=reader.duration(table, "velocity_window", "fraud", defaults.velocity_window_s),
        velocity_orders=reader.integer(table, "velocity_orders", "fraud", default=defaults.velocity_orders,
                                       minimum=2) or defaults.velocity_orders,
        identity_window_s=reader.duration(table, "identity_window", "fraud", defaults.identity_window_s),
        cards_at_least=reader.integer(table, "cards_at_least", "fraud", default=defaults.cards_at_least,
                                      minimum=2) or defaults.cards_at_least,
        addresses_at_least=reader.integer(table, "addresses_at_least", "fraud", default=defaults.addresses_at_least,
                                          minimum=2) or defaults.addresses_at_least,
        order_max_age_s=reader.duration(table, "order_max_age", "fraud", defaults.order_max_age_s),
        reshippers=_read_reshippers(reader, table),
    )


def _read_reshippers(reader: _Reader, table: dict[str, Any]) -> tuple[Reshipper, ...]:
    found = []
    for path, item in reader.tables(table, "reshippers"):
        path = "fraud." + path
        reader.unknown_keys(item, {"name", "postcode", "country", "address"}, path)
        name = reader.string(item, "name", path)
        parts = {key: reader.string(item, key, path, required=False) for key in ("postcode", "country", "address")}
        if not any(parts.values()):
            reader.problem(path, "set at least one of postcode, country, address")
            continue
        country = parts["country"]
        if country is not None and not (len(country) == 2 and country.isalpha()):
            reader.problem(f"{path}.country", f"expected a two-letter country code, got {country!r}")
        if name is not None:
            found.append(Reshipper(name=name, postcode=parts["postcode"], country=country.upper() if country else None,
                                   address=parts["address"]))
    return tuple(found)
