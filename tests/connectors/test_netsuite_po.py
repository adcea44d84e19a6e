"""NetSuite purchase orders against the NetSuite stand-in (real TBA, REST record service)."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from connectors.errors import AuthError, PermanentError
from connectors.netsuite import NetSuiteConnector
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, PurchaseOrderLineRequest, PurchaseOrderRequest
from sandbox.netsuite import DEFAULTS

Admin = Any  # tests/connectors/conftest.py::Admin (conftest is not importable: no package here)


@pytest.fixture
def admin(admin_for: Callable[[str, str], Admin]) -> Admin:
    account = admin_for("netsuite", f"{uuid.uuid4().int % 10**7}_SB1")
    seeded = account.post("seed", {"locations": 1, "vendors": [{"external_id": "kyoto-frames", "name": "Kyoto"}],
                                   "items": [{"sku": "FUT-FRM-OAK-FULL", "on_hand": 1},
                                             {"sku": "FUT-FRM-WAL-FULL", "on_hand": 0}]})
    account.vendor_id = seeded["vendors"][0]["id"]  # type: ignore[attr-defined]
    account.item_ids = {i["sku"]: i["item_id"] for i in seeded["items"]}  # type: ignore[attr-defined]
    return account


def connector(admin: Admin, **credentials: str) -> NetSuiteConnector:
    config = ConnectorConfig(store_key="netsuite-erp", base_url=admin.root,
                             credentials={"account_id": admin.instance, **DEFAULTS, **credentials}, timeout_s=5.0)
    built = build_connector("netsuite", config, sleep=lambda _s: None)
    assert isinstance(built, NetSuiteConnector)
    return built


def order(number: str = "PO-20250101-7", vendor: str = "kyoto-frames") -> PurchaseOrderRequest:
    return PurchaseOrderRequest(number=number, vendor_ref=vendor, lines=[
        PurchaseOrderLineRequest(sku="FUT-FRM-OAK-FULL", quantity=4, unit_cost_cents=18950),
        PurchaseOrderLineRequest(sku="FUT-FRM-WAL-FULL", quantity=1, unit_cost_cents=20001),
    ])


def test_create_then_create_again_leaves_one_purchase_order(admin: Admin) -> None:
    first = connector(admin).create_purchase_order(order())
    second = connector(admin).create_purchase_order(order())

    assert first.created and not second.created and second.external_id == first.external_id
    [po] = admin.purchase_orders()
    assert po["id"] == first.external_id and po["externalId"] == "PO-20250101-7" and po["memo"] == "PO-20250101-7"
    assert po["entity"] == {"id": admin.vendor_id}  # type: ignore[attr-defined]
    assert [(line["item"]["id"], line["quantity"], line["rate"]) for line in po["item"]["items"]] == [
        (admin.item_ids["FUT-FRM-OAK-FULL"], 4, 189.5), (admin.item_ids["FUT-FRM-WAL-FULL"], 1, 200.01)]  # type: ignore[attr-defined]
    assert po["writes"] == 1
    [put] = admin.requests_log("PUT", "purchaseOrder")
    assert put["status"] == 204 and put["query"] == {"replace": "item"} and "eid:PO-20250101-7" in put["path"]


def test_upsert_racing_past_the_lookup_updates_instead_of_duplicating(admin: Admin) -> None:
    """Two senders both saw 404; the second PUT meets the same external id: still one record."""
    odoo_like_race = connector(admin)
    body = odoo_like_race.purchase_order_body(order())
    for _ in range(2):
        response = odoo_like_race.request("PUT", "record/v1/purchaseOrder/eid:PO-RACE", params={"replace": "item"},
                                          json_body=body)
        assert response.status_code == 204 and response.headers["Location"].rsplit("/", 1)[1].isdigit()
    [po] = admin.purchase_orders()
    assert po["writes"] == 2 and len(po["item"]["items"]) == 2


def test_auth_failure_is_an_auth_error(admin: Admin) -> None:
    with pytest.raises(AuthError, match="INVALID_LOGIN"):
        connector(admin, token_secret="wrong").create_purchase_order(order())
    assert admin.purchase_orders() == []


def test_unknown_vendor_is_refused_naming_the_external_id(admin: Admin) -> None:
    with pytest.raises(PermanentError, match="no vendor with external id 'nobody'"):
        connector(admin).create_purchase_order(order(vendor="nobody"))
    with pytest.raises(PermanentError, match="not a valid external id"):
        connector(admin).create_purchase_order(order(number="PO|1"))
    assert admin.purchase_orders() == []


def test_invalid_reference_answers_netsuites_400(admin: Admin) -> None:
    ns = connector(admin)
    with pytest.raises(PermanentError, match="INVALID_CONTENT: .*Invalid Field Value 9999 for the following field: item"):
        ns.request("POST", "record/v1/purchaseOrder", json_body={
            "entity": {"id": admin.vendor_id}, "item": {"items": [{"item": {"id": "9999"}, "quantity": 1}]}})  # type: ignore[attr-defined]


def test_get_by_external_id_and_404(admin: Admin) -> None:
    ns = connector(admin)
    assert ns.find_purchase_order("PO-NONE") is None
    created = ns.create_purchase_order(order())
    assert ns.find_purchase_order("PO-20250101-7") == created.external_id
    record = ns.get_json(f"record/v1/purchaseOrder/{created.external_id}")
    assert record["externalId"] == "PO-20250101-7" and "items" not in record["item"]


def test_receipts_are_read_from_the_po_lines_with_suiteql(admin: Admin) -> None:
    client = connector(admin)
    client.create_purchase_order(order())
    assert [(r.po_number, r.sku, r.ordered, r.received) for r in client.fetch_receipts(["PO-20250101-7"])] == [
        ("PO-20250101-7", "FUT-FRM-OAK-FULL", 4, 0), ("PO-20250101-7", "FUT-FRM-WAL-FULL", 1, 0)]

    receipt = admin.post("purchase_orders/receive", {"external_id": "PO-20250101-7",
                                                     "lines": {"FUT-FRM-OAK-FULL": 3}})
    assert receipt["status"] == "Partially Received"
    assert [(r.sku, r.received) for r in client.fetch_receipts(["PO-20250101-7", "PO-NONE"])] == [
        ("FUT-FRM-OAK-FULL", 3), ("FUT-FRM-WAL-FULL", 0)]
    # The item receipt moved the goods in, as NetSuite's does: on hand 1 + 3.
    [item] = admin.get("state/items", skus="FUT-FRM-OAK-FULL")["items"]
    assert sum(level["on_hand"] for level in item["locations"].values()) == 4
    query = str(admin.requests_log("POST", "suiteql")[-1]["body"])
    assert "tl.mainline = 'F'" in query and "quantityshiprecv" in query and "t.type = 'PurchOrd'" in query
