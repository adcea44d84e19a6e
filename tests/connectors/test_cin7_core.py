"""Cin7 Core against its stand-in over real HTTP: the two key headers, stock per location read in
full (bins added up, every stock product at every location, 0 where Cin7 lists nothing) and on
every poll, the 60-a-minute limit kept by the client's pacing and a 503 waited out, purchase orders
created once under retries and lost answers, stock received read back, the backorder status in a
product attribute, webhooks subscribed with our header secret, accepted once and refused without
it."""
from __future__ import annotations

import uuid
from dataclasses import replace
from collections.abc import Callable
from typing import Any

import pytest

from connectors import subscriptions
from connectors.cin7_core import SECRET_HEADER, TOPIC_HEADER, Cin7CoreConnector
from connectors.errors import AuthError, PermanentError, SignatureError, TransientError
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, ListingRef, PurchaseOrderLineRequest, PurchaseOrderRequest
from domain.stock.apply_events import stored_payload
from sandbox.cin7_core import DEFAULTS

Admin = Any
SKUS = ("FUT-FRM-OAK-FULL", "FUT-FRM-OAK-QUEEN", "FUT-MAT-COT-FULL")
MAIN, SHOW = "Newark", "Brooklyn"
SECRET = "cin7-hook-secret"


@pytest.fixture
def admin(admin_for: Callable[[str, str], Admin]) -> Admin:
    account = admin_for("cin7_core", f"acct{uuid.uuid4().hex[:8]}")
    account.ids = account.post("seed", {
        "locations": [MAIN, SHOW], "suppliers": ["Kyoto Frame Works"],
        "products": [{"sku": SKUS[0], "stock": {MAIN: {"on_hand": 10, "allocated": 2}}},
                     {"sku": SKUS[1]},  # nothing anywhere: Cin7 lists no row for it
                     {"sku": SKUS[2], "stock": {SHOW: {"on_hand": 4}}},
                     {"sku": "SVC-ASSEMBLY", "type": "Service"}]})
    account.post("set_stock", {"sku": SKUS[0], "location": MAIN, "on_hand": 3, "bin": "B-2"})  # a second bin
    return account


def connector(admin: Admin, sleeps: list[float] | None = None, secret: str = SECRET, frozen: bool = False,
              **options: Any) -> Cin7CoreConnector:
    config = ConnectorConfig(store_key="cin7-erp", base_url=admin.root, timeout_s=5.0, webhook_secret=secret,
                             options={"page_size": 2, "vendor_ids": {"kyoto-frames": "Kyoto Frame Works"}, **options},
                             credentials=dict(DEFAULTS))
    built = build_connector("cin7_core", config, sleep=(sleeps.append if sleeps is not None else lambda _s: None),
                            **({"clock": lambda: 0.0} if frozen else {}))
    assert isinstance(built, Cin7CoreConnector)
    return built


def figures(pages: Any) -> dict[tuple[str | None, str | None], tuple[int | None, int | None, int | None]]:
    return {(r.sku, r.location_external_id): (r.on_hand, r.committed, r.available) for p in pages for r in p.records}


def order(number: str = "PO-20250102-1") -> PurchaseOrderRequest:
    return PurchaseOrderRequest(number=number, vendor_ref="kyoto-frames", expected_date="2025-01-23", lines=[
        PurchaseOrderLineRequest(sku=SKUS[0], quantity=4, unit_cost_cents=18950),
        PurchaseOrderLineRequest(sku=SKUS[1], quantity=2, unit_cost_cents=21000)])


def test_a_read_gives_every_stock_product_at_every_location_bins_added_and_zeros_filled(admin: Admin) -> None:
    pages = list(connector(admin).fetch_stock(None))
    assert figures(pages) == {(SKUS[0], MAIN): (13, 2, 11), (SKUS[0], SHOW): (0, 0, 0), (SKUS[1], MAIN): (0, 0, 0),
                              (SKUS[1], SHOW): (0, 0, 0), (SKUS[2], MAIN): (0, 0, 0), (SKUS[2], SHOW): (4, 0, 4)}
    assert [p.cursor for p in pages[:-1]] == [None] and pages[-1].cursor  # 3 stock products, pages of 2
    calls = admin.requests_log("GET")
    assert {c["query"].get("Limit") for c in calls} == {"2"}
    assert [c["query"]["Page"] for c in calls if c["path"].endswith("/product")] == ["1", "2"]  # 4 products, the service left out


