"""Purchase orders through the send task into each ERP stand-in, and goods received in the ERP
booked back by the receipts poll: once, however often it reads the same receipt, and the waiting
customer's backorder fills. Real PostgreSQL, NetSuite / Odoo / SAP Business One / Mailgun stand-ins
over HTTP."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord
from domain.core.models import (
    AuditLog,
    Backorder,
    PurchaseOrder,
    PurchaseOrderLine,
    Sku,
    StockLevel,
    Store,
)
from domain.core.env_settings import get_settings
from domain.stock.orders import record_orders
from demo import scenario
from sandbox.odoo import DEFAULTS as ODOO_DEFAULTS
from sandbox.sapb1 import DEFAULTS as SAP_DEFAULTS
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT
from tests.purchase_orders import SKUS, approved_po

ACCOUNT = scenario.PLATFORM_SECRETS["NETSUITE_ACCOUNT_ID"]
ODOO_ENV = {"database": "ODOO_DATABASE", "login": "ODOO_LOGIN", "api_key": "ODOO_API_KEY"}
SAP_ENV = {"company_db": "SAP_COMPANY_DB", "username": "SAP_USERNAME", "password": "SAP_PASSWORD"}


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, catalog: object, db_session: Session) -> Iterator[SandboxServer]:
    """Every stand-in; the NetSuite store moved onto it, an Odoo and an SAP Business One store added."""
    with SandboxServer() as server:
        for name, value in scenario.sandbox_env(server.base_url).items():
            monkeypatch.setenv(name, value)
        for name, env in ODOO_ENV.items():
            monkeypatch.setenv(env, ODOO_DEFAULTS[name])
        for name, env in SAP_ENV.items():
            monkeypatch.setenv(env, SAP_DEFAULTS[name])
        monkeypatch.setenv("BACKORDERS_CONFIG", str(REPO_ROOT / "examples" / "futon-store.toml"))
        get_settings.cache_clear()
        netsuite = db_session.scalar(select(Store).where(Store.key == "netsuite-erp"))
        netsuite.base_url = f"{server.base_url}/netsuite/{ACCOUNT}"
        db_session.add(Store(key="odoo-erp", platform="odoo", name="Odoo", base_url=f"{server.base_url}/odoo/main",
                             credentials_env=ODOO_ENV, sells=False))
        db_session.add(Store(key="sap_b1-erp", platform="sap_b1", name="SAP Business One", sells=False,
                             base_url=f"{server.base_url}/sap_b1/futon", credentials_env=SAP_ENV))
        db_session.commit()
        requests.post(f"{netsuite.base_url}/_admin/seed", timeout=10, json={
            "locations": 2, "vendors": [{"external_id": "kyoto-frames", "name": "Kyoto Frame Works"}],
            "items": [{"sku": sku, "on_hand": 0} for sku in SKUS]}).raise_for_status()
        requests.post(f"{server.base_url}/odoo/main/_admin/seed", timeout=10, json={
            "partners": [{"name": "Kyoto Frame Works", "ref": "kyoto-frames"}],
            "products": [{"default_code": sku, "name": sku} for sku in SKUS]}).raise_for_status()
        requests.post(f"{server.base_url}/sap_b1/futon/_admin/seed", timeout=10, json={
            "partners": [{"card_code": "kyoto-frames", "name": "Kyoto Frame Works"}],
            "items": [{"sku": sku, "warehouses": {"01": {"in_stock": 0}}} for sku in SKUS]}).raise_for_status()
        yield server
    get_settings.cache_clear()


def admin(server: SandboxServer, platform: str) -> str:
    instance = {"netsuite": ACCOUNT, "odoo": "main", "sap_b1": "futon"}[platform]
    return f"{server.base_url}/{platform}/{instance}/_admin"


def erp_orders(server: SandboxServer, platform: str) -> list[dict[str, Any]]:
    if platform == "sap_b1":
        return requests.get(f"{admin(server, platform)}/state/documents/PurchaseOrders",
                            timeout=10).json()["documents"]
    return requests.get(f"{admin(server, platform)}/state/purchase_orders", timeout=10).json()["purchase_orders"]


def waiting_customer(session: Session, sku: str = "FUT-FRM-OAK-FULL") -> int:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    [backorder_id] = record_orders(session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id="9001", number="#9001", placed_at=datetime(2025, 1, 2, 16, 0, tzinfo=UTC),
        email="jamie@example.com", phone=None, customer_name="Jamie",
        lines=[OrderLineRecord(external_id="9001-1", sku=sku, quantity=1, title="Oak futon frame",
                               price_cents=64900)])]).backorder_ids
    session.commit()
    return backorder_id


def sent_again_after_a_lost_commit(session: Session, supplier_erp: str) -> int:
    """An approved PO sent by the send task, skipped when sent again, then sent once more as if the
    first run's commit was lost after the ERP took it; the PO's id."""
    from tasks.po_send import send

    po_id = approved_po(session, supplier_erp)
    assert send.apply(args=[po_id]).get() == "sent"
    assert send.apply(args=[po_id]).get() == "skipped:sent"
    session.expire_all()
    po = session.get(PurchaseOrder, po_id)
    po.state, po.erp_ref = "approved", None
    session.commit()
    assert send.apply(args=[po_id]).get() == "sent"
    return po_id


def erp_audits(session: Session, po_id: int) -> list[str]:
    """The PO's ``po.erp_*`` audit actions, oldest first."""
    return list(session.scalars(select(AuditLog.action).where(AuditLog.subject_id == str(po_id))
                                .where(AuditLog.action.like("po.erp_%")).order_by(AuditLog.id)).all())


