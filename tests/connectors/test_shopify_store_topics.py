"""The Shopify connector's newer topics against the stand-in, over real HTTP: a partial
fulfilment, an item disconnected from a location, and the store's own returns — each webhook
verified and parsed, a return without its lines read in full through the GraphQL Admin API."""
from __future__ import annotations

from typing import Any

import pytest
import requests

from connectors.errors import PermanentError
from connectors.registry import build_connector
from connectors.shopify import ShopifyConnector
from connectors.store_returns import needs_details
from connectors.types import ConnectorConfig

Admin = Any
WebhookReceiver = Any
SKUS = ("FUTON-QUEEN", "COVER-GREY")


@pytest.fixture
def conn(shop_config: ConnectorConfig) -> ShopifyConnector:
    built = build_connector("shopify", shop_config)
    assert isinstance(built, ShopifyConnector)
    return built


def _subscribed(shop: Admin, receiver: WebhookReceiver, secret: str, *topics: str) -> None:
    shop.post("seed", {"items": [{"sku": sku, "available": 5} for sku in SKUS]})
    shop.post("webhooks", {"address": receiver.url, "secret": secret, "topics": list(topics)})


def _fulfilled_order(shop: Admin) -> dict[str, Any]:
    order = shop.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 2, "price": "120.00"},
                                                 {"sku": "COVER-GREY", "quantity": 1, "price": "30.00"}]})["order"]
    shop.post("fulfill", {"order_id": order["id"], "tracking_company": "UPS", "tracking_number": "1Z1"})
    return order


def test_a_partial_fulfilment_names_only_the_lines_it_shipped(shop: Admin, conn: ShopifyConnector,
                                                             webhook_receiver: WebhookReceiver,
                                                             webhook_secret: str) -> None:
    _subscribed(shop, webhook_receiver, webhook_secret, "orders/fulfilled", "orders/partially_fulfilled")
    order = shop.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 2},
                                                 {"sku": "COVER-GREY", "quantity": 1}]})["order"]
    first = shop.post("fulfill", {"order_id": order["id"], "tracking_number": "1Z1",
                                  "lines": [{"sku": "COVER-GREY"}, {"sku": "FUTON-QUEEN", "quantity": 1}]})
    assert first["order"]["fulfillment_status"] == "partial"
    last = shop.post("fulfill", {"order_id": order["id"], "tracking_number": "1Z2"})
    assert last["order"]["fulfillment_status"] == "fulfilled"
    partial, full = webhook_receiver.received
    assert (partial.headers["X-Shopify-Topic"], full.headers["X-Shopify-Topic"]) == (
        "orders/partially_fulfilled", "orders/fulfilled")

    conn.verify_webhook(partial.headers, partial.body)
    event = conn.parse_webhook(partial.headers, partial.body)
    assert event.kind == "order_fulfilled"
    [shipped] = event.fulfillments
    assert shipped.tracking_number == "1Z1"
    assert sorted((line.sku, line.quantity) for line in shipped.lines) == [("COVER-GREY", 1), ("FUTON-QUEEN", 1)]
    with pytest.raises(requests.HTTPError):  # nothing left to ship
        shop.post("fulfill", {"order_id": order["id"], "lines": [{"sku": "COVER-GREY"}]})


def test_a_disconnected_level_names_its_item_and_location_and_leaves_the_lists(
        shop: Admin, conn: ShopifyConnector, shop_config: ConnectorConfig, webhook_receiver: WebhookReceiver,
        webhook_secret: str) -> None:
    _subscribed(shop, webhook_receiver, webhook_secret, "inventory_levels/disconnect")
    location = int(shop.post("locations", {"count": 1})["location_ids"][-1])
    item = shop.item("FUTON-QUEEN")
    shop.post("connect", {"sku": "FUTON-QUEEN", "location_id": location, "available": 3})
    listed = requests.get(f"{shop.root}/admin/api/2025-01/inventory_levels.json", timeout=10,
                          headers={"X-Shopify-Access-Token": "shpat_sandbox"}, params={"location_ids": location})
    assert [level["available"] for level in listed.json()["inventory_levels"]] == [3]

    shop.post("disconnect", {"sku": "FUTON-QUEEN", "location_id": location})
    [hook] = webhook_receiver.received
    conn.verify_webhook(hook.headers, hook.body)
    event = conn.parse_webhook(hook.headers, hook.body)
    assert event.kind == "location_disconnected" and event.topic == "inventory_levels/disconnect"
    [record] = event.stock
    assert (record.inventory_item_id, record.location_external_id) == (item["inventory_item_id"], str(location))
    assert record.available is None
    listed = requests.get(f"{shop.root}/admin/api/2025-01/inventory_levels.json", timeout=10,
                          headers={"X-Shopify-Access-Token": "shpat_sandbox"}, params={"location_ids": location})
    assert listed.json()["inventory_levels"] == []
    refused = requests.post(f"{shop.root}/admin/api/2025-01/inventory_levels/set.json", timeout=10,
                            headers={"X-Shopify-Access-Token": "shpat_sandbox"}, json={
                                "location_id": location, "inventory_item_id": int(item["inventory_item_id"]),
                                "available": 1})
    assert refused.status_code == 422, "an item no longer stocked there cannot be set there"