def test_only_the_locations_named_are_read(admin: Admin) -> None:
    assert set(figures(connector(admin, location_ids=[SHOW]).fetch_stock(None))) == {(sku, SHOW) for sku in SKUS}
    assert not admin.requests_log("GET", "/ref/location")


def test_every_poll_reads_the_whole_availability_list_there_being_no_modified_since(admin: Admin) -> None:
    first = list(connector(admin).fetch_stock(None))
    admin.post("set_stock", {"sku": SKUS[0], "location": MAIN, "on_hand": 0, "allocated": 0})
    admin.post("set_stock", {"sku": SKUS[0], "location": MAIN, "on_hand": 0, "bin": "B-2"})
    again = figures(connector(admin).fetch_stock(first[-1].cursor))
    assert again[(SKUS[0], MAIN)] == (0, 0, 0) and again[(SKUS[2], SHOW)] == (4, 0, 4)  # gone from the list: 0
    assert "ModifiedSince" not in str(admin.requests_log("GET", "/ref/productavailability"))


def test_wrong_keys_are_an_auth_error(admin: Admin) -> None:
    admin.post("config", {"application_key": "rotated"})
    with pytest.raises(AuthError, match="403: Incorrect credentials"):
        list(connector(admin).fetch_stock(None))


def test_the_client_paces_itself_under_60_a_minute_and_a_503_waits_for_the_next_minute(admin: Admin) -> None:
    sleeps: list[float] = []
    cin7 = connector(admin, sleeps, frozen=True)  # time moves only by the waits the pacer asks for
    for _ in range(6):
        cin7.get_json("ref/location")
    assert sum(sleeps) >= (6 - 2) / 0.95 - 0.01
    sleeps.clear()
    admin.post("config", {"per_minute": 0})
    with pytest.raises(TransientError, match="503: You reached 60 calls per minute API limit"):
        connector(admin, sleeps, max_retries=1).get_json("ref/location")
    assert 60.0 in sleeps


def test_a_purchase_order_is_made_once_under_retries_and_lost_answers(admin: Admin) -> None:
    admin.post("faults", {"status": 502, "after_apply": True, "method": "POST", "path_contains": "/purchase/order"})
    with pytest.raises(TransientError):  # the header made, the lines made, the answer lost
        connector(admin).create_purchase_order(order())
    again = connector(admin).create_purchase_order(order())
    third = connector(admin).create_purchase_order(order())
    [made] = admin.get("state/purchase_orders")["purchase_orders"]
    assert not again.created and not third.created and again.external_id == third.external_id == made["ID"]
    assert made["OrderNumber"] == "PO-20250102-1" and made["Supplier"] == "Kyoto Frame Works"
    assert made["Approach"] == "STOCK" and made["RequiredBy"] == "2025-01-23" and made["Order"]["Status"] == "DRAFT"
    assert [(line["SKU"], line["Quantity"], line["Price"]) for line in made["Order"]["Lines"]] == [
        (SKUS[0], 4, 189.5), (SKUS[1], 2, 210.0)]
    assert [e["status"] for e in admin.requests_log("POST", "/purchase/order")] == [502]


def test_a_header_made_without_its_lines_is_finished_by_the_retry(admin: Admin) -> None:
    admin.post("faults", {"status": 502, "method": "POST", "path_contains": "/purchase/order"})
    with pytest.raises(TransientError):
        connector(admin).create_purchase_order(order())
    assert admin.get("state/purchase_orders")["purchase_orders"][0]["Order"]["Lines"] == []
    retried = connector(admin).create_purchase_order(order())
    [made] = admin.get("state/purchase_orders")["purchase_orders"]
    assert not retried.created and len(made["Order"]["Lines"]) == 2 and len(retried.request["lines"]) == 2