def test_odoo_gets_one_confirmed_po_however_often_the_send_task_runs(sandbox: SandboxServer,
                                                                    db_session: Session) -> None:
    po_id = sent_again_after_a_lost_commit(db_session, "odoo-erp")

    [odoo_po] = erp_orders(sandbox, "odoo")
    db_session.expire_all()
    po = db_session.get(PurchaseOrder, po_id)
    assert po.state == "sent" and po.erp_ref == str(odoo_po["id"])
    assert odoo_po["partner_ref"] == "PO-20250102-1" and odoo_po["state"] == "purchase"
    assert sorted((line["product_qty"], line["price_unit"]) for line in odoo_po["lines"]) == [(2, 210.0), (4, 189.5)]
    assert erp_audits(db_session, po_id) == ["po.erp_created", "po.erp_found"]


def test_odoo_create_whose_reply_was_lost_is_confirmed_by_the_retry(sandbox: SandboxServer,
                                                                   db_session: Session) -> None:
    """The probe's case: ``purchase.order.create`` applied, its reply lost (a proxy's 502). The
    send task fails and rolls back; its retry finds the draft by ``partner_ref`` and confirms it
    before the PO is marked sent here, so the vendor's Odoo holds an order, not a draft RFQ."""
    from tasks.po_send import send

    po_id = approved_po(db_session, "odoo-erp")
    requests.post(f"{admin(sandbox, 'odoo')}/faults", timeout=10, json={
        "call": "purchase.order.create", "after_apply": True, "status": 502}).raise_for_status()
    first = send.apply(args=[po_id], retries=send.max_retries)  # the last try: no eager retry loop
    assert first.state == "FAILURE"
    [draft] = erp_orders(sandbox, "odoo")
    assert draft["state"] == "draft"
    db_session.expire_all()
    assert db_session.get(PurchaseOrder, po_id).state == "approved", "nothing marked sent yet"

    assert send.apply(args=[po_id]).get() == "sent"

    [odoo_po] = erp_orders(sandbox, "odoo")
    db_session.expire_all()
    po = db_session.get(PurchaseOrder, po_id)
    assert odoo_po["id"] == draft["id"] and odoo_po["state"] == "purchase"
    assert po.state == "sent" and po.erp_ref == str(odoo_po["id"])
    found = db_session.scalar(select(AuditLog).where(AuditLog.subject_id == str(po_id),
                                                     AuditLog.action == "po.erp_found"))
    assert "confirmed it" in found.data["detail"]


