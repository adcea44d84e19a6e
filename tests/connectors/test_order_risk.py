"""What fraud hints read from an order payload (``connectors.records.RiskFields``), for Shopify's
and WooCommerce's documented order keys; nothing said is None, never a guess."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from connectors import webhook_records
from connectors.shopify import ShopifyConnector
from connectors.types import OrderRecord, PaymentRisk, WebhookEvent
from connectors.woocommerce import WooCommerceConnector

SHOPIFY_ORDER = {
    "id": 9007199254740995, "name": "#1001", "created_at": "2026-12-04T10:00:00-05:00", "email": "pat@example.com",
    "total_price": "899.00", "currency": "USD", "line_items": [],
    "browser_ip": "203.0.113.7", "client_details": {"browser_ip": "198.51.100.1", "user_agent": "x"},
    "billing_address": {"first_name": "Pat", "last_name": "Doe", "address1": "12 Elm St", "city": "New York",
                        "zip": "10001", "country": "United States", "country_code": "US", "phone": ""},
    "shipping_address": {"name": "Pat Doe", "address1": "1 Bay St", "zip": "M5J 2N8", "country": "Canada",
                         "country_code": "CA"},
    "payment_details": {"avs_result_code": "N", "cvv_result_code": "M", "credit_card_bin": "424242",
                        "credit_card_number": "•••• •••• •••• 4242", "credit_card_company": "Visa"},
}

WOO_ORDER = {
    "id": 727, "number": "727", "date_created_gmt": "2026-12-04T15:00:00", "status": "processing", "total": "120.00",
    "currency": "GBP", "line_items": [], "customer_ip_address": "2001:db8::1",
    "billing": {"first_name": "Kim", "last_name": "Lee", "address_1": "3 High St", "city": "Leeds",
                "postcode": "LS1 4AP", "country": "GB", "email": "kim@example.com", "phone": "+441130000000"},
    "shipping": {"first_name": "Kim", "last_name": "Lee", "address_1": "Unit 5, Freight Park", "postcode": "19720",
                 "country": "US"},
}


def test_shopify_order_gives_ip_avs_cvv_card_and_both_addresses() -> None:
    risk = ShopifyConnector.order_record(SHOPIFY_ORDER).risk
    assert risk == PaymentRisk(
        customer_ip="203.0.113.7", avs_result="N", cvv_result="M", card="Visa 424242 •••• •••• •••• 4242",
        billing_country="US", shipping_country="CA",
        billing_address={"first_name": "Pat", "last_name": "Doe", "address1": "12 Elm St", "city": "New York",
                         "zip": "10001", "country_code": "US", "country": "United States"},
        shipping_address={"name": "Pat Doe", "address1": "1 Bay St", "zip": "M5J 2N8", "country_code": "CA",
                          "country": "Canada"})


def test_shopify_ip_from_client_details_when_the_order_has_none() -> None:
    order = {k: v for k, v in SHOPIFY_ORDER.items() if k not in ("browser_ip", "payment_details")}
    risk = ShopifyConnector.order_record(order).risk
    assert risk is not None and risk.customer_ip == "198.51.100.1"
    assert (risk.avs_result, risk.cvv_result, risk.card) == (None, None, None), "not given: not known"


def test_woocommerce_order_gives_ip_and_addresses_but_no_card_checks() -> None:
    risk = WooCommerceConnector.order_record(WOO_ORDER).risk
    assert risk is not None
    assert (risk.customer_ip, risk.billing_country, risk.shipping_country) == ("2001:db8::1", "GB", "US")
    assert (risk.avs_result, risk.cvv_result, risk.card) == (None, None, None)
    assert risk.billing_address is not None and "email" not in risk.billing_address and "phone" not in risk.billing_address
    assert risk.shipping_address == {"first_name": "Kim", "last_name": "Lee", "address_1": "Unit 5, Freight Park",
                                     "postcode": "19720", "country": "US"}


def test_an_order_that_says_nothing_has_no_risk_record() -> None:
    bare = {"id": 1, "name": "#1", "line_items": [], "billing_address": {}, "browser_ip": None}
    assert ShopifyConnector.order_record(bare).risk is None
    named = ShopifyConnector.order_record({**bare, "billing_address": {"country": "United States"}}).risk
    assert named is not None and named.billing_country is None, "a country's name is not its code: not known"


def test_the_risk_survives_the_inbox_json() -> None:
    order = ShopifyConnector.order_record(SHOPIFY_ORDER)
    bare = OrderRecord("2", "#2", datetime(2026, 12, 4, tzinfo=UTC), None, None, "", [])
    event = WebhookEvent(kind="order_created", topic="orders/create", dedupe_key="k", occurred_at=None,
                         orders=[order, bare])
    stored = json.loads(json.dumps(webhook_records.dump(event)))
    assert "risk" not in stored["orders"][1], "an order without risk stores none"
    back = webhook_records.load(stored, event.kind, event.topic, event.dedupe_key, None)
    assert back == event and back.orders[0].risk == order.risk
