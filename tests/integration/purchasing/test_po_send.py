"""Sending an approved PO: one vendor email with the CSV, one NetSuite PO, state ``sent`` — however
often (or however concurrently) the task runs. Real PostgreSQL, the NetSuite and Mailgun stand-ins
over HTTP."""
from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import (
    OutboxMessage,
    PurchaseOrder,
    PurchaseOrderEvent,
    Store,
    Vendor,
)
from domain.core.env_settings import get_settings
from domain.purchasing.po_documents import po_context
from demo import scenario
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT
from tests.purchase_orders import SKUS, approved_po

ACCOUNT = scenario.PLATFORM_SECRETS["NETSUITE_ACCOUNT_ID"]


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, catalog: object, db_session: Session) -> Iterator[SandboxServer]:
    """Every stand-in, the example's env pointed at it, and the NetSuite store moved onto it."""
    with SandboxServer() as server:
        for name, value in scenario.sandbox_env(server.base_url).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("BACKORDERS_CONFIG", str(REPO_ROOT / "examples" / "futon-store.toml"))
        get_settings.cache_clear()
        store = db_session.scalar(select(Store).where(Store.key == "netsuite-erp"))
        store.base_url = f"{server.base_url}/netsuite/{ACCOUNT}"
        db_session.commit()
        requests.post(f"{store.base_url}/_admin/seed", timeout=10, json={
            "locations": 2, "vendors": [{"external_id": "kyoto-frames", "name": "Kyoto Frame Works"}],
            "items": [{"sku": sku, "on_hand": 0} for sku in SKUS]}).raise_for_status()
        yield server
    get_settings.cache_clear()


def netsuite_orders(server: SandboxServer) -> list[dict[str, Any]]:
    url = f"{server.base_url}/netsuite/{ACCOUNT}/_admin/state/purchase_orders"
    return requests.get(url, timeout=10).json()["purchase_orders"]


def test_po_context_reads_the_po_lines_vendor_and_ship_to(sandbox: SandboxServer, db_session: Session) -> None:
    po_id = approved_po(db_session)
    context = po_context(db_session, po_id, "https://shop.example/", None, business_name="Futon Loft")
    assert context["po_number"] == "PO-20250102-1" and context["date"] == "2025-01-02"
    assert context["vendor"]["email"] == "orders@kyotoframes.example" and context["ship_to"]["key"] == "warehouse"
    assert [(line["sku"], line["quantity"], line["unit_cost"], line["line_total"], line["expected_date"])
            for line in context["lines"]] == [("FUT-FRM-OAK-FULL", 4, "189.50", "758.00", "2025-01-23"),
                                              ("FUT-FRM-OAK-QUEEN", 2, "210.00", "420.00", "2025-01-23")]
    assert context["total"] == "1178.00" and context["public_base_url"] == "https://shop.example"


def test_sending_twice_makes_one_email_one_erp_po_and_the_csv_arrives(sandbox: SandboxServer,
                                                                       db_session: Session) -> None:
    from tasks.notify import deliver
    from tasks.po_send import send

    po_id = approved_po(db_session)
    assert send.apply(args=[po_id]).get() == "sent"
    assert send.apply(args=[po_id]).get() == "skipped:sent"

    db_session.expire_all()
    po = db_session.get(PurchaseOrder, po_id)
    assert po.state == "sent" and po.sent_at is not None and po.ack_due_at == po.sent_at + timedelta(hours=48)
    [erp_po] = netsuite_orders(sandbox)
    assert po.erp_ref == erp_po["id"] and erp_po["externalId"] == "PO-20250102-1"
    assert sorted((line["quantity"], line["rate"]) for line in erp_po["item"]["items"]) == [(2, 210.0), (4, 189.5)]
    [row] = db_session.scalars(select(OutboxMessage)).all()
    assert row.idempotency_key == f"po:{po_id}:email" and po.email_outbox_id == row.id
    assert row.recipient == "orders@kyotoframes.example" and row.template == "po_to_vendor"
    [attachment] = row.context["attachments"]
    assert attachment["filename"] == "PO-20250102-1.csv" and attachment["content_type"] == "text/csv"
    events = db_session.scalars(select(PurchaseOrderEvent).where(PurchaseOrderEvent.purchase_order_id == po_id)).all()
    assert [e.kind for e in events] == ["sent"] and events[0].data["erp_ref"] == po.erp_ref

    assert deliver.apply(args=[row.id]).get() == "sent"
    messages = requests.get(f"{sandbox.base_url}/_sandbox/messaging/messages", params={"provider": "mailgun"},
                            timeout=10).json()["messages"]
    [email] = messages
    assert email["to"] == ["orders@kyotoframes.example"]
    assert email["subject"] == "Purchase order PO-20250102-1 from Futon Loft"
    assert "FUT-FRM-OAK-QUEEN" in email["text"] and "$1178.00" in email["text"]
    expected_csv = "po_number,sku,title,quantity,unit_cost,line_total,expected_date\r\n"
    [sent_file] = email["attachments"]
    assert sent_file["filename"] == "PO-20250102-1.csv" and sent_file["content_type"].startswith("text/csv")
    csv_bytes = base64.b64decode(attachment["content_b64"])
    assert csv_bytes.startswith(expected_csv.encode()) and sent_file["size"] == len(csv_bytes)
    rows = list(csv.reader(io.StringIO(csv_bytes.decode())))
    assert [r[1] for r in rows[1:]] == ["FUT-FRM-OAK-FULL", "FUT-FRM-OAK-QUEEN"]


def test_concurrent_sends_leave_one_email_and_one_erp_po(sandbox: SandboxServer, db_session: Session) -> None:
    from tasks.po_send import send

    po_id = approved_po(db_session)
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = sorted(pool.map(lambda _: send.apply(args=[po_id]).get(), range(3)))
    assert outcomes == ["sent", "skipped:sent", "skipped:sent"]
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert len(netsuite_orders(sandbox)) == 1


def test_erp_failure_rolls_back_the_email_and_a_lost_erp_write_is_found_on_retry(sandbox: SandboxServer,
                                                                                db_session: Session) -> None:
    """NetSuite down: nothing is committed (no email row, PO still approved). Then an earlier
    attempt's ERP write that landed although its transaction rolled back: the retry finds it by
    external id instead of creating a second PO, and the vendor still gets exactly one email."""
    from flows.connections import connector_for
    from flows.po_send import erp_request
    from tasks.po_send import send

    po_id = approved_po(db_session)
    faults = f"{sandbox.base_url}/netsuite/{ACCOUNT}/_admin/faults"
    requests.post(faults, json={"status": 503, "count": 20}, timeout=10).raise_for_status()
    result = send.apply(args=[po_id], retries=send.max_retries)  # the last try: no eager retry loop
    assert result.state == "FAILURE" and "503" in str(result.result)
    db_session.expire_all()
    assert db_session.get(PurchaseOrder, po_id).state == "approved"
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    requests.delete(faults, timeout=10).raise_for_status()

    po = db_session.get(PurchaseOrder, po_id)
    vendor = db_session.get(Vendor, po.vendor_id)
    store = db_session.scalar(select(Store).where(Store.key == "netsuite-erp"))
    context = po_context(db_session, po_id, "https://shop.example", None, business_name="Futon Loft")
    landed = connector_for(store).create_purchase_order(erp_request(po, vendor, context))
    db_session.rollback()

    assert send.apply(args=[po_id]).get() == "sent"
    db_session.expire_all()
    assert db_session.get(PurchaseOrder, po_id).erp_ref == landed.external_id
    assert len(netsuite_orders(sandbox)) == 1
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