def test_a_requested_return_is_parsed_and_read_in_full_when_its_webhook_lacks_lines(
        shop: Admin, conn: ShopifyConnector, webhook_receiver: WebhookReceiver, webhook_secret: str) -> None:
    _subscribed(shop, webhook_receiver, webhook_secret, "returns/request", "returns/decline")
    order = _fulfilled_order(shop)
    lines = {line["sku"]: line for line in shop.get(f"state/orders/{order['id']}")["line_items"]}

    shop.post("returns/request", {"order_id": order["id"], "lines": [
        {"sku": "FUTON-QUEEN", "quantity": 1, "reason": "DEFECTIVE", "note": "cracked slat"}]})
    thin = shop.post("returns/request", {"order_id": order["id"], "lines_in_webhook": False, "lines": [
        {"sku": "COVER-GREY", "quantity": 1, "reason": "WRONG_ITEM"}, {"sku": "FUTON-QUEEN", "quantity": 1}]})
    with pytest.raises(requests.HTTPError):  # both units of the futon are coming back already
        shop.post("returns/request", {"order_id": order["id"], "lines": [{"sku": "FUTON-QUEEN", "quantity": 1}]})
    full_hook, thin_hook = webhook_receiver.received

    conn.verify_webhook(full_hook.headers, full_hook.body)
    event = conn.parse_webhook(full_hook.headers, full_hook.body)
    [ret] = event.returns
    assert event.kind == "return_changed" and ret.status == "requested" and ret.detailed
    assert ret.order_external_id == str(order["id"]) and ret.reason == "defective" and ret.note == "cracked slat"
    assert [(line.external_id, line.quantity) for line in ret.lines] == [(str(lines["FUTON-QUEEN"]["id"]), 1)]
    assert not needs_details(event) and conn.resolve_webhook(event) == event

    event = conn.parse_webhook(thin_hook.headers, thin_hook.body)
    assert needs_details(event) and event.returns[0].lines == []
    read = conn.resolve_webhook(event).returns[0]
    assert read.external_id == f"gid://shopify/Return/{thin['return']['id']}" and read.detailed
    assert sorted((line.sku, line.external_id, line.quantity) for line in read.lines) == sorted([
        ("COVER-GREY", str(lines["COVER-GREY"]["id"]), 1), ("FUTON-QUEEN", str(lines["FUTON-QUEEN"]["id"]), 1)])
    assert read.reason == "wrong_item" and read.name.endswith("-R2")
    [asked] = shop.requests_log("POST", "graphql.json")
    assert asked["status"] == 200

    shop.post(f"returns/{thin['return']['id']}/decline", {"reason": "FINAL_SALE", "note": "worn"})
    declined = conn.parse_webhook(webhook_receiver.received[-1].headers, webhook_receiver.received[-1].body)
    assert [(r.status, r.note) for r in declined.returns] == [("declined", "worn")]
    assert not needs_details(declined), "a decline needs no lines to close ours"


