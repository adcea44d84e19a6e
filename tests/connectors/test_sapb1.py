"""SAP Business One against its Service Layer stand-in over real HTTP: the session (cookies,
renewal before the timeout, one re-login on a 401), stock per warehouse read in full and since a
cursor (the update date and time are two fields), purchase orders and purchase requests created
once however often they are sent, goods receipts read back, the backorder status written to the
item, the warehouses discovery lists, and the Service Layer's errors classified."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors import discovery
from connectors.errors import AuthError, PermanentError, TransientError
from connectors.registry import build_connector
from connectors.sapb1 import SapB1Connector
from connectors.types import ConnectorConfig, ListingRef, PurchaseOrderLineRequest, PurchaseOrderRequest
from sandbox.sapb1 import DEFAULTS

Admin = Any  # tests/connectors/conftest.py::Admin (conftest is not importable: no package here)
SKUS = ("FUT-FRM-OAK-FULL", "FUT-FRM-OAK-QUEEN", "FUT-MAT-COT-FULL", "FUT-CVR-NAVY")


@pytest.fixture
def admin(admin_for: Callable[[str, str], Admin]) -> Admin:
    company = admin_for("sap_b1", f"SBO{uuid.uuid4().hex[:8]}")
    company.post("seed", {
        "warehouses": [{"code": "01", "name": "Newark"}, {"code": "SHOW", "name": "Brooklyn showroom"}],
        "partners": [{"card_code": "kyoto-frames", "name": "Kyoto Frame Works"}],
        "item_fields": ["BackorderStatus"],
        "items": [{"sku": sku, "warehouses": {"01": {"in_stock": 10 + n, "committed": n, "ordered": 2},
                                              "SHOW": {"in_stock": n, "committed": 0}}}
                  for n, sku in enumerate(SKUS)] + [{"sku": "SVC-ASSEMBLY", "inventory": False}]})
    return company


def connector(admin: Admin, clock: Callable[[], float] | None = None, **options: Any) -> SapB1Connector:
    config = ConnectorConfig(store_key="sap-erp", base_url=admin.root, timeout_s=5.0, options={"page_size": 2, **options},
                             credentials={"company_db": DEFAULTS["company_db"], "username": DEFAULTS["username"],
                                          "password": DEFAULTS["password"]})
    built = build_connector("sap_b1", config, sleep=lambda _s: None, **({"clock": clock} if clock else {}))
    assert isinstance(built, SapB1Connector)
    return built


def logins(admin: Admin) -> list[int]:
    return [entry["status"] for entry in admin.requests_log("POST", "/Login")]


def order(number: str = "PO-20250102-1", vendor: str = "kyoto-frames") -> PurchaseOrderRequest:
    return PurchaseOrderRequest(number=number, vendor_ref=vendor, expected_date="2025-01-23", lines=[
        PurchaseOrderLineRequest(sku="FUT-FRM-OAK-FULL", quantity=4, unit_cost_cents=18950),
        PurchaseOrderLineRequest(sku="FUT-FRM-OAK-QUEEN", quantity=2, unit_cost_cents=21000)])


# --- stock ---------------------------------------------------------------------------------------


def test_a_full_read_gives_every_warehouse_of_every_inventory_item_page_by_page(admin: Admin) -> None:
    pages = list(connector(admin).fetch_stock(None))

    records = [record for page in pages for record in page.records]
    assert [(r.sku, r.location_external_id, r.on_hand, r.committed, r.available) for r in records] == [
        (sku, place, on_hand, committed, on_hand - committed)
        for n, sku in sorted(enumerate(SKUS), key=lambda pair: pair[1])
        for place, on_hand, committed in (("01", 10 + n, n), ("SHOW", n, 0))]
    # page_size 2 travels as Prefer: odata.maxpagesize=2 (the default page is 20): 4 items, 2 pages
    reads = admin.requests_log("GET", "/Items")
    assert len(pages) == 2 and [r["query"].get("$skip") for r in reads] == [None, "2"]
    assert "InventoryItem eq 'tYES'" in reads[0]["query"]["$filter"]  # the service item is not stock
    assert [page.cursor for page in pages[:-1]] == [None] and pages[-1].cursor == records[0].updated_at.strftime(
        "%Y-%m-%d %H:%M:%S")
    assert logins(admin) == [200]


def test_only_the_warehouses_named_are_read(admin: Admin) -> None:
    records = [r for page in connector(admin, location_ids=["SHOW"]).fetch_stock(None) for r in page.records]
    assert {r.location_external_id for r in records} == {"SHOW"} and len(records) == len(SKUS)


def clock_at(admin: Admin, hour: int, minute: int, second: int) -> datetime:
    """Move the frozen company clock forward to the next such wall-clock time."""
    now = datetime.strptime(admin.post("clock", {"freeze": True})["now"], "%Y-%m-%d %H:%M:%S")
    target = now.replace(hour=hour, minute=minute, second=second)
    target += timedelta(days=1) if target <= now else timedelta()
    return datetime.strptime(admin.post("clock", {"advance_s": (target - now).total_seconds()})["now"],
                             "%Y-%m-%d %H:%M:%S")


def test_an_incremental_read_takes_the_next_day_before_the_cursors_time_of_day(admin: Admin) -> None:
    """Date and time are two fields: a change at 00:00:05 the next day is newer than a cursor at
    23:59:50, though its time of day is smaller (``UpdateDate ge D and UpdateTime ge T`` loses it)."""
    evening = clock_at(admin, 23, 59, 40)
    admin.post("seed", {"reset": False, "items": [{"sku": "FUT-PIL-1"}, {"sku": "FUT-PIL-2"}, {"sku": "FUT-PIL-3"}]})
    admin.post("clock", {"advance_s": 10})
    admin.post("set_stock", {"sku": "FUT-PIL-1", "warehouse": "01", "in_stock": 7})   # 23:59:50, the newest
    full = list(connector(admin).fetch_stock(None))
    cursor = full[-1].cursor
    assert cursor == (evening + timedelta(seconds=10)).strftime("%Y-%m-%d %H:%M:%S")

    admin.post("clock", {"advance_s": 3})
    admin.post("set_stock", {"sku": "FUT-PIL-2", "warehouse": "01", "in_stock": 4})   # 23:59:53, same day
    admin.post("clock", {"advance_s": 12})
    admin.post("set_stock", {"sku": "FUT-FRM-OAK-FULL", "warehouse": "SHOW", "in_stock": 1})  # 00:00:05, next day

    since = list(connector(admin).fetch_stock(cursor))
    changed = {(r.sku, r.location_external_id, r.on_hand) for page in since for r in page.records}
    assert {sku for sku, _, _ in changed} == {"FUT-PIL-1", "FUT-PIL-2", "FUT-FRM-OAK-FULL"}  # the boundary re-read
    assert ("FUT-FRM-OAK-FULL", "SHOW", 1) in changed and ("FUT-PIL-2", "01", 4) in changed
    assert since[-1].cursor == (evening + timedelta(seconds=25)).strftime("%Y-%m-%d %H:%M:%S")
    assert list(connector(admin).fetch_stock(since[-1].cursor))[-1].cursor == since[-1].cursor  # nothing newer


# --- the session ---------------------------------------------------------------------------------


def test_both_cookies_go_back_and_one_session_serves_many_calls_and_connectors(admin: Admin) -> None:
    list(connector(admin).fetch_stock(None))
    list(connector(admin).fetch_stock(None))  # a second task in the same worker process
    assert logins(admin) == [200]
    assert {entry["status"] for entry in admin.requests_log("GET", "/Items")} == {200}
    admin.post("config", {"route": ".node2"})  # the session lives on another node now: ROUTEID counts
    list(connector(admin).fetch_stock(None))
    assert logins(admin) == [200, 200]


def test_an_expired_session_is_logged_in_again_once_and_the_call_repeated(admin: Admin) -> None:
    sap = connector(admin)
    list(sap.fetch_stock(None))
    admin.post("clock", {"advance_s": 31 * 60})  # idle past SessionTimeout (30 min); our clock did not move

    assert len([r for page in sap.fetch_stock(None) for r in page.records]) == 2 * len(SKUS)
    assert logins(admin) == [200, 200]
    first_page = [entry["status"] for entry in admin.requests_log("GET", "/Items")][-3:]
    assert first_page == [401, 200, 200]  # refused once, repeated after the new login, then page two


def test_a_second_refusal_after_logging_in_again_is_an_auth_error_not_a_loop(admin: Admin) -> None:
    sap = connector(admin)
    list(sap.fetch_stock(None))
    admin.post("clock", {"advance_s": 31 * 60})
    admin.post("config", {"password": "rotated"})
    with pytest.raises(AuthError, match="100000027: Login failed"):
        list(sap.fetch_stock(None))
    assert logins(admin) == [200, 401]


def test_the_session_is_renewed_before_it_times_out(admin: Admin) -> None:
    admin.post("config", {"session_timeout": 1})
    now = [1000.0]
    sap = connector(admin, clock=lambda: now[0])
    list(sap.fetch_stock(None))
    now[0] += 50  # a minute's session, renewed 6 s before its end: not yet
    list(sap.fetch_stock(None))
    assert logins(admin) == [200]
    now[0] += 5
    list(sap.fetch_stock(None))
    assert logins(admin) == [200, 200]
    assert 401 not in {entry["status"] for entry in admin.requests_log("GET", "/Items")}


def test_wrong_credentials_are_an_auth_error_with_the_service_layers_message(admin: Admin) -> None:
    admin.post("config", {"password": "changed"})
    with pytest.raises(AuthError, match="Login failed"):
        list(connector(admin).fetch_stock(None))


# --- purchase orders and requests ----------------------------------------------------------------


def test_a_purchase_order_sent_twice_is_one_document_carrying_our_number(admin: Admin) -> None:
    first = connector(admin).create_purchase_order(order())
    second = connector(admin).create_purchase_order(order())

    assert first.created and not second.created and second.external_id == first.external_id
    [doc] = admin.get("state/documents/PurchaseOrders")["documents"]
    assert doc["DocEntry"] == int(first.external_id) and doc["NumAtCard"] == "PO-20250102-1"
    assert doc["CardCode"] == "kyoto-frames" and doc["DocDueDate"] == "2025-01-23"
    assert "PO-20250102-1" in doc["Comments"]
    assert [(line["ItemCode"], line["Quantity"], line["UnitPrice"]) for line in doc["DocumentLines"]] == [
        ("FUT-FRM-OAK-FULL", 4, 189.5), ("FUT-FRM-OAK-QUEEN", 2, 210.0)]


def test_a_create_whose_answer_was_lost_is_found_by_the_retry(admin: Admin) -> None:
    admin.post("faults", {"status": 502, "after_apply": True, "method": "POST", "path_contains": "/PurchaseOrders"})
    with pytest.raises(TransientError):
        connector(admin).create_purchase_order(order())
    retried = connector(admin).create_purchase_order(order())

    assert not retried.created
    assert len(admin.get("state/documents/PurchaseOrders")["documents"]) == 1
    assert [e["status"] for e in admin.requests_log("POST", "/PurchaseOrders")] == [502]


def test_a_purchase_order_cancelled_in_sap_is_refused_not_made_again(admin: Admin) -> None:
    made = connector(admin).create_purchase_order(order())
    admin.post("documents/cancel", {"collection": "PurchaseOrders", "doc_entry": int(made.external_id)})
    with pytest.raises(PermanentError, match="was cancelled in SAP"):
        connector(admin).create_purchase_order(order())
    assert len(admin.get("state/documents/PurchaseOrders")["documents"]) == 1


def test_an_unknown_vendor_is_refused_with_sap_s_message(admin: Admin) -> None:
    with pytest.raises(PermanentError, match="-10: Invalid BP code 'nobody'") as refused:
        connector(admin).create_purchase_order(order(vendor="nobody"))
    assert refused.value.status_code == 400 and not isinstance(refused.value, TransientError)


def test_purchase_requests_are_created_once_and_received_through_the_order_made_from_them(admin: Admin) -> None:
    sap = connector(admin, purchase_document="request")
    first, second = sap.create_purchase_order(order()), sap.create_purchase_order(order())
    assert first.created and not second.created
    assert admin.get("state/documents/PurchaseOrders")["documents"] == []
    [request] = admin.get("state/documents/PurchaseRequests")["documents"]
    assert request["NumAtCard"] == "PO-20250102-1" and request["RequriedDate"] == "2025-01-23"
    assert {line["LineVendor"] for line in request["DocumentLines"]} == {"kyoto-frames"}

    assert [line.received for line in sap.fetch_receipts(["PO-20250102-1"])] == [0, 0]
    made = admin.post("purchase_requests/order", {"num_at_card": "PO-20250102-1"})["order"]
    admin.post("purchase_orders/receive", {"doc_entry": made["DocEntry"], "lines": {"FUT-FRM-OAK-QUEEN": 1}})
    assert [(line.sku, line.ordered, line.received) for line in sap.fetch_receipts(["PO-20250102-1"])] == [
        ("FUT-FRM-OAK-FULL", 4, 0), ("FUT-FRM-OAK-QUEEN", 2, 1)]


# --- goods receipts ------------------------------------------------------------------------------


def test_goods_receipts_add_up_per_line_and_a_cancelled_one_does_not_count(admin: Admin) -> None:
    sap = connector(admin)
    sap.create_purchase_order(order())
    sap.create_purchase_order(order("PO-20250102-2"))
    admin.post("purchase_orders/receive", {"num_at_card": "PO-20250102-1", "lines": {"FUT-FRM-OAK-FULL": 1}})
    second = admin.post("purchase_orders/receive", {"num_at_card": "PO-20250102-1", "lines": {"FUT-FRM-OAK-FULL": 2}})
    admin.post("purchase_orders/receive", {"num_at_card": "PO-20250102-2"})
    lines = {(line.po_number, line.sku): (line.ordered, line.received)
             for line in sap.fetch_receipts(["PO-20250102-1", "PO-20250102-2", "PO-UNKNOWN"])}
    assert lines == {("PO-20250102-1", "FUT-FRM-OAK-FULL"): (4, 3), ("PO-20250102-1", "FUT-FRM-OAK-QUEEN"): (2, 0),
                     ("PO-20250102-2", "FUT-FRM-OAK-FULL"): (4, 4), ("PO-20250102-2", "FUT-FRM-OAK-QUEEN"): (2, 2)}

    admin.post("documents/cancel", {"collection": "PurchaseDeliveryNotes",
                                    "doc_entry": second["receipt"]["DocEntry"]})
    assert {(line.po_number, line.sku): line.received for line in sap.fetch_receipts(["PO-20250102-1"])} == {
        ("PO-20250102-1", "FUT-FRM-OAK-FULL"): 1, ("PO-20250102-1", "FUT-FRM-OAK-QUEEN"): 0}
    assert sap.fetch_receipts([]) == []


# --- backorder status, discovery, errors ---------------------------------------------------------


def test_the_backorder_status_is_written_to_the_items_user_field(admin: Admin) -> None:
    sap = connector(admin)
    on = sap.write_backorder_status(ListingRef(sku="FUT-FRM-OAK-FULL", external_id="FUT-FRM-OAK-FULL"), True)
    assert on.ok and on.status_code == 204 and on.request == {"U_BackorderStatus": "Y"}
    assert admin.item("FUT-FRM-OAK-FULL")["U_BackorderStatus"] == "Y"
    sap.write_backorder_status(ListingRef(sku="FUT-FRM-OAK-FULL", external_id="FUT-FRM-OAK-FULL"), False)
    assert admin.item("FUT-FRM-OAK-FULL")["U_BackorderStatus"] == "N"
    assert admin.item("FUT-FRM-OAK-QUEEN")["U_BackorderStatus"] is None
    [patch, *_] = admin.requests_log("PATCH")
    assert patch["path"].endswith("/Items('FUT-FRM-OAK-FULL')")


def test_without_the_user_field_the_refusal_says_how_to_create_it_and_userfieldsmd_does(admin: Admin) -> None:
    admin.post("seed", {"items": [{"sku": "FUT-FRM-OAK-FULL"}]})  # a company without the field
    sap = connector(admin)
    listing = ListingRef(sku="FUT-FRM-OAK-FULL", external_id="FUT-FRM-OAK-FULL")
    with pytest.raises(PermanentError, match="Property 'U_BackorderStatus' of 'Item' is invalid.*User-Defined Fields"):
        sap.write_backorder_status(listing, True)
    sap.request("POST", "UserFieldsMD", json_body={"TableName": "OITM", "Name": "BackorderStatus", "Type": "db_Alpha",
                                                   "Size": 1, "Description": "Backorder status"})
    assert sap.write_backorder_status(listing, True).ok
    assert admin.item("FUT-FRM-OAK-FULL")["U_BackorderStatus"] == "Y"


def test_discovery_lists_the_warehouses_and_counts_inventory_items(admin: Admin) -> None:
    found = discovery.survey(connector(admin))
    assert [(place.external_id, place.name, place.active) for place in found.locations] == [
        ("01", "Newark", True), ("SHOW", "Brooklyn showroom", True)]
    assert found.items == len(SKUS) and "InventoryItem" in found.counted and found.missing == []


def test_a_server_error_on_a_read_is_retried_and_a_bad_option_is_refused_up_front(admin: Admin) -> None:
    admin.post("faults", {"status": 503, "count": 1, "path_contains": "/Items"})
    assert len([r for page in connector(admin).fetch_stock(None) for r in page.records]) == 2 * len(SKUS)
    with pytest.raises(ValueError, match="purchase_document: expected one of order, request"):
        connector(admin, purchase_document="po")
