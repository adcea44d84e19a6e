"""Odoo connector against the Odoo stand-in (JSON-RPC over real HTTP): POs created once."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from connectors.errors import AuthError, PermanentError, TransientError
from connectors.odoo import OdooConnector
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, ListingRef, PurchaseOrderLineRequest, PurchaseOrderRequest
from sandbox.odoo import DEFAULTS

Admin = Any  # tests/connectors/conftest.py::Admin (conftest is not importable: no package here)


@pytest.fixture
def admin(admin_for: Callable[[str, str], Admin]) -> Admin:
    instance = admin_for("odoo", f"odoo-{uuid.uuid4().hex[:8]}")
    instance.post("seed", {"partners": [{"name": "Kyoto Frame Works", "ref": "kyoto-frames"}],
                           "products": [{"default_code": "FUT-FRM-OAK-FULL", "name": "Oak frame, full"},
                                        {"default_code": "FUT-FRM-OAK-QUEEN", "name": "Oak frame, queen"}]})
    return instance


def connector(admin: Admin, **credentials: str) -> OdooConnector:
    config = ConnectorConfig(store_key="odoo-erp", base_url=admin.root, credentials={**DEFAULTS, **credentials},
                             timeout_s=5.0)
    built = build_connector("odoo", config, sleep=lambda _s: None)
    assert isinstance(built, OdooConnector)
    return built


def order(number: str = "PO-20250101-7", vendor: str = "kyoto-frames", sku: str = "FUT-FRM-OAK-FULL") -> PurchaseOrderRequest:
    return PurchaseOrderRequest(number=number, vendor_ref=vendor, expected_date="2025-02-01", lines=[
        PurchaseOrderLineRequest(sku=sku, quantity=4, unit_cost_cents=18950, title="Oak frame, full"),
        PurchaseOrderLineRequest(sku="FUT-FRM-OAK-QUEEN", quantity=2, unit_cost_cents=21000,
                                 expected_date="2025-02-10"),
    ])


def test_create_then_create_again_leaves_one_confirmed_order(admin: Admin) -> None:
    first = connector(admin).create_purchase_order(order())
    second = connector(admin).create_purchase_order(order())

    assert first.created and not second.created
    assert second.external_id == first.external_id
    [po] = admin.purchase_orders()
    assert po["partner_ref"] == "PO-20250101-7" and po["origin"] == "PO-20250101-7"
    assert po["partner_id"][1] == "Kyoto Frame Works" and po["state"] == "purchase"
    assert po["amount_total"] == pytest.approx(4 * 189.50 + 2 * 210.00)
    lines = {line["product_id"][1]: line for line in po["lines"]}
    assert lines["Oak frame, full"]["product_qty"] == 4 and lines["Oak frame, full"]["price_unit"] == 189.5
    assert lines["Oak frame, full"]["date_planned"] == "2025-02-01 00:00:00"
    assert lines["Oak frame, queen"]["date_planned"] == "2025-02-10 00:00:00"


def test_wrong_api_key_is_an_auth_error(admin: Admin) -> None:
    with pytest.raises(AuthError, match="authentication refused"):
        connector(admin, api_key="wrong").create_purchase_order(order())
    assert admin.purchase_orders() == []


def test_key_revoked_after_login_is_access_denied(admin: Admin) -> None:
    odoo = connector(admin)
    odoo.uid()
    admin.post("seed", {"reset": False, "api_key": "rotated"})
    with pytest.raises(AuthError, match="Access Denied"):
        odoo.create_purchase_order(order())


def test_rpc_error_is_permanent_with_odoos_message(admin: Admin) -> None:
    odoo = connector(admin)
    with pytest.raises(PermanentError) as raised:
        odoo.execute_kw("purchase.order", "create", [{"partner_id": 999, "order_line": []}], safe=False)
    assert "Record does not exist or has been deleted" in str(raised.value)
    assert "odoo.exceptions.MissingError" in str(raised.value)
    assert not isinstance(raised.value, (AuthError, TransientError))


def test_unknown_vendor_or_sku_is_refused_before_anything_is_created(admin: Admin) -> None:
    with pytest.raises(PermanentError, match="no partner with reference 'nobody'"):
        connector(admin).create_purchase_order(order(vendor="nobody"))
    with pytest.raises(PermanentError, match="NOPE-1"):
        connector(admin).create_purchase_order(order(sku="NOPE-1"))
    assert admin.purchase_orders() == []


def test_http_503_is_transient_and_reads_are_retried(admin: Admin) -> None:
    admin.post("faults", {"status": 503, "count": 1})
    result = connector(admin).create_purchase_order(order())
    assert result.created and len(admin.purchase_orders()) == 1

    admin.post("faults", {"status": 503, "count": 10})
    with pytest.raises(TransientError):
        connector(admin).create_purchase_order(order(number="PO-2"))


def test_writing_stock_is_refused_clearly(admin: Admin) -> None:
    with pytest.raises(PermanentError, match="odoo is not a sales channel"):
        connector(admin).push_availability(ListingRef(sku="FUT-FRM-OAK-FULL", external_id="1"), 3, False)


def test_receipts_are_read_per_line_as_running_totals(admin: Admin) -> None:
    client = connector(admin)
    client.create_purchase_order(order())
    client.create_purchase_order(order(number="PO-20250101-8"))
    assert {(r.po_number, r.sku, r.ordered, r.received) for r in client.fetch_receipts(["PO-20250101-7"])} == {
        ("PO-20250101-7", "FUT-FRM-OAK-FULL", 4, 0), ("PO-20250101-7", "FUT-FRM-OAK-QUEEN", 2, 0)}

    admin.post("purchase_orders/receive", {"partner_ref": "PO-20250101-7", "lines": {"FUT-FRM-OAK-FULL": 3}})
    admin.post("purchase_orders/receive", {"partner_ref": "PO-20250101-8"})  # everything
    receipts = client.fetch_receipts(["PO-20250101-7", "PO-20250101-8", "PO-UNKNOWN"])
    assert sorted((r.po_number, r.sku, r.received) for r in receipts) == [
        ("PO-20250101-7", "FUT-FRM-OAK-FULL", 3), ("PO-20250101-7", "FUT-FRM-OAK-QUEEN", 0),
        ("PO-20250101-8", "FUT-FRM-OAK-FULL", 4), ("PO-20250101-8", "FUT-FRM-OAK-QUEEN", 2)]
    assert client.fetch_receipts([]) == []



def _calls(admin: Admin, method: str) -> int:
    """How many ``purchase.order`` calls of ``method`` reached the stand-in."""
    return sum(1 for r in admin.get("requests")["requests"]
               if ((r.get("body") or {}).get("params") or {}).get("args", [])[3:5] == ["purchase.order", method])


@pytest.mark.parametrize("lost", [{"status": 502}, {"delay_s": 1.5}], ids=["proxy-502", "read-timeout"])
def test_lost_create_reply_is_finished_by_the_retry(admin: Admin, lost: dict[str, Any]) -> None:
    """``create`` applied, its answer lost: the retry finds the draft by ``partner_ref`` and confirms it."""
    admin.post("faults", {"call": "purchase.order.create", "after_apply": True, **lost})
    config = ConnectorConfig(store_key="odoo-erp", base_url=admin.root, credentials=dict(DEFAULTS), timeout_s=1.0)
    with pytest.raises(TransientError):
        build_connector("odoo", config, sleep=lambda _s: None).create_purchase_order(order())
    [draft] = admin.purchase_orders()
    assert draft["state"] == "draft", "the first attempt stopped between create and button_confirm"

    retry = connector(admin).create_purchase_order(order())

    assert not retry.created and retry.external_id == str(draft["id"])
    assert "confirmed it" in retry.detail
    [po] = admin.purchase_orders()
    assert po["state"] == "purchase" and po["id"] == draft["id"], "one PO, confirmed"
    assert _calls(admin, "create") == 1, "never created twice"


def test_lost_confirm_reply_leaves_the_confirmed_po_alone(admin: Admin) -> None:
    admin.post("faults", {"call": "purchase.order.button_confirm", "after_apply": True, "status": 502})
    with pytest.raises(TransientError):
        connector(admin).create_purchase_order(order())
    retry = connector(admin).create_purchase_order(order())
    [po] = admin.purchase_orders()
    assert po["state"] == "purchase" and not retry.created and "exists (purchase)" in retry.detail
    assert _calls(admin, "button_confirm") == 1 and _calls(admin, "create") == 1


def test_a_po_cancelled_in_odoo_is_refused_not_confirmed(admin: Admin) -> None:
    admin.post("faults", {"call": "purchase.order.create", "after_apply": True, "status": 502})
    odoo = connector(admin)
    with pytest.raises(TransientError):
        odoo.create_purchase_order(order())
    [draft] = admin.purchase_orders()
    odoo.execute_kw("purchase.order", "button_cancel", [[draft["id"]]], safe=False)
    with pytest.raises(PermanentError, match="cancelled in Odoo"):
        odoo.create_purchase_order(order())
    assert _calls(admin, "button_confirm") == 0