def test_the_graphql_endpoint_answers_what_was_asked_and_refuses_the_rest(shop: Admin, conn: ShopifyConnector,
                                                                         webhook_receiver: WebhookReceiver,
                                                                         webhook_secret: str) -> None:
    _subscribed(shop, webhook_receiver, webhook_secret, "returns/request")
    order = _fulfilled_order(shop)
    made = shop.post("returns/request", {"order_id": order["id"], "lines": [{"sku": "COVER-GREY"}]})["return"]
    url = f"{shop.root}/admin/api/2025-01/graphql.json"
    token = {"X-Shopify-Access-Token": "shpat_sandbox"}
    gid = f"gid://shopify/Return/{made['id']}"

    asked = requests.post(url, headers=token, timeout=10, json={
        "query": "query R($id: ID!) { return(id: $id) { status shown: name } }", "variables": {"id": gid}})
    assert asked.json()["data"] == {"return": {"status": "REQUESTED", "shown": made["name"]}}
    missing = requests.post(url, headers=token, timeout=10, json={
        "query": "query R($id: ID!) { return(id: $id) { id } }", "variables": {"id": "gid://shopify/Return/1"}})
    assert missing.json()["data"] == {"return": None}
    unknown = requests.post(url, headers=token, timeout=10, json={
        "query": "query R($id: ID!) { return(id: $id) { refundTotal } }", "variables": {"id": gid}}).json()
    assert unknown["errors"][0]["extensions"]["code"] == "undefinedField"
    assert requests.post(url, timeout=10, json={"query": "{ return(id: \"x\") { id } }"}).status_code == 401
    with pytest.raises(PermanentError, match="is not a return this shop has"):
        from dataclasses import replace
        event = conn.parse_webhook(webhook_receiver.received[-1].headers, webhook_receiver.received[-1].body)
        ghost = replace(event.returns[0], external_id="gid://shopify/Return/1", lines=[])
        conn.resolve_webhook(replace(event, returns=[ghost]))


def test_a_decision_is_written_with_its_mutation_and_a_return_decided_already_is_counted_as_done(
        shop: Admin, conn: ShopifyConnector, webhook_receiver: WebhookReceiver, webhook_secret: str) -> None:
    _subscribed(shop, webhook_receiver, webhook_secret, "returns/request", "returns/approve", "returns/decline")
    order = _fulfilled_order(shop)
    first = shop.post("returns/request", {"order_id": order["id"], "lines": [{"sku": "COVER-GREY"}]})["return"]
    second = shop.post("returns/request", {"order_id": order["id"], "lines": [{"sku": "FUTON-QUEEN"}]})["return"]

    written = conn.decide_return(f"gid://shopify/Return/{first['id']}", "approve")
    assert (written.outcome, written.status) == ("written", "open")
    assert webhook_receiver.received[-1].headers["X-Shopify-Topic"] == "returns/approve"
    again = conn.decide_return(f"gid://shopify/Return/{first['id']}", "decline", "OTHER", "too late")
    assert (again.outcome, again.status) == ("already", "open") and "INVALID_STATE" in again.message
    declined = conn.decide_return(f"gid://shopify/Return/{second['id']}", "decline", "FINAL_SALE", "worn")
    assert (declined.outcome, declined.status) == ("written", "declined")
    sent = webhook_receiver.received[-1]
    assert sent.headers["X-Shopify-Topic"] == "returns/decline"
    [record] = conn.parse_webhook(sent.headers, sent.body).returns
    assert (record.status, record.note) == ("declined", "worn")
    with pytest.raises(PermanentError, match="NOT_FOUND"):
        conn.decide_return("gid://shopify/Return/1", "approve")
    with pytest.raises(PermanentError, match="not a ReturnDeclineReason"):
        conn.decide_return(f"gid://shopify/Return/{second['id']}", "decline", "CHANGED_MIND")
    shop.post("faults", {"status": 200, "path_contains": "graphql.json", "count": 1,
                         "body": {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}})
    from connectors.errors import TransientError
    with pytest.raises(TransientError, match="throttled"):
        conn.decide_return(f"gid://shopify/Return/{second['id']}", "approve")


