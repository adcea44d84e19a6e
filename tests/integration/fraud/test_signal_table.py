"""A table of orders, stored as ingest stores them, scored on the real database: which signals fire
(with the points each adds), which stay clear or not known, the score and the verdict.

Every signal fires in at least one row and stays clear in another; the neighbours (the customer's
other orders) are placed first, inside or outside the windows of the example's ``[fraud]``
(velocity 24 h from 3 orders, identity 30 days from 3 cards or addresses, high value 750.00)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.orm import Session

from connectors.types import PaymentRisk
from domain.core.fraud_config import DEFAULT_WEIGHTS
from domain.core.models import Order
from domain.fraud import scoring
from tests.integration.fraud.conftest import HOME, Orders, address

CLEAN = PaymentRisk(customer_ip="203.0.113.7", avs_result="Y", cvv_result="M", card="Visa 424242 •••• 4242",
                    billing_country="US", shipping_country="US", billing_address=HOME, shipping_address=HOME)


def with_(**changes: Any) -> PaymentRisk:
    return PaymentRisk(**{**CLEAN.__dict__, **changes})


def returning(orders: Orders) -> None:
    """One earlier order 10 days ago: the customer is not new, and it is outside the 24 h window."""
    orders.place(hours_ago=240, risk=CLEAN)


def nothing(orders: Orders) -> None:
    return None


@dataclass(frozen=True)
class Row:
    name: str
    before: Callable[[Orders], None]
    risk: PaymentRisk | None
    fired: dict[str, int]
    verdict: str
    total: int = 10_000
    email: str | None = "pat@example.com"
    #: Signals expected ``unknown`` (the rest not fired are ``clear``); None: don't check.
    unknown: set[str] | None = field(default_factory=set)


def cards(orders: Orders) -> None:
    returning(orders)
    orders.place(hours_ago=100, risk=with_(card="Mastercard 555555 •••• 4444"))
    orders.place(hours_ago=200, risk=with_(card="Amex 378282 •••• 0005"))


def old_cards(orders: Orders) -> None:
    """Two other cards, but 40 days ago: outside the 30-day identity window."""
    orders.place(hours_ago=40 * 24, risk=with_(card="Mastercard 555555 •••• 4444"))
    orders.place(hours_ago=41 * 24, risk=with_(card="Amex 378282 •••• 0005"))


def addresses(orders: Orders) -> None:
    returning(orders)
    orders.place(hours_ago=50, risk=with_(shipping_address=address("1 Oak Ave", "60601", "US")))
    orders.place(hours_ago=60, risk=with_(shipping_address=address("9 Pine Rd", "94105", "US")))


def same_address_typed_twice(orders: Orders) -> None:
    returning(orders)
    orders.place(hours_ago=50, risk=with_(shipping_address=address("12  ELM st", "10001", "US")))
    orders.place(hours_ago=60, risk=with_(shipping_address=address("12 Elm St", "10001", "US")))


def burst(orders: Orders) -> None:
    """Two more orders from the e-mail today, each from another IP address."""
    returning(orders)
    orders.place(hours_ago=2, risk=with_(customer_ip="198.51.100.1"))
    orders.place(hours_ago=5, risk=with_(customer_ip="198.51.100.2"))


def burst_yesterday(orders: Orders) -> None:
    """Two orders 30 h ago: outside the 24 h velocity window."""
    orders.place(hours_ago=30, risk=CLEAN)
    orders.place(hours_ago=31, risk=CLEAN)


def one_ip(orders: Orders) -> None:
    returning(orders)
    orders.place(email="kim@example.com", hours_ago=3, risk=CLEAN)
    orders.place(email="lee@example.com", hours_ago=4, risk=CLEAN)


RESHIPPER = address("8800 NE Airport Way Ste 12", "97230", "US")

TABLE = [
    Row("clean returning customer", returning, CLEAN, {}, "pass"),
    Row("the platform said nothing, no e-mail", nothing, None, {}, "pass", email=None, unknown=set(DEFAULT_WEIGHTS)),
    Row("AVS and CVV both fail", returning, with_(avs_result="N", cvv_result="N"),
        {"avs_mismatch": 30, "cvv_mismatch": 30}, "review"),
    Row("AVS partial (postal code only) counts half", returning, with_(avs_result="Z"), {"avs_mismatch": 15}, "pass"),
    Row("Stripe's check words", returning, with_(avs_result="fail", cvv_result="pass"), {"avs_mismatch": 30},
        "pass"),
    Row("AVS not checked by the issuer is not known, not a match", returning, with_(avs_result="U", cvv_result="P"),
        {}, "pass", unknown={"avs_mismatch", "cvv_mismatch"}),
    Row("billing US, shipping CA; new customer's high-value order", nothing,
        with_(shipping_country="CA", shipping_address=address("1 Bay St", "M5J 2N8", "CA")),
        {"country_mismatch": 20, "new_customer_high_value": 20}, "pass", total=90_000),
    Row("new customer, modest order", nothing, CLEAN, {}, "pass", total=20_000),
    Row("third card in 30 days", cards, with_(card="Discover 601111 •••• 1117"), {"many_cards": 25}, "pass"),
    Row("other cards 40 days ago are outside the window", old_cards, CLEAN, {}, "pass"),
    Row("third shipping address in 30 days", addresses, with_(shipping_address=address("3 Birch Ln", "02110", "US")),
        {"many_addresses": 15}, "pass"),
    Row("one address typed three ways is one address", same_address_typed_twice, CLEAN, {}, "pass"),
    Row("third order from the e-mail in 24 h", burst, CLEAN, {"velocity_email": 20}, "pass"),
    Row("orders 30 h ago are outside the velocity window", burst_yesterday, CLEAN, {}, "pass"),
    Row("third order from one IP in 24 h (other e-mails)", one_ip, CLEAN, {"velocity_ip": 20}, "pass"),
    Row("ships to a listed reshipper", returning, with_(shipping_address=RESHIPPER), {"reshipper": 30}, "pass"),
    Row("AVS and CVV fail, to a reshipper: hold", returning,
        with_(avs_result="N", cvv_result="N", shipping_address=RESHIPPER),
        {"avs_mismatch": 30, "cvv_mismatch": 30, "reshipper": 30}, "hold"),
]


@pytest.mark.parametrize("row", TABLE, ids=[row.name for row in TABLE])
def test_signal_table(row: Row, orders: Orders, db_session: Session, catalog: Any) -> None:
    row.before(orders)
    order_id = orders.place(email=row.email, hours_ago=0.5, total=row.total, risk=row.risk)
    scored = scoring.score_order(db_session, order_id, catalog)
    assert scored is not None and scored.result is not None
    signals = {s["name"]: s for s in scored.row.signals}
    assert list(signals) == list(DEFAULT_WEIGHTS), "every signal is kept, in order, fired or not"
    fired = {name: s["points"] for name, s in signals.items() if s["state"] == "fired"}
    assert fired == row.fired
    assert scored.row.score == sum(row.fired.values()) and scored.row.verdict == row.verdict
    if row.unknown is not None:
        assert {n for n, s in signals.items() if s["state"] == "unknown"} == row.unknown
        assert {n for n, s in signals.items() if s["state"] == "clear"} == \
            set(DEFAULT_WEIGHTS) - set(row.fired) - row.unknown
    assert all(s["points"] == 0 for s in signals.values() if s["state"] != "fired"), "only fired signals add"
    assert all(s["weight"] == DEFAULT_WEIGHTS[n] for n, s in signals.items()), "the weight it was scored with"


def test_counted_signals_name_their_figures(orders: Orders, db_session: Session, catalog: Any) -> None:
    burst(orders)
    order_id = orders.place(hours_ago=0.5, risk=with_(avs_result="N"))
    scored = scoring.score_order(db_session, order_id, catalog)
    assert scored is not None
    signals = {s["name"]: s for s in scored.row.signals}
    velocity = signals["velocity_email"]
    number = db_session.get(Order, order_id).number  # type: ignore[union-attr]
    assert velocity["figures"]["count"] == 3 and velocity["figures"]["at_least"] == 3
    assert velocity["figures"]["window"] == "1d" and velocity["figures"]["orders"][0] == number
    assert velocity["text"] == "3 orders from pat@example.com within 1d (at least 3 fires)"
    assert signals["avs_mismatch"]["text"] == "AVS N: street and postal code do not match"
    assert signals["new_customer_high_value"]["figures"]["prior_orders"] == 3


def test_ingest_stores_what_the_platform_said_and_keeps_it_when_a_later_payload_omits_it(
        orders: Orders, db_session: Session) -> None:
    first = orders.place(number="#7001", risk=with_(avs_result="N"))
    again = orders.place(number="#7001", risk=None)  # the same order again (a webhook without payment details)
    assert again == first
    db_session.expire_all()
    order = db_session.get(Order, first)
    assert order is not None
    assert (order.customer_ip, order.avs_result, order.cvv_result, order.card_fingerprint) == \
        ("203.0.113.7", "N", "M", "Visa 424242 •••• 4242")
    assert (order.billing_country, order.shipping_country, order.shipping_address) == ("US", "US", HOME)
    bare = orders.place(number="#7002", risk=None)
    db_session.expire_all()
    stored = db_session.get(Order, bare)
    assert stored is not None and stored.shipping_address is None and stored.avs_result is None
