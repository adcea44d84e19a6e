"""Zoho Inventory against its stand-in over real HTTP: the refresh-token grant at the accounts host
(one token shared, a new one after a 401), ``organization_id`` on every call, stock per location
read in full and since a cursor, the organization's 100-a-minute limit kept by the client's
pacing and a 429 retried, purchase orders created once however often they are sent, the
backorder status written to the item's custom field, and workflow webhooks accepted once with the
secret header and refused without it."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from connectors.errors import AuthError, PermanentError, SignatureError, TransientError
from connectors.oauth2 import RefreshTokenGrant
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, ListingRef, PurchaseOrderLineRequest, PurchaseOrderRequest
from connectors.zoho_inventory import SECRET_HEADER, ZohoInventoryConnector
from sandbox.zoho_inventory import DEFAULTS

Admin = Any
SKUS = ("FUT-FRM-OAK-FULL", "FUT-FRM-OAK-QUEEN", "FUT-MAT-COT-FULL")
MAIN, SHOW = "460000000038080", "460000000038099"
SECRET = "zoho-hook-secret"


@pytest.fixture(autouse=True)
def _no_kept_tokens() -> None:
    RefreshTokenGrant._kept.clear()


@pytest.fixture
def admin(admin_for: Callable[[str, str], Admin]) -> Admin:
    org = admin_for("zoho_inventory", f"org{uuid.uuid4().hex[:8]}")
    org.ids = org.post("seed", {
        "locations": [{"id": MAIN, "name": "Newark"}, {"id": SHOW, "name": "Brooklyn"}],
        "vendors": ["4815000000000777"], "custom_fields": ["Backorder Status"],
        "items": [{"sku": sku, "reorder_level": 2, "stock": {MAIN: {"on_hand": 10 + n, "committed": n},
                                                           SHOW: {"on_hand": n}}} for n, sku in enumerate(SKUS)]
        + [{"sku": "SVC-ASSEMBLY", "service": True}]})["items"]
    return org


def connector(admin: Admin, sleeps: list[float] | None = None, frozen: bool = False,
              **options: Any) -> ZohoInventoryConnector:
    config = ConnectorConfig(
        store_key="zoho-erp", base_url=admin.root, timeout_s=5.0, webhook_secret=SECRET,
        options={"organization_id": DEFAULTS["organization_id"], "accounts_host": f"{admin.root}/accounts",
                 "page_size": 2, "vendor_ids": {"kyoto-frames": "4815000000000777"}, **options},
        credentials={k: DEFAULTS[k] for k in ("client_id", "client_secret", "refresh_token")})
    built = build_connector("zoho_inventory", config, sleep=(sleeps.append if sleeps is not None else lambda _s: None),
                            **({"clock": lambda: 0.0} if frozen else {}))
    assert isinstance(built, ZohoInventoryConnector)
    return built


def records(pages: Any) -> list[Any]:
    return [record for page in pages for record in page.records]


def order(number: str = "PO-20250102-1") -> PurchaseOrderRequest:
    return PurchaseOrderRequest(number=number, vendor_ref="kyoto-frames", expected_date="2025-01-23", lines=[
        PurchaseOrderLineRequest(sku="FUT-FRM-OAK-FULL", quantity=4, unit_cost_cents=18950),
        PurchaseOrderLineRequest(sku="FUT-FRM-OAK-QUEEN", quantity=2, unit_cost_cents=21000)])


def test_a_full_read_gives_each_inventory_item_at_each_location(admin: Admin) -> None:
    pages = list(connector(admin).fetch_stock(None))
    got = sorted((r.sku, r.location_external_id, r.on_hand, r.committed, r.available, r.reorder_point)
                 for r in records(pages))
    assert got == sorted((sku, place, on_hand, committed, on_hand - committed, 2) for n, sku in enumerate(SKUS)
                         for place, on_hand, committed in ((MAIN, 10 + n, n), (SHOW, n, 0)))
    assert [p.cursor for p in pages[:-1]] == [None] and pages[-1].cursor  # page_size 2: 4 items, 2 pages
    calls = admin.requests_log("GET", "/inventory/v1/items")
    assert all(c["query"]["organization_id"] == DEFAULTS["organization_id"] for c in calls)
    assert [c["query"].get("page") for c in calls if c["path"].endswith("/items")] == ["1", "2"]
    assert len([c for c in calls if "/items/" in c["path"]]) == 3  # the service item's figures are not read


def test_an_organization_on_warehouses_reads_the_same(admin: Admin) -> None:
    admin.post("seed", {"reset": False, "warehouses": True, "items": [{"sku": "FUT-PIL", "stock": {MAIN: {
        "on_hand": 5, "committed": 1}}}]})
    got = {(r.sku, r.location_external_id): (r.on_hand, r.available) for r in records(connector(admin).fetch_stock(None))}
    assert got[("FUT-PIL", MAIN)] == (5, 4) and got[("FUT-PIL", SHOW)] == (0, 0)


def test_an_incremental_read_takes_what_changed_since_the_cursor_and_the_boundary_again(admin: Admin) -> None:
    admin.post("clock", {"freeze": True})
    admin.post("clock", {"advance_s": 5})
    admin.post("set_stock", {"sku": "FUT-FRM-OAK-QUEEN", "location": SHOW, "on_hand": 3})  # the newest: the cursor
    cursor = list(connector(admin).fetch_stock(None))[-1].cursor
    admin.post("clock", {"advance_s": 5})
    admin.post("set_stock", {"sku": "FUT-MAT-COT-FULL", "location": SHOW, "on_hand": 9})
    since = list(connector(admin).fetch_stock(cursor))
    changed = {(r.sku, r.location_external_id, r.on_hand) for r in records(since)}
    assert ("FUT-MAT-COT-FULL", SHOW, 9) in changed
    assert {sku for sku, _, _ in changed} == {"FUT-MAT-COT-FULL", "FUT-FRM-OAK-QUEEN"}  # the boundary second again
    sent = [c["query"] for c in admin.requests_log("GET", "/inventory/v1/items") if c["path"].endswith("/items")][-1][
        "last_modified_time"]
    assert sent.endswith("+0000") and since[-1].cursor > cursor
    assert list(connector(admin, location_ids=[SHOW]).fetch_stock(since[-1].cursor))[-1].cursor == since[-1].cursor


def test_one_token_serves_many_calls_and_a_401_takes_a_new_one_once(admin: Admin) -> None:
    list(connector(admin).fetch_stock(None))
    list(connector(admin).fetch_stock(None))
    assert admin.post("config", {})["token_requests"] == 1
    admin.post("config", {"expire_tokens": True})  # revoked in Zoho: refused 401, a new token, the call again
    assert len(records(connector(admin).fetch_stock(None))) == 6
    assert admin.post("config", {})["token_requests"] == 2


def test_a_refused_refresh_token_is_an_auth_error(admin: Admin) -> None:
    admin.post("config", {"refresh_token": "revoked"})
    with pytest.raises(AuthError, match="invalid_code"):
        list(connector(admin).fetch_stock(None))


def test_the_client_paces_itself_under_the_organizations_limit_and_retries_a_429(admin: Admin) -> None:
    sleeps: list[float] = []
    zoho = connector(admin, sleeps, frozen=True)  # time moves only by the waits the pacer asks for
    for _ in range(8):
        zoho.item(admin.ids["FUT-FRM-OAK-FULL"])
    assert sum(sleeps) >= (8 - 5) / 1.5 - 0.01  # a bucket of 5 leaking 1.5 a second: ≤ 95 a minute
    sleeps.clear()
    admin.post("faults", {"status": 429, "count": 1, "body": {"code": 44, "message": "too many requests"}})
    assert zoho.item(admin.ids["FUT-FRM-OAK-FULL"])["sku"] == "FUT-FRM-OAK-FULL"
    assert 60.0 in sleeps  # Zoho names no wait: the next minute's window
    admin.post("config", {"per_minute": 1})
    with pytest.raises(TransientError, match="44: You have made too many requests"):
        connector(admin, max_retries=1).item(admin.ids["FUT-FRM-OAK-FULL"])


def test_a_purchase_order_sent_twice_or_after_a_lost_answer_is_one_order(admin: Admin) -> None:
    admin.post("faults", {"status": 502, "after_apply": True, "method": "POST", "path_contains": "/purchaseorders"})
    with pytest.raises(TransientError):
        connector(admin).create_purchase_order(order())
    again, third = connector(admin).create_purchase_order(order()), connector(admin).create_purchase_order(order())
    [po] = admin.get("state/purchase_orders")["purchase_orders"]
    assert not again.created and not third.created and again.external_id == po["purchaseorder_id"]
    assert po["purchaseorder_number"] == po["reference_number"] == "PO-20250102-1"
    assert po["vendor_id"] == "4815000000000777" and po["delivery_date"] == "2025-01-23"
    assert [(line["item_id"], line["quantity"], line["rate"]) for line in po["line_items"]] == [
        (admin.ids["FUT-FRM-OAK-FULL"], 4, 189.5), (admin.ids["FUT-FRM-OAK-QUEEN"], 2, 210.0)]
    made = connector(admin).create_purchase_order(order("PO-20250102-2"))
    assert made.created and len(admin.get("state/purchase_orders")["purchase_orders"]) == 2


def test_a_cancelled_order_or_an_unknown_sku_is_refused(admin: Admin) -> None:
    connector(admin).create_purchase_order(order())
    admin.post("purchaseorders/cancel", {"reference_number": "PO-20250102-1"})
    with pytest.raises(PermanentError, match="was cancelled in Zoho"):
        connector(admin).create_purchase_order(order())
    bad = PurchaseOrderRequest(number="PO-3", vendor_ref="4815000000000777",
                               lines=[PurchaseOrderLineRequest(sku="NOPE", quantity=1, unit_cost_cents=100)])
    with pytest.raises(PermanentError, match="no item with SKU NOPE"):
        connector(admin).create_purchase_order(bad)


def test_the_backorder_status_is_the_items_check_box(admin: Admin) -> None:
    item_id = admin.ids["FUT-FRM-OAK-FULL"]
    result = connector(admin).write_backorder_status(ListingRef(sku="FUT-FRM-OAK-FULL", external_id=item_id), True)
    assert result.ok
    [item] = admin.get("state/items", skus="FUT-FRM-OAK-FULL")["items"]
    assert [(f["label"], f["value"]) for f in item["custom_fields"]] == [("Backorder Status", True)]
    connector(admin).write_backorder_status(ListingRef(sku="FUT-FRM-OAK-FULL", external_id=item_id), False)
    assert admin.get("state/items", skus="FUT-FRM-OAK-FULL")["items"][0]["custom_fields"][0]["value"] is False
    with pytest.raises(PermanentError, match="no custom field 'Stock flag'"):
        connector(admin, backorder_status_field="Stock flag").write_backorder_status(
            ListingRef(sku="FUT-FRM-OAK-FULL", external_id=item_id), True)


def test_a_workflow_webhook_is_accepted_once_with_the_secret_and_refused_without(admin: Admin,
                                                                                 webhook_receiver: Any) -> None:
    admin.post("webhooks", {"address": webhook_receiver.url, "headers": {SECRET_HEADER: SECRET}})
    admin.post("set_stock", {"sku": "FUT-FRM-OAK-QUEEN", "location": MAIN, "on_hand": 0})
    [delivery] = webhook_receiver.received
    zoho = connector(admin)
    zoho.verify_webhook(delivery.headers, delivery.body)
    event = zoho.parse_webhook(delivery.headers, delivery.body)
    assert event.kind == "sku_modified" and event.resource_ids == [f"item:{admin.ids['FUT-FRM-OAK-QUEEN']}"]
    assert zoho.parse_webhook(delivery.headers, delivery.body).dedupe_key == event.dedupe_key  # a retry: one event
    resolved = zoho.resolve_webhook(event)
    assert {(r.location_external_id, r.on_hand) for r in resolved.stock} == {(MAIN, 0), (SHOW, 1)}
    for headers in ({}, {SECRET_HEADER: "forged"}):
        with pytest.raises(SignatureError):
            zoho.verify_webhook(headers, delivery.body)
    body = json.dumps({"item": {"item_id": "1", "last_modified_time": "x"}}).encode()
    assert zoho.parse_webhook({}, body).dedupe_key != event.dedupe_key


def test_discovery_surveys_the_locations_and_counts_the_items(admin: Admin) -> None:
    from connectors import discovery

    found = discovery.survey(connector(admin))
    assert [(place.external_id, place.name) for place in found.locations] == [(MAIN, "Newark"), (SHOW, "Brooklyn")]
    assert found.items == 3 and "not services" in found.counted and found.missing == []


def test_connect_registers_nothing_in_zoho_and_names_the_webhook_to_set_up(admin: Admin) -> None:
    from connectors import subscriptions

    [named] = subscriptions.ensure(connector(admin), "https://backorders.example/webhooks/zoho-erp", SECRET, True)
    assert named.outcome == "to set up in Zoho" and named.address.endswith("/webhooks/zoho-erp")
    assert "zoho_inventory" in subscriptions.GENERATED_SECRET  # connect generates the header's secret
    assert admin.requests_log() == []  # Zoho has no API for workflow webhooks: nothing was asked


def test_an_item_deleted_between_the_list_and_its_detail_is_left_out(admin: Admin) -> None:
    zoho = connector(admin)
    event = zoho.parse_webhook({}, json.dumps({"item": {"item_id": admin.ids["FUT-FRM-OAK-FULL"]}}).encode())
    admin.post("items/delete", {"sku": "FUT-FRM-OAK-FULL"})
    assert zoho.resolve_webhook(event).stock == []  # deleted since: nothing, not a failure
    assert zoho.item_records(admin.ids["FUT-FRM-OAK-FULL"]) == []
    with pytest.raises(PermanentError):  # any other refusal still stops the read
        connector(admin, organization_id="1").item(admin.ids["FUT-FRM-OAK-QUEEN"])
