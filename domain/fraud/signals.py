"""The fraud signals: each a named rule that reads the order's facts, fires or not (or cannot tell:
"not known"), and says which figures it saw. The score is the sum of the fired signals' weights.

Pure: the facts come in (``domain.fraud.inputs`` reads them from the orders table), the signals and
the verdict go out, so a table of orders can be checked by hand and a stored score explains
itself. A signal whose input the platform did not give is ``unknown`` and adds nothing: the
score never guesses.

AVS and CVV results are read as the card networks' single-letter codes, as Shopify passes them on
(https://shopify.dev/docs/api/payments-apps/latest/enums/PaymentSessionCardNotPresentAvsResultCode,
https://shopify.dev/docs/api/payments-apps/latest/enums/PaymentSessionCardNotPresentCvvResultCode),
or as Stripe's check words ``pass``/``fail``/``unavailable``/``unchecked``
(https://docs.stripe.com/api/charges/object#charge_object-payment_method_details-card-checks).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from domain.core.fraud_config import DEFAULT_WEIGHTS, FraudConfig, Reshipper

State = Literal["fired", "clear", "unknown"]

#: AVS: street and postal code both match / one of them does not / neither does.
AVS_MATCH = {"Y": "street and postal code match", "X": "street and postal code match",
             "D": "street matches, postal code not verified", "F": "street and postal code match (UK)",
             "M": "street and postal code match", "PASS": "address check passed"}
AVS_PARTIAL = {"A": "street matches, postal code does not", "W": "postal code matches, street does not",
               "Z": "postal code matches, street does not"}
AVS_NO_MATCH = {"N": "street and postal code do not match", "FAIL": "address check failed"}
CVV_MATCH = {"M": "security code matches", "PASS": "security code check passed"}
CVV_NO_MATCH = {"N": "security code does not match", "FAIL": "security code check failed"}


@dataclass(frozen=True)
class Facts:
    """What the signals read about one order. None means not known (the platform did not say, or
    the order has no e-mail to count a customer's orders by)."""

    order_number: str
    total_cents: int
    currency: str = "USD"
    email: str | None = None
    customer_ip: str | None = None
    avs_result: str | None = None
    cvv_result: str | None = None
    card: str | None = None
    billing_country: str | None = None
    shipping_country: str | None = None
    shipping_address: Mapping[str, str] | None = None
    #: The customer's earlier orders (same e-mail, any store, cancelled ones left out).
    prior_orders: int | None = None
    #: Orders from this e-mail / this IP placed within the velocity window up to this one, itself included.
    email_orders: int | None = None
    ip_orders: int | None = None
    #: Distinct cards / shipping addresses of this e-mail's orders within the identity window, this one's included.
    cards: int | None = None
    addresses: int | None = None
    #: Order numbers behind the counts, for the reviewer (a few of them).
    examples: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Signal:
    """One rule's finding: ``points`` is its weight when fired (half for a partial AVS match), else 0."""

    name: str
    state: State
    weight: int
    points: int
    text: str
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "weight": self.weight, "points": self.points,
                "text": self.text, "figures": self.figures}


@dataclass(frozen=True)
class Result:
    score: int
    verdict: str
    signals: tuple[Signal, ...]

    def reasons(self) -> list[str]:
        """The fired signals, one line each with their points: what a reviewer reads first."""
        return [f"{s.text} (+{s.points})" for s in self.signals if s.state == "fired"]


Rule = Callable[[Facts, FraudConfig, int], Signal]


def _duration(seconds: int) -> str:
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds // 3600}h" if seconds % 3600 == 0 \
        else f"{seconds}s"


def _money(cents: int, currency: str) -> str:
    return f"{cents / 100:,.2f} {currency}"