def test_an_update_names_changes_only_and_is_read_in_full_and_a_reopen_opens_again(
        shop: Admin, conn: ShopifyConnector, webhook_receiver: WebhookReceiver, webhook_secret: str) -> None:
    _subscribed(shop, webhook_receiver, webhook_secret, "returns/update", "returns/reopen")
    order = shop.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 3, "price": "120.00"}]})["order"]
    shop.post("fulfill", {"order_id": order["id"], "tracking_number": "1Z1"})
    made = shop.post("returns/request", {"order_id": order["id"], "lines": [{"sku": "FUTON-QUEEN", "quantity": 3}]})
    ret = made["return"]
    shop.post(f"returns/{ret['id']}/update", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 2}]})
    sent = webhook_receiver.received[-1]
    event = conn.parse_webhook(sent.headers, sent.body)
    [thin] = event.returns
    assert (thin.status, thin.order_external_id, thin.lines) == ("", "", []) and needs_details(event)
    [full] = conn.resolve_webhook(event).returns
    assert (full.status, full.order_external_id) == ("requested", str(order["id"]))
    assert [(line.sku, line.quantity) for line in full.lines] == [("FUTON-QUEEN", 2)]

    shop.post(f"returns/{ret['id']}/approve", {})
    shop.post(f"returns/{ret['id']}/close", {})
    shop.post(f"returns/{ret['id']}/reopen", {})
    sent = webhook_receiver.received[-1]
    assert sent.headers["X-Shopify-Topic"] == "returns/reopen"
    [reopened] = conn.parse_webhook(sent.headers, sent.body).returns
    assert (reopened.status, reopened.order_external_id) == ("open", str(order["id"]))


def test_an_open_return_is_cancelled_or_closed_by_its_id_and_one_that_cannot_be_counts_as_done(
        shop: Admin, conn: ShopifyConnector, webhook_receiver: WebhookReceiver, webhook_secret: str) -> None:
    _subscribed(shop, webhook_receiver, webhook_secret, "returns/request", "returns/approve", "returns/cancel",
                "returns/close")
    order = shop.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 3, "price": "120.00"}]})["order"]
    shop.post("fulfill", {"order_id": order["id"], "tracking_number": "1Z1"})
    made = [shop.post("returns/request", {"order_id": order["id"], "lines": [{"sku": "FUTON-QUEEN"}]})["return"]
            for _ in range(3)]
    ids = [f"gid://shopify/Return/{one['id']}" for one in made]
    requested = conn.decide_return(ids[0], "cancel")  # only an OPEN return is cancelled
    assert (requested.outcome, requested.status) == ("already", "requested") and "INVALID_STATE" in requested.message
    for gid in ids:
        assert conn.decide_return(gid, "approve").outcome == "written"

    cancelled = conn.decide_return(ids[0], "cancel")
    assert (cancelled.outcome, cancelled.status) == ("written", "canceled")
    sent = webhook_receiver.received[-1]
    assert sent.headers["X-Shopify-Topic"] == "returns/cancel"
    [record] = conn.parse_webhook(sent.headers, sent.body).returns
    assert (record.external_id, record.status, record.order_external_id) == (ids[0], "canceled", str(order["id"]))
    closed = conn.decide_return(ids[1], "close")
    assert (closed.outcome, closed.status) == ("written", "closed")
    assert webhook_receiver.received[-1].headers["X-Shopify-Topic"] == "returns/close"
    asked = [r["body"] for r in shop.requests_log("POST", "graphql.json") if "returnC" in r["body"]["query"]]
    assert [one["variables"] for one in asked[-2:]] == [{"id": ids[0]}, {"id": ids[1]}]

    # moved already (a lost answer, or the merchant): done, with the status the store shows; nothing sent
    hooks = len(webhook_receiver.received)
    again = conn.decide_return(ids[0], "cancel")
    assert (again.outcome, again.status) == ("already", "canceled") and "not cancelable" in again.message
    assert (conn.decide_return(ids[1], "close").status, conn.decide_return(ids[0], "close").status) == (
        "closed", "canceled")
    # a return with a refund made on one of its lines was processed: Shopify cancels it no more
    line = shop.get(f"state/orders/{order['id']}")["line_items"][0]
    refunded = requests.post(f"{shop.root}/admin/api/2025-01/orders/{order['id']}/refunds.json", timeout=10,
                             headers={"X-Shopify-Access-Token": "shpat_sandbox"},
                             json={"refund": {"refund_line_items": [{"line_item_id": line["id"], "quantity": 1}]}})
    assert refunded.status_code == 201, refunded.text
    processed = conn.decide_return(ids[2], "cancel")
    assert (processed.outcome, processed.status) == ("already", "open")
    assert len(webhook_receiver.received) == hooks
    with pytest.raises(PermanentError, match="NOT_FOUND"):
        conn.decide_return("gid://shopify/Return/1", "close")
