"""Odoo stock per location over JSON-RPC and JSON-2, and the automation rule's webhooks, against the stand-in."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from connectors.errors import AuthError, SignatureError
from connectors.odoo import OdooConnector
from connectors.registry import build_connector, store_problems
from connectors.signing import QUERY_HEADER
from connectors.types import ConnectorConfig, StockRecord
from sandbox.odoo import DEFAULTS

Admin = Any  # tests/connectors/conftest.py::Admin
SECRET = "odoo-hook-secret"


@pytest.fixture(params=["18.0", "19.0"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def admin(admin_for: Callable[[str, str], Admin], version: str) -> Admin:
    instance = admin_for("odoo", f"odoo-{uuid.uuid4().hex[:8]}")
    instance.post("seed", {"version": version, "warehouses": [{"name": "Main", "code": "WH"},
                                                              {"name": "Annex", "code": "AX"}],
                           "products": [{"default_code": "FUT-OAK", "name": "Oak frame"},
                                        {"default_code": "FUT-PINE", "name": "Pine frame"},
                                        {"name": "No code"}]})
    instance.post("quants", {"quants": [
        {"default_code": "FUT-OAK", "location": "WH/Stock", "quantity": 10, "reserved": 3},
        {"default_code": "FUT-OAK", "location": "WH/Stock", "quantity": 2, "lot": "LOT-2"},
        {"default_code": "FUT-PINE", "location": "AX/Stock", "quantity": 5}]})
    return instance


def connector(admin: Admin, version: str, **options: Any) -> OdooConnector:
    config = ConnectorConfig(store_key="odoo-erp", base_url=admin.root, credentials=dict(DEFAULTS),
                             webhook_secret=SECRET, options={"version": version, "page_size": 1, **options},
                             timeout_s=5.0)
    built = build_connector("odoo", config, sleep=lambda _s: None)
    assert isinstance(built, OdooConnector)
    return built


def figures(records: list[StockRecord]) -> dict[tuple[str | None, str | None], tuple[int | None, ...]]:
    return {(r.sku, r.location_external_id): (r.on_hand, r.committed, r.available) for r in records}




def test_full_read_sums_quants_per_internal_location_and_reports_zeroes(admin: Admin, version: str) -> None:
    odoo = connector(admin, version)
    pages = list(odoo.fetch_stock(None))
    wh, ax = [str(p) for p in odoo.places()]
    assert len(pages) == 2 and pages[0].cursor is None and pages[-1].cursor  # products a page each, cursor last
    assert figures([r for page in pages for r in page.records]) == {
        ("FUT-OAK", wh): (12, 3, 9), ("FUT-OAK", ax): (0, 0, 0),
        ("FUT-PINE", wh): (0, 0, 0), ("FUT-PINE", ax): (5, 0, 5)}
    paths = [r["path"] for r in admin.requests_log("POST")]
    if version == "19.0":  # JSON-2 from 19 on, the API key as a bearer token
        assert all("/json/2/" in p for p in paths) and any(p.endswith("/json/2/stock.quant/search_read") for p in paths)
    else:
        assert all(p.endswith("/jsonrpc") for p in paths)


def test_incremental_read_takes_the_products_whose_quants_changed(admin: Admin, version: str) -> None:
    odoo = connector(admin, version)
    cursor = [page.cursor for page in odoo.fetch_stock(None)][-1]
    assert [r for page in odoo.fetch_stock(cursor) for r in page.records]  # the boundary second is read again
    admin.post("quants", {"quants": [{"default_code": "FUT-PINE", "location": "WH/Stock", "quantity": 4}]})
    later = list(odoo.fetch_stock(cursor))
    records = [r for page in later for r in page.records]
    wh, ax = [str(p) for p in odoo.places()]
    assert figures(records)[("FUT-PINE", wh)] == (4, 0, 4) and figures(records)[("FUT-PINE", ax)] == (5, 0, 5)
    assert later[-1].cursor and later[-1].cursor >= str(cursor)


def test_json2_refuses_a_wrong_key_as_an_auth_error(admin: Admin, version: str) -> None:
    config = ConnectorConfig(store_key="odoo-erp", base_url=admin.root, credentials={**DEFAULTS, "api_key": "nope"},
                             options={"version": version}, timeout_s=5.0)
    with pytest.raises(AuthError, match="Invalid apikey" if version == "19.0" else "authentication refused"):
        list(build_connector("odoo", config, sleep=lambda _s: None).fetch_stock(None))


def test_an_older_server_has_no_json2(admin: Admin, version: str) -> None:
    if version == "19.0":
        pytest.skip("the 19 server serves it")
    with pytest.raises(Exception, match="404"):
        list(connector(admin, version, api="json2").fetch_stock(None))


def test_automation_webhook_in_the_address_is_accepted_and_resolved(admin: Admin, version: str,
                                                                    webhook_receiver: Any) -> None:
    admin.post("automation", {"url": f"{webhook_receiver.url}?token={SECRET}",
                              "fields": ["location_id", "product_id", "quantity"]})
    admin.post("quants", {"quants": [{"default_code": "FUT-OAK", "location": "AX/Stock", "quantity": 7}]})
    [delivery] = webhook_receiver.received
    odoo = connector(admin, version)
    headers = {**delivery.headers, QUERY_HEADER: f"token={SECRET}"}
    odoo.verify_webhook(headers, delivery.body)
    event = odoo.parse_webhook(headers, delivery.body)
    assert event.kind == "inventory_update" and not event.stock and odoo.thin_webhooks
    again = odoo.parse_webhook(headers, delivery.body)
    assert again.dedupe_key == event.dedupe_key  # a repeated delivery is the same event
    resolved = odoo.resolve_webhook(event)
    ax = str(odoo.places()[1])
    assert figures(resolved.stock) == {("FUT-OAK", ax): (7, 0, 7)}


def test_a_quant_outside_the_internal_locations_names_nothing(admin: Admin, version: str) -> None:
    odoo = connector(admin, version)
    outside = max(odoo.places()) + 100  # a customer or vendor location a transfer also wrote
    body = json.dumps({"_id": 9, "_model": "stock.quant", "product_id": 1, "location_id": outside, "quantity": 1})
    headers = {QUERY_HEADER: f"token={SECRET}"}
    resolved = odoo.resolve_webhook(odoo.parse_webhook(headers, body.encode()))
    assert resolved.stock == [] and resolved.resource_ids == []


def test_forged_or_unsigned_deliveries_are_refused(admin: Admin, version: str) -> None:
    odoo = connector(admin, version)
    body = json.dumps({"_id": 1, "_model": "stock.quant", "product_id": 1, "location_id": 2, "quantity": 99}).encode()
    for headers in ({}, {QUERY_HEADER: "token=guess"}, {QUERY_HEADER: ""}, {"X-Odoo-Webhook-Token": "guess"}):
        with pytest.raises(SignatureError):
            odoo.verify_webhook(headers, body)
    odoo.verify_webhook({"X-Odoo-Webhook-Token": SECRET}, body)  # a proxy's header is accepted too


def test_config_check_accepts_the_options_and_names_a_bad_one() -> None:
    assert store_problems("odoo", {"options": {"version": "19.0", "api": "json2",
                                               "webhooks": {"signature_param": "key"}}}) == []
    assert [key for key, _ in store_problems("odoo", {"options": {"api": "xmlrpc"}})] == ["options.api"]


def test_purchase_orders_and_receipts_over_json2(admin_for: Callable[[str, str], Admin]) -> None:
    from connectors.types import PurchaseOrderLineRequest, PurchaseOrderRequest

    instance = admin_for("odoo", f"odoo-{uuid.uuid4().hex[:8]}")
    instance.post("seed", {"version": "19.0", "partners": [{"name": "Kyoto Frame Works", "ref": "kyoto"}],
                           "products": [{"default_code": "FUT-OAK", "name": "Oak frame"}]})
    odoo = connector(instance, "19.0")
    po = PurchaseOrderRequest(number="PO-9", vendor_ref="kyoto", expected_date="2026-01-10",
                              lines=[PurchaseOrderLineRequest(sku="FUT-OAK", quantity=3, unit_cost_cents=1000)])
    first, again = odoo.create_purchase_order(po), odoo.create_purchase_order(po)
    assert first.created and not again.created and again.external_id == first.external_id
    [made] = instance.purchase_orders()
    assert made["state"] == "purchase" and made["partner_ref"] == "PO-9"
    instance.post("purchase_orders/receive", {"partner_ref": "PO-9", "lines": {"FUT-OAK": 2}})
    assert [(r.sku, r.ordered, r.received) for r in odoo.fetch_receipts(["PO-9"])] == [("FUT-OAK", 3, 2)]
    paths = {r["path"].rsplit("/json/2/", 1)[-1] for r in instance.requests_log("POST") if "/json/2/" in r["path"]}
    assert {"purchase.order/create", "purchase.order/button_confirm", "purchase.order.line/search_read"} <= paths
    assert not [r for r in instance.requests_log("POST") if r["path"].endswith("/jsonrpc")]
