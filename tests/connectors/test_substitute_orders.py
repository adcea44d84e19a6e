"""Substitute orders through the Shopify and WooCommerce connectors, over real HTTP.

The property under test is "the substitute is ordered once per idempotency key, asking the
customer only for what the policy charges": a retry whose first answer was lost finds the order
instead of placing a second one.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.errors import PermanentError, TransientError
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, ListingRef, SubstituteOrderRequest

Admin = Any


def shop_order(shop: Admin) -> tuple[dict[str, Any], dict[str, Any]]:
    """A paid order for the backordered oak frame (649.00) and the walnut frame in stock (699.00)."""
    seeded = shop.post("seed", {"items": [{"sku": "FUT-FRM-OAK-FULL", "available": 0, "inventory_policy": "continue"},
                                          {"sku": "FUT-FRM-WAL-FULL", "available": 4}]})
    shop.post("set_price", {"sku": "FUT-FRM-WAL-FULL", "price": "699.00"})
    order = shop.post("create_order", {"lines": [{"sku": "FUT-FRM-OAK-FULL", "quantity": 1, "price": "649.00"}],
                                       "email": "jamie@example.com"})["order"]
    return order, seeded["items"][1]


def request(order: dict[str, Any], listing: ListingRef, *, due_cents: int, key: str = "substitute-7",
            **extra: Any) -> SubstituteOrderRequest:
    return SubstituteOrderRequest(
        idempotency_key=key, original_order_external_id=str(order["id"]),
        original_order_number=str(order.get("name") or order["number"]), listing=listing,
        title="Walnut Lounger futon frame, full", quantity=1, unit_price_cents=69900, paid_cents=64900,
        due_cents=due_cents, currency="USD", customer_email="jamie@example.com", customer_name="Jamie Doe",
        note="Substitute for the backordered oak frame", **extra)


def test_shopify_absorbed_difference_is_a_completed_paid_draft_order(shop: Admin, shop_config: ConnectorConfig) -> None:
    order, walnut = shop_order(shop)
    conn = build_connector("shopify", shop_config, sleep=lambda s: None)
    listing = ListingRef(sku="FUT-FRM-WAL-FULL", external_id=walnut["variant_id"],
                         inventory_item_id=walnut["inventory_item_id"])

    result = conn.place_substitute(request(order, listing, due_cents=0))

    assert result.status_code == 201 and result.due_cents == 0 and not result.payment_pending
    [draft] = shop.get("state/draft_orders")["draft_orders"]
    assert draft["status"] == "completed" and "[idempotency:substitute-7]" in draft["note"]
    assert draft["applied_discount"]["value_type"] == "percentage" and draft["total_price"] == "0.00"
    placed = shop.get(f"state/orders/{result.external_id}")
    assert placed["financial_status"] == "paid" and placed["line_items"][0]["sku"] == "FUT-FRM-WAL-FULL"
    assert placed["customer"]["id"] == shop.get(f"state/orders/{order['id']}")["customer"]["id"]
    assert shop.item("FUT-FRM-WAL-FULL")["available"] == 3, "completing the draft takes the unit"


def test_shopify_charged_difference_leaves_the_payment_pending(shop: Admin, shop_config: ConnectorConfig) -> None:
    order, walnut = shop_order(shop)
    conn = build_connector("shopify", shop_config, sleep=lambda s: None)
    listing = ListingRef(sku="FUT-FRM-WAL-FULL", external_id=walnut["variant_id"])

    result = conn.place_substitute(request(order, listing, due_cents=5000))

    assert result.payment_pending and result.due_cents == 5000, "699.00 less the 649.00 already paid"
    assert shop.get(f"state/orders/{result.external_id}")["financial_status"] == "pending"
    [complete] = shop.requests_log("PUT", "complete.json")
    assert complete["query"]["payment_pending"] == "true"


def test_shopify_lost_create_answer_is_found_not_placed_twice(shop: Admin, shop_config: ConnectorConfig) -> None:
    order, walnut = shop_order(shop)
    conn = build_connector("shopify", shop_config, sleep=lambda s: None)
    listing = ListingRef(sku="FUT-FRM-WAL-FULL", external_id=walnut["variant_id"])
    shop.post("faults", {"status": 503, "count": 1, "method": "POST", "path_contains": "/draft_orders.json",
                         "after_apply": True})
    since = datetime.now(UTC) - timedelta(minutes=1)

    with pytest.raises(TransientError):
        conn.place_substitute(request(order, listing, due_cents=0))
    result = conn.place_substitute(request(order, listing, due_cents=0, search_since=since))

    assert result.status_code == 200
    drafts = shop.get("state/draft_orders")["draft_orders"]
    assert len(drafts) == 1 and drafts[0]["status"] == "completed"
    again = conn.place_substitute(request(order, listing, due_cents=0, draft_external_id=result.draft_external_id))
    assert again.external_id == result.external_id, "a completed draft is never completed twice"


def test_shopify_lost_complete_answer_is_finished_not_completed_twice(shop: Admin,
                                                                     shop_config: ConnectorConfig) -> None:
    """The second of the two writes (``complete``) applied, its answer lost: the retry, which knows
    no draft id (the first attempt recorded nothing), finds the completed draft by its key and
    returns its order; no second ``complete``, no second order."""
    order, walnut = shop_order(shop)
    conn = build_connector("shopify", shop_config, sleep=lambda s: None)
    listing = ListingRef(sku="FUT-FRM-WAL-FULL", external_id=walnut["variant_id"])
    shop.post("faults", {"status": 502, "count": 1, "method": "PUT", "path_contains": "/complete.json",
                         "after_apply": True})
    since = datetime.now(UTC) - timedelta(minutes=1)

    with pytest.raises(TransientError):
        conn.place_substitute(request(order, listing, due_cents=0))
    result = conn.place_substitute(request(order, listing, due_cents=0, search_since=since))

    [draft] = shop.get("state/draft_orders")["draft_orders"]
    assert draft["status"] == "completed" and result.external_id == str(draft["order_id"])
    assert len(shop.requests_log("PUT", "/complete.json")) == 1


def test_shopify_unknown_variant_is_a_permanent_422(shop: Admin, shop_config: ConnectorConfig) -> None:
    order, _ = shop_order(shop)
    conn = build_connector("shopify", shop_config, sleep=lambda s: None)
    with pytest.raises(PermanentError, match="does not exist") as caught:
        conn.place_substitute(request(order, ListingRef(sku="X", external_id="12345"), due_cents=0))
    assert caught.value.status_code == 422


def woo_order(woo: Admin) -> tuple[dict[str, Any], dict[str, Any]]:
    seeded = woo.post("seed", {"items": [{"sku": "FUT-FRM-OAK-FULL", "stock_quantity": 0, "backorders": "notify"},
                                         {"sku": "FUT-FRM-WAL-FULL", "stock_quantity": 4}]})
    order = woo.post("create_order", {"lines": [{"sku": "FUT-FRM-OAK-FULL", "quantity": 1, "price": "649.00"}],
                                      "billing": {"email": "jamie@example.com"}})["order"]
    return order, seeded["items"][1]


def test_woocommerce_substitute_order_is_paid_by_the_original_line(woo: Admin, woo_config: ConnectorConfig) -> None:
    order, walnut = woo_order(woo)
    conn = build_connector("woocommerce", woo_config, sleep=lambda s: None)
    listing = ListingRef(sku="FUT-FRM-WAL-FULL", external_id=walnut["id"])

    result = conn.place_substitute(request(order, listing, due_cents=0))

    assert result.status_code == 201 and result.due_cents == 0 and not result.payment_pending
    placed = woo.get(f"state/orders/{result.external_id}")
    assert placed["status"] == "processing" and placed["total"] == "0.00"
    assert placed["line_items"][0]["subtotal"] == "699.00" and placed["discount_total"] == "699.00"
    assert placed["billing"]["email"] == "jamie@example.com"
    assert {"key": "_backorder_substitute", "value": "substitute-7"}.items() <= placed["meta_data"][0].items()
    assert woo.item("FUT-FRM-WAL-FULL")["stock_quantity"] == 3


def test_woocommerce_charge_is_a_pending_order_and_a_retry_finds_it(woo: Admin, woo_config: ConnectorConfig) -> None:
    order, walnut = woo_order(woo)
    conn = build_connector("woocommerce", woo_config, sleep=lambda s: None)
    listing = ListingRef(sku="FUT-FRM-WAL-FULL", external_id=walnut["id"])
    since = datetime.now(UTC) - timedelta(minutes=1)

    first = conn.place_substitute(request(order, listing, due_cents=5000))
    retry = conn.place_substitute(request(order, listing, due_cents=5000, search_since=since))

    assert first.payment_pending and first.due_cents == 5000
    assert (retry.status_code, retry.external_id) == (200, first.external_id)
    assert len(woo.requests_log("POST", "/wp-json/wc/v3/orders")) == 1


def test_woocommerce_unknown_product_and_bad_auth_answer_as_wordpress_does(
        woo: Admin, woo_config: ConnectorConfig) -> None:
    order, _ = woo_order(woo)
    conn = build_connector("woocommerce", woo_config, sleep=lambda s: None)
    with pytest.raises(PermanentError, match="Invalid product ID") as caught:
        conn.place_substitute(request(order, ListingRef(sku="X", external_id="999999"), due_cents=0))
    assert caught.value.status_code == 400
    wrong = build_connector("woocommerce", replace(woo_config, credentials={"consumer_key": "ck_sandbox",
                                                                           "consumer_secret": "nope"}),
                            sleep=lambda s: None)
    with pytest.raises(PermanentError) as denied:
        wrong.place_substitute(request(order, ListingRef(sku="X", external_id="1"), due_cents=0))
    assert denied.value.status_code == 401