def avs_mismatch(facts: Facts, config: FraudConfig, weight: int) -> Signal:
    code = (facts.avs_result or "").strip().upper()
    figures = {"avs_result": facts.avs_result}
    if not code:
        return Signal("avs_mismatch", "unknown", weight, 0, "AVS result not known", figures)
    if code in AVS_NO_MATCH:
        return Signal("avs_mismatch", "fired", weight, weight, f"AVS {code}: {AVS_NO_MATCH[code]}", figures)
    if code in AVS_PARTIAL:
        half = (weight + 1) // 2
        return Signal("avs_mismatch", "fired", weight, half, f"AVS {code}: {AVS_PARTIAL[code]} (partial, half weight)",
                      figures | {"partial": True})
    if code in AVS_MATCH:
        return Signal("avs_mismatch", "clear", weight, 0, f"AVS {code}: {AVS_MATCH[code]}", figures)
    return Signal("avs_mismatch", "unknown", weight, 0, f"AVS {code}: address not checked", figures)


def cvv_mismatch(facts: Facts, config: FraudConfig, weight: int) -> Signal:
    code = (facts.cvv_result or "").strip().upper()
    figures = {"cvv_result": facts.cvv_result}
    if not code:
        return Signal("cvv_mismatch", "unknown", weight, 0, "CVV result not known", figures)
    if code in CVV_NO_MATCH:
        return Signal("cvv_mismatch", "fired", weight, weight, f"CVV {code}: {CVV_NO_MATCH[code]}", figures)
    if code in CVV_MATCH:
        return Signal("cvv_mismatch", "clear", weight, 0, f"CVV {code}: {CVV_MATCH[code]}", figures)
    return Signal("cvv_mismatch", "unknown", weight, 0, f"CVV {code}: security code not checked", figures)


def country_mismatch(facts: Facts, config: FraudConfig, weight: int) -> Signal:
    billing, shipping = facts.billing_country, facts.shipping_country
    figures = {"billing_country": billing, "shipping_country": shipping}
    if not billing or not shipping:
        missing = " and ".join(n for n, v in (("billing", billing), ("shipping", shipping)) if not v)
        return Signal("country_mismatch", "unknown", weight, 0, f"{missing} country not known", figures)
    if billing != shipping:
        return Signal("country_mismatch", "fired", weight, weight,
                      f"billing country {billing} ≠ shipping country {shipping}", figures)
    return Signal("country_mismatch", "clear", weight, 0, f"billing and shipping both in {billing}", figures)


def new_customer_high_value(facts: Facts, config: FraudConfig, weight: int) -> Signal:
    threshold = config.high_value_cents
    figures = {"prior_orders": facts.prior_orders, "total_cents": facts.total_cents, "high_value_cents": threshold}
    total = _money(facts.total_cents, facts.currency)
    if facts.prior_orders is None:
        return Signal("new_customer_high_value", "unknown", weight, 0,
                      f"customer not known (no e-mail); order total {total}", figures)
    if facts.prior_orders == 0 and facts.total_cents >= threshold:
        return Signal("new_customer_high_value", "fired", weight, weight,
                      f"new customer (no prior orders) with a {total} order (high value from "
                      f"{_money(threshold, facts.currency)})", figures)
    why = (f"{facts.prior_orders} prior order(s)" if facts.prior_orders
           else f"new customer, {total} under {_money(threshold, facts.currency)}")
    return Signal("new_customer_high_value", "clear", weight, 0, why, figures)


def _counted(name: str, count: int | None, at_least: int, window_s: int, what: str, whose: str | None,
             missing: str, examples: list[str], weight: int) -> Signal:
    figures = {"count": count, "at_least": at_least, "window": _duration(window_s), "orders": examples}
    if count is None:
        return Signal(name, "unknown", weight, 0, missing, figures)
    text = f"{count} {what} from {whose} within {_duration(window_s)}"
    if count >= at_least:
        return Signal(name, "fired", weight, weight, f"{text} (at least {at_least} fires)", figures)
    return Signal(name, "clear", weight, 0, text, figures)


def many_cards(facts: Facts, config: FraudConfig, weight: int) -> Signal:
    missing = "card not known" if facts.email else "customer not known (no e-mail)"
    return _counted("many_cards", facts.cards if facts.card else None, config.cards_at_least,
                    config.identity_window_s, "cards", facts.email, missing, list(facts.examples.get("cards", [])),
                    weight)