def test_a_voided_purchase_or_an_unknown_sku_is_refused_and_receipts_read_back(admin: Admin) -> None:
    connector(admin, authorise_orders=True).create_purchase_order(order())
    admin.post("purchases/receive", {"order_number": "PO-20250102-1", "lines": {SKUS[0]: 3}})
    assert [(r.sku, r.ordered, r.received) for r in connector(admin).fetch_receipts(["PO-20250102-1"])] == [
        (SKUS[0], 4, 3), (SKUS[1], 2, 0)]
    admin.post("purchases/void", {"order_number": "PO-20250102-1"})
    with pytest.raises(PermanentError, match="voided in Cin7"):
        connector(admin).create_purchase_order(order())
    bad = PurchaseOrderRequest(number="PO-2", vendor_ref="kyoto-frames",
                               lines=[PurchaseOrderLineRequest(sku="NOPE", quantity=1, unit_cost_cents=100)])
    with pytest.raises(PermanentError, match="no product with SKU NOPE"):
        connector(admin).create_purchase_order(bad)
    by_id = replace(order("PO-3"), vendor_ref=admin.ids["suppliers"]["Kyoto Frame Works"])  # a supplier's ID
    assert connector(admin, vendor_ids={}).create_purchase_order(by_id).created
    with pytest.raises(PermanentError, match="400: Supplier not found"):
        connector(admin, vendor_ids={}).create_purchase_order(order("PO-4"))


def test_the_backorder_status_is_the_product_attribute_named(admin: Admin) -> None:
    listing = ListingRef(sku=SKUS[1], external_id=admin.ids["products"][SKUS[1]])
    with pytest.raises(PermanentError, match="backorder_status_attribute"):
        connector(admin).write_backorder_status(listing, True)
    assert connector(admin, backorder_status_attribute="AdditionalAttribute9").write_backorder_status(listing, True).ok
    assert admin.get("state/items", skus=SKUS[1])["items"][0]["AdditionalAttribute9"] == "Backordered"
    connector(admin, backorder_status_attribute="AdditionalAttribute9").write_backorder_status(listing, False)
    assert admin.get("state/items", skus=SKUS[1])["items"][0]["AdditionalAttribute9"] == ""
    with pytest.raises(ValueError, match="backorder_status_attribute"):
        connector(admin, backorder_status_attribute="Notes")


def test_webhooks_are_subscribed_once_accepted_once_and_refused_without_the_secret(admin: Admin,
                                                                                 webhook_receiver: Any) -> None:
    made = subscriptions.ensure(connector(admin), webhook_receiver.url, SECRET, True)
    again = subscriptions.ensure(connector(admin), webhook_receiver.url, SECRET, False)
    assert [s.outcome for s in made] == ["created"] and [s.outcome for s in again] == ["found"]
    rotated = subscriptions.ensure(connector(admin, secret="new"), webhook_receiver.url, "new", True)
    assert [s.outcome for s in rotated] == ["updated"] and len(admin.get("state/webhooks")["webhooks"]) == 1

    admin.post("set_stock", {"sku": SKUS[2], "location": SHOW, "on_hand": 0})
    [delivery] = webhook_receiver.received
    cin7 = connector(admin, secret="new")
    cin7.verify_webhook(delivery.headers, delivery.body)
    event = cin7.parse_webhook(delivery.headers, delivery.body)
    assert event.kind == "inventory_update" and event.topic == delivery.headers[TOPIC_HEADER]
    assert cin7.parse_webhook(delivery.headers, delivery.body).dedupe_key == event.dedupe_key  # a retry: one event
    assert {(r.location_external_id, r.on_hand) for r in cin7.resolve_webhook(event).stock} == {(MAIN, 0), (SHOW, 0)}
    for headers in ({}, {SECRET_HEADER: SECRET}):  # unsigned, or the old secret
        with pytest.raises(SignatureError):
            cin7.verify_webhook(headers, delivery.body)
    kept = stored_payload(delivery.headers, delivery.body)["headers"]  # what the inbox row keeps
    assert kept[TOPIC_HEADER.lower()] == event.topic and SECRET_HEADER.lower() not in kept


def test_discovery_surveys_the_locations_and_counts_the_stock_products(admin: Admin) -> None:
    from connectors import discovery

    found = discovery.survey(connector(admin))
    assert [(place.external_id, place.active) for place in found.locations] == [(MAIN, True), (SHOW, True)]
    assert found.items == 3 and found.missing == []