@pytest.mark.parametrize("platform", ["netsuite", "odoo", "sap_b1"])
def test_goods_received_in_the_erp_are_booked_once_and_fill_the_waiting_customer(
        platform: str, sandbox: SandboxServer, db_session: Session) -> None:
    from tasks.followups import fill
    from tasks.po_send import send
    from tasks.receipts import poll_erp
    from tasks.stock import evaluate

    store_key = f"{platform}-erp"
    po_id = approved_po(db_session, store_key)
    backorder_id = waiting_customer(db_session)
    assert send.apply(args=[po_id]).get() == "sent"
    assert poll_erp.apply().get() == 0  # nothing received yet

    key = {"netsuite": "external_id", "odoo": "partner_ref", "sap_b1": "num_at_card"}[platform]
    requests.post(f"{admin(sandbox, platform)}/purchase_orders/receive", timeout=10,
                  json={key: "PO-20250102-1", "lines": {"FUT-FRM-OAK-FULL": 3}}).raise_for_status()
    assert poll_erp.apply().get() == 1
    assert poll_erp.apply().get() == 0  # the same running total read again books nothing

    db_session.expire_all()
    po = db_session.get(PurchaseOrder, po_id)
    lines = {code: line.received_qty for line, code in db_session.execute(
        select(PurchaseOrderLine, Sku.code).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
        .where(PurchaseOrderLine.purchase_order_id == po_id)).tuples()}
    assert po.state == "partially_received" and lines == {"FUT-FRM-OAK-FULL": 3, "FUT-FRM-OAK-QUEEN": 0}
    oak = db_session.scalar(select(Sku).where(Sku.code == "FUT-FRM-OAK-FULL"))
    # Booked at the receiving location: under the ERP's own figure when the ERP stocks it (NetSuite
    # here), else under the first store that does (this Odoo has no locations configured).
    booked_under = "netsuite-erp" if platform == "netsuite" else "shopify-main"
    on_hand = db_session.scalar(select(func.sum(StockLevel.on_hand)).join(Store, Store.id == StockLevel.store_id)
                                .where(StockLevel.sku_id == oak.id, Store.key == booked_under))
    assert on_hand == 3

    # What the worker runs next: detection, then the fill it enqueues for the waiting SKU.
    evaluate.apply(args=[[oak.id]]).get()
    fill.apply(args=[oak.id]).get()
    db_session.expire_all()
    assert db_session.get(Backorder, backorder_id).state == "filled"

    requests.post(f"{admin(sandbox, platform)}/purchase_orders/receive", timeout=10,
                  json={key: "PO-20250102-1"}).raise_for_status()
    assert poll_erp.apply().get() == 1
    db_session.expire_all()
    assert db_session.get(PurchaseOrder, po_id).state == "received"
    assert poll_erp.apply().get() == 0  # a received PO is no longer asked about


def test_sap_gets_one_purchase_order_however_often_the_send_task_runs(sandbox: SandboxServer,
                                                                     db_session: Session) -> None:
    po_id = sent_again_after_a_lost_commit(db_session, "sap_b1-erp")

    [sap_po] = erp_orders(sandbox, "sap_b1")
    db_session.expire_all()
    assert db_session.get(PurchaseOrder, po_id).erp_ref == str(sap_po["DocEntry"])
    assert sap_po["NumAtCard"] == "PO-20250102-1" and sap_po["CardCode"] == "kyoto-frames"
    assert sorted((line["ItemCode"], line["Quantity"]) for line in sap_po["DocumentLines"]) == [
        ("FUT-FRM-OAK-FULL", 4), ("FUT-FRM-OAK-QUEEN", 2)]
    assert erp_audits(db_session, po_id) == ["po.erp_created", "po.erp_found"]


def test_an_erp_that_cannot_be_reached_is_skipped_and_read_next_time(sandbox: SandboxServer, db_session: Session,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    from tasks.po_send import send
    from tasks.receipts import poll_erp

    po_id = approved_po(db_session, "netsuite-erp")
    assert send.apply(args=[po_id]).get() == "sent"
    requests.post(f"{admin(sandbox, 'netsuite')}/purchase_orders/receive", timeout=10,
                  json={"external_id": "PO-20250102-1"}).raise_for_status()
    requests.post(f"{admin(sandbox, 'netsuite')}/faults", timeout=10,
                  json={"status": 401, "count": 1}).raise_for_status()
    with caplog.at_level("WARNING", logger="tasks.receipts"):
        assert poll_erp.apply().get() == 0
    assert "could not read receipts from netsuite-erp" in caplog.text
    assert poll_erp.apply().get() == 1
