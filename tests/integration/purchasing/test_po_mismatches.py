"""A ship notice that differs from the PO, and a receipt that differs from the ship notice, each
alert staff once with the figures and count on the vendor scorecard (``domain.purchasing.mismatches``)."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import Alert, OutboxMessage, PurchaseOrder, PurchaseOrderLine, Sku, Vendor
from domain.core.stages import Stage
from domain.messaging.rendering import render_email, render_slack
from domain.purchasing import purchase_orders, vendor_loop
from tests.conftest import REPO_ROOT

SKU = "BED-SHEET-QUEEN-WHT"  # vendor cotton-mill
DELIVER = Stage.DELIVER


@pytest.fixture
def po_id(db_session: Session, catalog: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    from domain.core.env_settings import get_settings

    monkeypatch.setenv("BACKORDERS_CONFIG", str(REPO_ROOT / "examples" / "futon-store.toml"))
    get_settings.cache_clear()
    vendor = db_session.scalar(select(Vendor).where(Vendor.key == "cotton-mill"))
    sku = db_session.scalar(select(Sku).where(Sku.code == SKU))
    assert vendor is not None and sku is not None
    today = datetime.now(UTC)
    po = PurchaseOrder(number="PO-MISMATCH-1", vendor_id=vendor.id, state="sent", approved_at=today, sent_at=today,
                       expected_at=today.date(), total_cents=24 * 4500)
    db_session.add(po)
    db_session.flush()
    db_session.add(PurchaseOrderLine(purchase_order_id=po.id, sku_id=sku.id, quantity=24, unit_cost_cents=4500))
    db_session.commit()
    yield po.id
    get_settings.cache_clear()


def _alerts(session: Session, kind: str) -> list[Alert]:
    return list(session.scalars(select(Alert).where(Alert.kind == kind).order_by(Alert.id)))


def _messages(session: Session, follow_ups: list[Any], template: str) -> list[OutboxMessage]:
    ids = [args[0] for name, args in follow_ups if name == DELIVER]
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids),
                                                            OutboxMessage.template == template)))


def test_a_short_ship_notice_and_a_short_receipt_each_alert_once_with_the_figures(
        db_session: Session, po_id: int) -> None:
    arrival = (datetime.now(UTC) + timedelta(days=3)).date()
    follow_ups = vendor_loop.record_asn(db_session, po_id, arrival, {SKU: 20})
    [asn_alert] = _alerts(db_session, "po.asn_mismatch")
    assert {k: asn_alert.data[k] for k in ("po_number", "sku", "po_qty", "asn_qty", "expected", "difference")} == {
        "po_number": "PO-MISMATCH-1", "sku": SKU, "po_qty": 24, "asn_qty": 20, "expected": 24, "difference": -4}
    messages = _messages(db_session, follow_ups, "po_mismatch")
    assert sorted((m.channel, m.recipient) for m in messages) == [
        ("email", "buyer@futonloft.example"), ("slack", "SLACK_WEBHOOK_PURCHASING")]
    email = render_email("po_mismatch", messages[0].context)
    assert email.subject == f"PO-MISMATCH-1: ship notice for {SKU} is 4 short"
    assert "Ordered on the PO line:   24" in email.text and "Ship notice (ASN) says:   20" in email.text
    assert "-4" in render_slack("po_mismatch", messages[0].context)["blocks"][1]["text"]["text"]

    result = purchase_orders.receive(db_session, po_id, {SKU: 18}, datetime.now(UTC))
    [receipt_alert] = _alerts(db_session, "po.receipt_mismatch")
    assert {k: receipt_alert.data[k] for k in ("po_qty", "asn_qty", "received_qty", "expected", "difference")} == {
        "po_qty": 24, "asn_qty": 20, "received_qty": 18, "expected": 20, "difference": -2}
    assert "18 units of BED-SHEET-QUEEN-WHT were received; the ship notice said 20" in receipt_alert.message
    assert len(_messages(db_session, result.follow_ups, "po_mismatch")) == 2
    # Nothing else alerted twice: one alert per cause.
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 2


def test_figures_that_agree_alert_nobody(db_session: Session, po_id: int) -> None:
    arrival = (datetime.now(UTC) + timedelta(days=3)).date()
    assert vendor_loop.record_asn(db_session, po_id, arrival, {SKU: 24}) == []
    assert purchase_orders.receive(db_session, po_id, {SKU: 24}, datetime.now(UTC)).follow_ups == []
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 0


def test_a_ship_notice_without_quantities_is_everything_outstanding_not_a_mismatch(db_session: Session,
                                                                                    po_id: int) -> None:
    today = datetime.now(UTC).date()
    vendor_loop.record_asn(db_session, po_id, today, {SKU: 20})
    assert vendor_loop.record_asn(db_session, po_id, today) == []
    assert len(_alerts(db_session, "po.asn_mismatch")) == 1, "only the stated 20 of 24 alerted"


def test_a_receipt_without_a_ship_notice_has_nothing_to_differ_from(db_session: Session, po_id: int) -> None:
    assert purchase_orders.receive(db_session, po_id, {SKU: 10}, datetime.now(UTC)).follow_ups == []
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 0


def test_the_same_finding_alerts_once(db_session: Session, po_id: int) -> None:
    from domain.core.business_config import current_config
    from domain.purchasing import mismatches

    vendor_loop.record_asn(db_session, po_id, datetime.now(UTC).date(), {SKU: 30})
    [alert] = _alerts(db_session, "po.asn_mismatch")
    assert (alert.data["asn_qty"], alert.data["difference"]) == (30, 6), "an over-shipment is a mismatch too"
    finding = mismatches.check_asn(int(alert.sku_id or 0), SKU, "", 24, 0, 0, 30)
    assert finding is not None
    cause = alert.dedupe_key.split(":", 3)[3]
    again = mismatches.raise_alerts(db_session, [finding], po_id=po_id, po_number="PO-MISMATCH-1", vendor="x",
                                    cause=cause, routes=current_config().notifications.routes)
    assert again == [] and len(_alerts(db_session, "po.asn_mismatch")) == 1


def test_mismatches_count_on_the_scorecard_and_in_the_report(db_session: Session, po_id: int,
                                                             tmp_path: Path) -> None:
    from workers.cli import main

    today = datetime.now(UTC).date()
    vendor_loop.record_asn(db_session, po_id, today, {SKU: 20})
    purchase_orders.receive(db_session, po_id, {SKU: 18}, datetime.now(UTC))
    db_session.commit()
    [score] = purchase_orders.scorecard(db_session, today - timedelta(days=30), today + timedelta(days=30))
    assert (score.vendor_key, score.asn_mismatches, score.receipt_mismatches) == ("cotton-mill", 1, 1)
    target = tmp_path / "vendors.csv"
    result = CliRunner().invoke(main, ["vendors", "report", "--days", "30", "--csv", str(target)])
    assert result.exit_code == 0, result.output
    assert "ASN ≠ PO" in result.output and "rcpt ≠ ASN" in result.output
    [row] = list(csv.DictReader(target.open()))
    assert (row["vendor_key"], row["asn_mismatches"], row["receipt_mismatches"]) == ("cotton-mill", "1", "1")
