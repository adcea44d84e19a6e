"""Refunds and store credit through the Shopify and WooCommerce connectors, over real HTTP.

The property under test is "money moves at most once per idempotency key": a retried task (same
key) must find what the first attempt created, including when the first answer was a 5xx or a
timeout after the platform had applied the write.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from connectors.errors import OutcomeUnknownError, PermanentError, TransientError
from connectors.registry import build_connector
from connectors.shopify import ShopifyConnector
from connectors.types import ConnectorConfig, RefundRequest
from connectors.woocommerce import WooCommerceConnector

Admin = Any  # tests/connectors/conftest.py::Admin


def shopify(config: ConnectorConfig, sleeps: list[float]) -> ShopifyConnector:
    built = build_connector("shopify", config, sleep=sleeps.append)
    assert isinstance(built, ShopifyConnector)
    return built


def woocommerce(config: ConnectorConfig, sleeps: list[float]) -> WooCommerceConnector:
    built = build_connector("woocommerce", config, sleep=sleeps.append)
    assert isinstance(built, WooCommerceConnector)
    return built


def shop_order(shop: Admin) -> dict[str, Any]:
    """A paid order: the futon (backordered, qty 2 at 199.00) and a cover (qty 1 at 25.00)."""
    shop.post("seed", {"items": [{"sku": "FUTON-QUEEN", "available": 0, "inventory_policy": "continue"},
                                 {"sku": "COVER", "available": 5}]})
    return shop.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 2, "price": "199.00"},
                                                {"sku": "COVER", "quantity": 1, "price": "25.00"}]})["order"]


def woo_order(woo: Admin, **extra: Any) -> dict[str, Any]:
    woo.post("seed", {"items": [{"sku": "FUTON-QUEEN", "stock_quantity": 0, "backorders": "notify"},
                                {"sku": "COVER", "stock_quantity": 5}]})
    return woo.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 2, "price": "199.00"},
                                               {"sku": "COVER", "quantity": 1, "price": "25.00"}],
                                     "billing": {"email": "ada@example.com"}, **extra})["order"]


def line_request(order: dict[str, Any], key: str, quantity: int = 2, amount_cents: int = 39800,
                 **extra: Any) -> RefundRequest:
    return RefundRequest(order_external_id=str(order["id"]), line_external_id=str(order["line_items"][0]["id"]),
                         quantity=quantity, amount_cents=amount_cents, currency="USD",
                         reason="Backorder cancelled", idempotency_key=key, **extra)


# --- Shopify ------------------------------------------------------------------------------------


def test_shopify_refunds_one_backordered_line_once_per_key(shop: Admin, shop_config: ConnectorConfig,
                                                           sleeps: list[float]) -> None:
    order = shop_order(shop)
    conn = shopify(shop_config, sleeps)
    request = line_request(order, "backorder-17:cancel", notify_customer=True)

    first = conn.refund_line(request)
    second = conn.refund_line(request)

    assert first.ok and first.kind == "refund" and first.status_code == 201
    assert first.amount_cents == 199_00 * 2
    assert (second.status_code, second.external_id, second.amount_cents) == (200, first.external_id, 39800)
    state = shop.get(f"state/orders/{order['id']}")
    assert len(state["refunds"]) == 1 and state["financial_status"] == "partially_refunded"
    refund = state["refunds"][0]
    assert "[idempotency:backorder-17:cancel]" in refund["note"]
    assert [(ln["quantity"], ln["restock_type"]) for ln in refund["refund_line_items"]] == [(2, "no_restock")]
    sale = state["transactions"][0]
    assert refund["transactions"][0]["parent_id"] == sale["id"] and refund["transactions"][0]["gateway"] == "manual"
    created = shop.requests_log("POST", "refunds.json")
    assert len(created) == 1 and created[0]["body"]["refund"]["notify"] is True
    assert len(shop.requests_log("POST", "calculate.json")) == 1, "the retry found the refund before calculating"


def test_shopify_restock_cancels_the_line_back_into_stock(shop: Admin, shop_config: ConnectorConfig,
                                                          sleeps: list[float]) -> None:
    order = shop_order(shop)
    shopify(shop_config, sleeps).refund_line(line_request(order, "bo-18:cancel", restock=True))

    refund = shop.get(f"state/orders/{order['id']}")["refunds"][0]
    assert refund["refund_line_items"][0]["restock_type"] == "cancel"
    assert refund["refund_line_items"][0]["location_id"] is not None
    assert shop.item("FUTON-QUEEN")["available"] == 0, "seeded 0, sold 2 (-2), cancelled 2 back"


def test_shopify_refunding_more_items_than_bought_is_permanent(shop: Admin, shop_config: ConnectorConfig,
                                                              sleeps: list[float]) -> None:
    order = shop_order(shop)
    conn = shopify(shop_config, sleeps)
    conn.refund_line(line_request(order, "bo-19:first"))

    with pytest.raises(PermanentError, match="cannot refund more items than were purchased") as caught:
        conn.refund_line(line_request(order, "bo-19:second", quantity=1, amount_cents=19900))
    assert caught.value.status_code == 422


def test_shopify_refunding_more_money_than_paid_is_permanent(shop: Admin, shop_config: ConnectorConfig,
                                                            sleeps: list[float]) -> None:
    order = shop_order(shop)

    with pytest.raises(PermanentError, match="maximum refundable") as caught:
        shopify(shop_config, sleeps).refund_line(line_request(order, "bo-20", amount_cents=500_00))
    assert caught.value.status_code == 422
    assert shop.get(f"state/orders/{order['id']}")["refunds"] == []


def test_shopify_503_on_create_is_transient_and_the_retry_refunds_once(shop: Admin, shop_config: ConnectorConfig,
                                                                      sleeps: list[float]) -> None:
    order = shop_order(shop)
    conn = shopify(shop_config, sleeps)
    request = line_request(order, "bo-21")
    # The platform applied the refund, then answered 503: the outcome the caller sees is "failed".
    shop.post("faults", {"status": 503, "count": 1, "method": "POST", "path_contains": "/refunds.json",
                         "after_apply": True})

    with pytest.raises(TransientError) as caught:
        conn.refund_line(request)
    assert caught.value.status_code == 503 and not isinstance(caught.value, PermanentError)
    retried = conn.refund_line(request)

    assert retried.status_code == 200 and retried.amount_cents == 39800
    assert len(shop.get(f"state/orders/{order['id']}")["refunds"]) == 1


def test_shopify_503_before_create_then_retry_creates_exactly_one(shop: Admin, shop_config: ConnectorConfig,
                                                                  sleeps: list[float]) -> None:
    order = shop_order(shop)
    conn = shopify(shop_config, sleeps)
    request = line_request(order, "bo-22")
    shop.post("faults", {"status": 503, "count": 1, "method": "POST", "path_contains": "/refunds.json"})

    with pytest.raises(TransientError):
        conn.refund_line(request)
    retried = conn.refund_line(request)

    assert retried.status_code == 201
    assert len(shop.get(f"state/orders/{order['id']}")["refunds"]) == 1


def test_shopify_timeout_after_create_is_unknown_and_the_retry_finds_it(shop: Admin, shop_config: ConnectorConfig,
                                                                       sleeps: list[float]) -> None:
    order = shop_order(shop)
    conn = shopify(replace(shop_config, timeout_s=0.3), sleeps)
    request = line_request(order, "bo-23")
    shop.post("faults", {"count": 1, "method": "POST", "path_contains": "/refunds.json", "delay_s": 1.0,
                         "after_apply": True})

    with pytest.raises(OutcomeUnknownError):
        conn.refund_line(request)
    retried = conn.refund_line(request)

    assert retried.status_code == 200 and retried.amount_cents == 39800
    assert len(shop.get(f"state/orders/{order['id']}")["refunds"]) == 1
    assert len(shop.requests_log("POST", "/refunds.json")) == 1, "the retry never re-sent the create"


def test_shopify_store_credit_is_one_gift_card_per_key(shop: Admin, shop_config: ConnectorConfig,
                                                       sleeps: list[float]) -> None:
    order = shop_order(shop)
    conn = shopify(shop_config, sleeps)
    request = line_request(order, "backorder-24:credit")

    first = conn.credit_line(request)
    second = conn.credit_line(request)

    assert first.kind == "store_credit" and first.status_code == 201 and first.amount_cents == 39800
    assert (second.status_code, second.external_id, second.credit_code) == (200, first.external_id, first.credit_code)
    cards = shop.get("state/gift_cards")["gift_cards"]
    assert len(cards) == 1 and cards[0]["code"] == first.credit_code and len(first.credit_code or "") == 16
    assert cards[0]["initial_value"] == "398.00" and "[idempotency:backorder-24:credit]" in cards[0]["note"]
    assert cards[0]["customer_id"] == order["customer"]["id"]
    assert [r["status"] for r in shop.requests_log("POST", "gift_cards.json")] == [201, 422]


# --- WooCommerce --------------------------------------------------------------------------------


def test_woo_refunds_one_line_once_per_key(woo: Admin, woo_config: ConnectorConfig, sleeps: list[float]) -> None:
    order = woo_order(woo)
    conn = woocommerce(woo_config, sleeps)
    request = line_request(order, "backorder-30:cancel")

    first = conn.refund_line(request)
    second = conn.refund_line(request)

    assert first.ok and first.status_code == 201 and first.amount_cents == 39800
    assert (second.status_code, second.external_id) == (200, first.external_id)
    state = woo.get(f"state/orders/{order['id']}")
    assert len(state["refunds_full"]) == 1 and state["refunds"][0]["total"] == "-398.00"
    refund = state["refunds_full"][0]
    assert refund["refunded_payment"] is True and "[idempotency:backorder-30:cancel]" in refund["reason"]
    assert refund["line_items"][0]["quantity"] == -2
    assert refund["line_items"][0]["meta_data"][0]["value"] == str(order["line_items"][0]["id"])
    sent = woo.requests_log("POST", "/refunds")
    assert len(sent) == 1 and sent[0]["body"]["api_refund"] is True and sent[0]["body"]["amount"] == "398.00"


def test_woo_refunding_more_than_paid_is_permanent_despite_the_500(woo: Admin, woo_config: ConnectorConfig,
                                                                  sleeps: list[float]) -> None:
    order = woo_order(woo)

    with pytest.raises(PermanentError, match="Invalid refund amount.") as caught:
        woocommerce(woo_config, sleeps).refund_line(line_request(order, "bo-31", amount_cents=500_00))
    assert caught.value.status_code == 500, "WooCommerce answers 500 for this refusal; we know it is final"
    assert woo.get(f"state/orders/{order['id']}")["refunds_full"] == []


def test_woo_offline_gateway_cannot_refund_automatically(woo: Admin, woo_config: ConnectorConfig,
                                                         sleeps: list[float]) -> None:
    order = woo_order(woo, payment_method="bacs")

    with pytest.raises(PermanentError, match="does not support automatic refunds"):
        woocommerce(woo_config, sleeps).refund_line(line_request(order, "bo-32"))
    manual = replace(woo_config, options={**woo_config.options, "api_refund": False})
    result = woocommerce(manual, sleeps).refund_line(line_request(order, "bo-32"))
    assert result.status_code == 201 and "recorded only" in result.detail


def test_woo_503_then_timeout_retries_refund_exactly_once(woo: Admin, woo_config: ConnectorConfig,
                                                          sleeps: list[float]) -> None:
    order = woo_order(woo)
    request = line_request(order, "bo-33")
    woo.post("faults", {"status": 503, "count": 1, "method": "POST", "path_contains": "/refunds"})
    with pytest.raises(TransientError) as caught:
        woocommerce(woo_config, sleeps).refund_line(request)
    assert caught.value.status_code == 503

    woo.post("faults", {"count": 1, "method": "POST", "path_contains": "/refunds", "delay_s": 1.0,
                        "after_apply": True})
    with pytest.raises(OutcomeUnknownError):
        woocommerce(replace(woo_config, timeout_s=0.3), sleeps).refund_line(request)
    retried = woocommerce(woo_config, sleeps).refund_line(request)

    assert retried.status_code == 200 and retried.amount_cents == 39800
    assert len(woo.get(f"state/orders/{order['id']}")["refunds_full"]) == 1


def test_woo_store_credit_is_one_coupon_per_key(woo: Admin, woo_config: ConnectorConfig,
                                                sleeps: list[float]) -> None:
    order = woo_order(woo)
    conn = woocommerce(woo_config, sleeps)
    request = line_request(order, "backorder-34:credit", customer_email="ada@example.com")

    first = conn.credit_line(request)
    second = conn.credit_line(request)

    assert first.kind == "store_credit" and first.status_code == 201 and first.amount_cents == 39800
    assert (second.status_code, second.external_id, second.credit_code) == (200, first.external_id, first.credit_code)
    coupons = woo.get("state/coupons")["coupons"]
    assert len(coupons) == 1
    coupon = coupons[0]
    assert coupon["code"] == first.credit_code and coupon["discount_type"] == "fixed_cart"
    assert (coupon["amount"], coupon["usage_limit"], coupon["email_restrictions"]) == ("398.00", 1, ["ada@example.com"])
    assert [r["status"] for r in woo.requests_log("POST", "coupons")] == [201, 400]


def test_woo_store_credit_falls_back_to_the_orders_billing_email(woo: Admin, woo_config: ConnectorConfig,
                                                                 sleeps: list[float]) -> None:
    order = woo_order(woo)
    result = woocommerce(woo_config, sleeps).credit_line(line_request(order, "bo-35:credit"))
    assert woo.get("state/coupons")["coupons"][0]["email_restrictions"] == ["ada@example.com"]
    assert result.status_code == 201


def test_read_only_connectors_refuse_refunds_explicitly(woo_config: ConnectorConfig) -> None:
    from connectors.base import Connector
    from connectors.lightspeed import LightspeedConnector

    conn = LightspeedConnector(replace(woo_config, credentials={"access_token": "x"}))
    assert isinstance(conn, Connector)
    with pytest.raises(PermanentError, match="not supported"):
        conn.refund_line(RefundRequest("1", "2", 1, 100, "USD", "r", "k"))
