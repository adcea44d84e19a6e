"""A parsed webhook's records survive the inbox's JSON exactly, and unreadable ones are refused."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from connectors import webhook_records
from connectors.types import OrderLineRecord, OrderRecord, StockRecord, WebhookEvent

EST = timezone(timedelta(hours=-5))
AT = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=EST)


def _through_json(event: WebhookEvent) -> WebhookEvent:
    stored = json.loads(json.dumps(webhook_records.dump(event)))
    return webhook_records.load(stored, event.kind, event.topic, event.dedupe_key, event.occurred_at)


def test_every_field_of_stock_and_orders_comes_back_equal() -> None:
    stock = StockRecord(external_id="9007199254740993", sku="FUTON-QUEEN", location_external_id="655441491",
                        on_hand=7, available=0, committed=2, updated_at=AT, inventory_item_id="44",
                        backorders_allowed=False, parent_external_id="p-1", reorder_point=0)
    order = OrderRecord(external_id="9007199254740995", number="#1001", placed_at=AT, email=None, phone="+15550100",
                        customer_name="Pat", lines=[OrderLineRecord("l-1", "FUTON-QUEEN", 2, "Futon", 18990, "v-9"),
                                                    OrderLineRecord("l-2", None, 1)],
                        currency="EUR", total_cents=37980, status="open", updated_at=AT.astimezone(timezone.utc))
    event = WebhookEvent(kind="order_created", topic="orders/create", dedupe_key="shopify:e-1", occurred_at=AT,
                         stock=[stock, StockRecord(external_id="v2")], orders=[order], resource_ids=["1", "2"])
    back = _through_json(event)
    assert back == event
    assert back.orders[0].placed_at is not None and back.orders[0].placed_at.utcoffset() == timedelta(hours=-5)
    assert back.stock[0].backorders_allowed is False and back.stock[0].reorder_point == 0, "falsy values are kept"


def test_only_what_a_record_carries_is_stored() -> None:
    event = WebhookEvent(kind="inventory_update", topic="inventory_levels/update", dedupe_key="k", occurred_at=None,
                         stock=[StockRecord(external_id="v1", available=3)])
    assert webhook_records.dump(event) == {"v": webhook_records.VERSION,
                                           "stock": [{"external_id": "v1", "available": 3}]}
    assert _through_json(event) == event


@pytest.mark.parametrize("stored", [
    {"v": webhook_records.VERSION + 1, "stock": []},
    {"stock": [{"external_id": "v1"}]},
    {"v": webhook_records.VERSION, "stock": [{"external_id": "v1", "colour": "red"}]},
    {"v": webhook_records.VERSION, "stock": [{"external_id": "v1", "updated_at": "yesterday"}]},
    {"v": webhook_records.VERSION, "orders": [{"external_id": "o1"}]},
    ["not", "a", "mapping"],
])
def test_records_this_code_cannot_read_are_refused(stored: object) -> None:
    with pytest.raises(webhook_records.UnreadableRecords):
        webhook_records.load(stored, "inventory_update", "t", "k", None)  # type: ignore[arg-type]


def test_a_field_a_parser_left_none_against_its_type_comes_back_none() -> None:
    line = OrderLineRecord("l-1", "SKU", None)  # type: ignore[arg-type]
    order = OrderRecord("o-1", "1001", None, None, None, None, [line])  # type: ignore[arg-type]
    event = WebhookEvent(kind="order_created", topic="orders/create", dedupe_key="k", occurred_at=None, orders=[order])
    assert _through_json(event) == event


def test_a_store_s_fulfillments_and_refunds_come_back_equal() -> None:
    from connectors.shopify import ShopifyConnector
    from connectors.types import ConnectorConfig

    shop = ShopifyConnector(ConnectorConfig("shop", "http://127.0.0.1:9"))
    order = {"id": 9007199254740995, "fulfillments": [
        {"id": 1, "status": "success", "tracking_company": "UPS", "tracking_number": "1Z9", "created_at":
         "2026-11-25T10:00:00-05:00", "line_items": [{"id": 9007199254740997, "sku": "FUTON-QUEEN", "quantity": 2,
                                                      "title": "Futon", "price": "189.90", "variant_id": 4}]},
        {"id": 2, "status": "cancelled", "line_items": [{"id": 5, "sku": "X", "quantity": 1}]}]}
    fulfilled = shop.parse_webhook({"X-Shopify-Topic": "orders/fulfilled"}, json.dumps(order).encode())
    assert fulfilled.kind == "order_fulfilled" and [f.external_id for f in fulfilled.fulfillments] == ["1"], \
        "a cancelled fulfillment shipped nothing"
    assert fulfilled.fulfillments[0].lines == [OrderLineRecord("9007199254740997", "FUTON-QUEEN", 2, "Futon", 18990, "4")]
    refund = {"id": 77, "order_id": 9007199254740995, "note": "by hand", "created_at": "2026-11-25T10:00:00-05:00",
              "refund_line_items": [{"id": 3, "line_item_id": 9007199254740997, "quantity": 1,
                                     "line_item": {"id": 9007199254740997, "sku": "FUTON-QUEEN", "price": "189.90"}}],
              "transactions": [{"kind": "refund", "status": "success", "amount": "189.90", "currency": "EUR"},
                               {"kind": "refund", "status": "failure", "amount": "189.90", "currency": "EUR"}]}
    refunded = shop.parse_webhook({"X-Shopify-Topic": "refunds/create"}, json.dumps(refund).encode())
    [made] = refunded.refunds
    assert (made.order_external_id, made.amount_cents, made.currency, made.note) == ("9007199254740995", 18990, "EUR",
                                                                                     "by hand")
    assert [(line.external_id, line.sku, line.quantity) for line in made.lines] == [("9007199254740997", "FUTON-QUEEN", 1)]
    for event in (fulfilled, refunded):
        assert _through_json(event) == event
