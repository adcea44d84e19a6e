"""Every evidence packet carries the customer's shipping address, and the billing address where the
order has one, taken from the order as the store's import stored it — whatever the reason (not
received, not as described, fraud with or without Visa CE 3.0, credit not processed, duplicate,
subscription cancelled, anything else) and in each provider's own field or document."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.chargebacks import intake
from domain.core.clock import utcnow
from domain.core.models import DisputePacket, Order
from flows import dispute_desk
from tests.integration.chargebacks.conftest import Desk, make_order, notice

#: As WooCommerce's order import stores them (connectors.records.RiskFields: the platform's own keys).
SHIPPING = {"first_name": "Robin", "last_name": "Lee", "address_1": "12 Pine St", "address_2": "Apt 3",
            "city": "Brooklyn", "state": "NY", "postcode": "11201", "country": "US"}
BILLING = {"first_name": "Robin", "last_name": "Lee", "address_1": "40 Elm Ave", "city": "Hoboken", "state": "NJ",
           "postcode": "07030", "country": "US"}
SHIPPING_TEXT = "Robin Lee, 12 Pine St, Apt 3, Brooklyn, NY, 11201, US"
BILLING_TEXT = "Robin Lee, 40 Elm Ave, Hoboken, NJ, 07030, US"
ACCOUNTS = {"stripe": "stripe-main", "adyen": "adyen-eu", "paypal": "paypal-main"}
#: reason (category, network code) → the provider it is disputed at here (every provider is met).
REASONS = {
    "not_received 13.1": ("not_received", "13.1", "stripe"),
    "not_received 4855": ("not_received", "4855", "adyen"),
    "not_as_described 13.3": ("not_as_described", "13.3", "paypal"),
    "not_as_described 4853": ("not_as_described", "4853", "adyen"),
    "fraud 10.4 (CE 3.0)": ("fraud", "10.4", "adyen"),
    "fraud 4837": ("fraud", "4837", "stripe"),
    "fraud at PayPal": ("fraud", "", "paypal"),
    "credit_not_processed 13.6": ("credit_not_processed", "13.6", "stripe"),
    "duplicate 12.6.1": ("duplicate", "12.6.1", "paypal"),
    "subscription_canceled 13.7": ("subscription_canceled", "13.7", "adyen"),
    "general": ("general", "", "stripe"),
}


def _disputed_order(session: Session, number: str, ref: str, shipping: dict[str, str] | None,
                    billing: dict[str, str] | None) -> Order:
    order = make_order(session, number, ref)
    order.shipping_address, order.billing_address = shipping, billing
    session.commit()
    return order


def _packet(session: Session, desk: Desk, provider: str, category: str, network: str, ref: str) -> DisputePacket:
    now = utcnow()
    received = intake.receive(session, ACCOUNTS[provider], notice(
        provider, f"evt-{ref}", f"D-{ref}", ref, category=category, network_code=network, reason_code=network,
        due_by=now + timedelta(days=7)), desk.config, now)
    session.commit()
    assert received.dispute_id is not None
    dispute_desk.build_packet(desk.work, received.dispute_id)
    session.expire_all()
    packet = session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == received.dispute_id))
    assert packet is not None
    return packet


def _sent(packet: DisputePacket, provider: str, fact: str) -> str:
    """What the provider is sent of ``fact``: its text field, or the documents that carry it."""
    if provider == "stripe":
        return str(packet.fields[fact])
    if provider == "paypal":
        return str(packet.fields[{"shipping_address": "DELIVERY_ADDRESS", "billing_address": "DETAILS_OF_PURCHASE"}[fact]])
    label = "Shipping address" if fact == "shipping_address" else "Billing address"
    carrying = [name for name, html in packet.documents.items() if label in html]
    assert carrying, f"no Adyen document of {packet.defense_reason} carries the {fact}: {list(packet.documents)}"
    return "\n".join(packet.documents[name] for name in carrying)


@pytest.mark.parametrize("reason", list(REASONS))
def test_every_reason_sends_the_orders_shipping_and_billing_address(db_session: Session, desk: Desk,
                                                                     reason: str) -> None:
    category, network, provider = REASONS[reason]
    ref = f"PAY-{list(REASONS).index(reason)}"
    _disputed_order(db_session, "#6001", ref, SHIPPING, BILLING)
    packet = _packet(db_session, desk, provider, category, network, ref)

    assert "shipping_address" in packet.rule["needs"], reason
    assert {"shipping_address", "billing_address"} <= set(packet.present), (reason, packet.present, packet.missing)
    assert packet.facts["shipping_address"]["text"] == SHIPPING_TEXT
    assert packet.facts["billing_address"]["text"] == BILLING_TEXT
    assert "shipping_address" not in [m["fact"] for m in packet.missing]
    assert SHIPPING_TEXT in _sent(packet, provider, "shipping_address")
    assert BILLING_TEXT in _sent(packet, provider, "billing_address")
    assert SHIPPING_TEXT in packet.html and BILLING_TEXT in packet.html


def test_no_billing_address_is_not_a_gap_and_no_shipping_address_is_named_missing(db_session: Session,
                                                                                  desk: Desk) -> None:
    _disputed_order(db_session, "#6101", "PAY-B", SHIPPING, None)
    packet = _packet(db_session, desk, "stripe", "credit_not_processed", "13.6", "PAY-B")
    assert "billing_address" not in packet.present
    assert [m["fact"] for m in packet.missing] == ["customer_communication"], "no message on record, no billing gap"
    assert "billing_address" not in packet.fields and packet.fields["shipping_address"] == SHIPPING_TEXT

    _disputed_order(db_session, "#6102", "PAY-S", None, BILLING)
    packet = _packet(db_session, desk, "paypal", "not_as_described", "13.3", "PAY-S")
    assert {"fact": "shipping_address", "label": "Shipping address",
            "why": "the order stores no shipping address"} in packet.missing
    assert "DELIVERY_ADDRESS" not in packet.fields and BILLING_TEXT in packet.fields["DETAILS_OF_PURCHASE"]