def many_addresses(facts: Facts, config: FraudConfig, weight: int) -> Signal:
    missing = "shipping address not known" if facts.email else "customer not known (no e-mail)"
    return _counted("many_addresses", facts.addresses if facts.shipping_address else None, config.addresses_at_least,
                    config.identity_window_s, "shipping addresses", facts.email, missing,
                    list(facts.examples.get("addresses", [])), weight)


def velocity_email(facts: Facts, config: FraudConfig, weight: int) -> Signal:
    return _counted("velocity_email", facts.email_orders, config.velocity_orders, config.velocity_window_s, "orders",
                    facts.email, "customer not known (no e-mail)", list(facts.examples.get("email", [])), weight)


def velocity_ip(facts: Facts, config: FraudConfig, weight: int) -> Signal:
    return _counted("velocity_ip", facts.ip_orders if facts.customer_ip else None, config.velocity_orders,
                    config.velocity_window_s, "orders", f"IP {facts.customer_ip}", "customer IP not known",
                    list(facts.examples.get("ip", [])), weight)


def _compact(text: str) -> str:
    return "".join(text.split()).upper()


def reshipper_matches(reshipper: Reshipper, address: Mapping[str, str]) -> bool:
    """Every part the entry sets holds for the address."""
    postcode = address.get("zip") or address.get("postcode") or ""
    country = (address.get("country_code") or address.get("country") or "").upper()
    lines = " ".join(address.get(k, "") for k in ("company", "address1", "address_1", "address2", "address_2"))
    return ((reshipper.postcode is None or _compact(reshipper.postcode) == _compact(postcode))
            and (reshipper.country is None or reshipper.country == country)
            and (reshipper.address is None or reshipper.address.casefold() in lines.casefold()))


def reshipper(facts: Facts, config: FraudConfig, weight: int) -> Signal:
    address = facts.shipping_address
    if not address:
        return Signal("reshipper", "unknown", weight, 0, "shipping address not known", {})
    if not config.reshippers:
        return Signal("reshipper", "unknown", weight, 0, "no reshipper addresses listed in [fraud]", {})
    shown = {k: address[k] for k in ("address1", "address_1", "city", "zip", "postcode", "country_code", "country")
             if address.get(k)}
    for entry in config.reshippers:
        if reshipper_matches(entry, address):
            terms = {k: v for k, v in (("postcode", entry.postcode), ("country", entry.country),
                                       ("address", entry.address)) if v}
            return Signal("reshipper", "fired", weight, weight,
                          f"ships to a known reshipper: {entry.name} ({', '.join(f'{k} {v}' for k, v in terms.items())})",
                          {"reshipper": entry.name, "matched": terms, "address": shown})
    return Signal("reshipper", "clear", weight, 0,
                  f"shipping address matches none of {len(config.reshippers)} known reshipper(s)", {"address": shown})


#: Every rule, in the order a reviewer reads them; names are ``[fraud.weights]`` keys.
RULES: tuple[tuple[str, Rule], ...] = (
    ("avs_mismatch", avs_mismatch),
    ("cvv_mismatch", cvv_mismatch),
    ("country_mismatch", country_mismatch),
    ("new_customer_high_value", new_customer_high_value),
    ("many_cards", many_cards),
    ("many_addresses", many_addresses),
    ("velocity_email", velocity_email),
    ("velocity_ip", velocity_ip),
    ("reshipper", reshipper),
)
assert tuple(name for name, _ in RULES) == tuple(DEFAULT_WEIGHTS), "every signal has a default weight"


def verdict(score: int, config: FraudConfig) -> str:
    """``decline`` only when the store set ``decline_at``; then ``hold``, ``review``, ``pass``."""
    if config.decline_at is not None and score >= config.decline_at:
        return "decline"
    if score >= config.hold_at:
        return "hold"
    if score >= config.review_at:
        return "review"
    return "pass"


def evaluate(facts: Facts, config: FraudConfig) -> Result:
    """Every signal, the score (their points added up) and the verdict the thresholds give it."""
    found = tuple(rule(facts, config, config.weights.get(name, 0)) for name, rule in RULES)
    score = sum(s.points for s in found)
    return Result(score, verdict(score, config), found)
