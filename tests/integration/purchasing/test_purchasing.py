"""Purchasing on the real database with an injected clock: needs → one draft per vendor window →
approval → receipt (backorders fill first) → vendor dates re-date customers → scorecard."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core.stages import Stage
from domain.journey import customer_journey
from domain.purchasing import purchase_orders
from domain.core.models import (
    Alert,
    Backorder,
    OutboxMessage,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    Sku,
    StockLevel,
    Store,
    Vendor,
)
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
COTTON = ["BED-COVER-FULL-NAVY", "BED-COVER-FULL-SAND", "BED-COVER-QUEEN-NAVY", "BED-COVER-QUEEN-SAND",
          "BED-SHEET-QUEEN-WHT", "BED-SHEET-QUEEN-GRY", "BED-SHEET-KING-WHT", "BED-DUVET-QUEEN", "BED-DUVET-KING",
          "BED-PILLOW-STD"]
OAK = "FUT-FRM-OAK-FULL"  # kyoto-frames: lead time 21 days, $310.00 cost, reorder 6, safety 2, min order $1,500


@pytest.fixture
def settings(catalog: Any) -> customer_journey.Settings:
    return customer_journey.Settings(config=catalog, public_base_url="https://shop.example", secret_key="k" * 40)


def _ids(session: Session, codes: list[str]) -> list[int]:
    found = dict(session.execute(select(Sku.code, Sku.id).where(Sku.code.in_(codes))).all())
    return [found[code] for code in codes]


def _stock(session: Session, sku: str, on_hand: int, at: datetime) -> None:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    record_batch(session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id=f"v-{sku}", sku=sku, location_external_id="655441491", available=on_hand, on_hand=on_hand,
        updated_at=at)])


def _order(session: Session, number: int, sku: str = OAK, minutes: int = 0) -> list[int]:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    return record_orders(session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id=str(number), number=f"#{number}", placed_at=NOW + timedelta(minutes=minutes),
        email=f"customer{number}@example.com", phone=None, customer_name=f"Customer {number}",
        lines=[OrderLineRecord(external_id=f"{number}-1", sku=sku, quantity=1, title="Oak futon frame",
                               price_cents=64900)])]).backorder_ids


def _plan(session: Session, codes: list[str], at: datetime, policy: Any) -> list[purchase_orders.PlanResult]:
    needs = purchase_orders.needs_for(session, _ids(session, codes), at)
    vendors = sorted({need.vendor_id for need in needs})
    return [purchase_orders.plan(session, vendor_id, needs, policy, at) for vendor_id in vendors]


def _lines(session: Session, po_id: int) -> dict[str, PurchaseOrderLine]:
    return {code: line for line, code in session.execute(
        select(PurchaseOrderLine, Sku.code).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
        .where(PurchaseOrderLine.purchase_order_id == po_id)).tuples()}


def _approved_po(session: Session, catalog: Any, code: str = OAK) -> PurchaseOrder:
    [result] = _plan(session, [code], NOW, catalog.policy)
    closed = purchase_orders.close_due_windows(session, NOW + timedelta(minutes=31), catalog.policy,
                                          routes=catalog.notifications.routes)
    if closed.awaiting_approval == [result.purchase_order_id]:  # over the auto-approve limit: a buyer approves
        purchase_orders.approve(session, result.purchase_order_id, "cli:buyer", NOW + timedelta(minutes=32))
    else:
        assert closed.approved == [result.purchase_order_id]
    po = session.get(PurchaseOrder, result.purchase_order_id)
    assert po is not None
    return po


def test_ten_skus_crossing_inside_a_window_make_one_po_with_ten_lines(db_session: Session, catalog: Any) -> None:
    for minute, code in enumerate(COTTON):  # each SKU drops to 1 unit a minute after the previous one
        _stock(db_session, code, 1, NOW + timedelta(minutes=minute))
        _plan(db_session, [code], NOW + timedelta(minutes=minute), catalog.policy)
    [po] = db_session.scalars(select(PurchaseOrder)).all()
    assert po.state == "draft" and po.window_closes_at == NOW + timedelta(minutes=30)
    assert po.number == f"PO-20261125-{po.id}"
    lines = _lines(db_session, po.id)
    assert sorted(lines) == sorted(COTTON)
    # BED-COVER-FULL-NAVY: back to its reorder point 12 from 1 on hand: need 11 → reorder qty 24 (a multiple of 6)
    navy = lines["BED-COVER-FULL-NAVY"]
    assert navy.quantity == 24 and navy.unit_cost_cents == 3000
    assert navy.reason["need"] == 11 and navy.reason["rounded_by"] == ["reorder_qty"]
    assert po.total_cents == sum(line.quantity * line.unit_cost_cents for line in lines.values())
    assert db_session.scalar(select(func.count()).select_from(PurchaseOrderEvent)
                             .where(PurchaseOrderEvent.kind == "drafted")) == 10


def test_a_sku_already_on_an_open_po_never_gets_a_second_line(db_session: Session, catalog: Any) -> None:
    code = "BED-COVER-FULL-NAVY"
    _stock(db_session, code, 1, NOW)
    [first] = _plan(db_session, [code], NOW, catalog.policy)
    assert _lines(db_session, first.purchase_order_id)[code].quantity == 24  # type: ignore[arg-type]
    # Crossing again minutes later: the 24 on order cover it (1 + 24 > reorder point 12).
    assert purchase_orders.needs_for(db_session, _ids(db_session, [code]), NOW + timedelta(minutes=5)) == []
    purchase_orders.close_due_windows(db_session, NOW + timedelta(hours=1), catalog.policy,
                                 routes=catalog.notifications.routes)
    # A day later it sells out and 20 customers wait while its PO is out with the vendor:
    # 0 + 24 − 20 = 4 ≤ 12 is a need again, but no second requisition for the same shortage.
    _stock(db_session, code, 0, NOW + timedelta(days=1))
    for n in range(20):
        _order(db_session, 6000 + n, sku=code)
    [later] = purchase_orders.needs_for(db_session, _ids(db_session, [code]), NOW + timedelta(days=1))
    assert (later.on_order, later.open_backorders, later.position) == (24, 20, 4)
    result = purchase_orders.plan(db_session, later.vendor_id, [later], catalog.policy, NOW + timedelta(days=1))
    assert result.already_ordered_sku_ids == [later.sku_id] and result.purchase_order_id is None
    assert db_session.scalar(select(func.count()).select_from(PurchaseOrderLine)) == 1
    assert db_session.scalar(select(func.count()).select_from(PurchaseOrder)) == 1


def test_a_vendor_with_a_daily_cut_off_collects_lines_until_it(db_session: Session, catalog: Any) -> None:
    vendor = db_session.scalar(select(Vendor).join(Sku, Sku.vendor_id == Vendor.id).where(Sku.code == COTTON[0]))
    assert vendor is not None
    vendor.order_cutoff = time(14, 0)  # local time in the business's timezone
    opened = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)  # 13:30 in New York (UTC−5 in November)
    assert catalog.timezone == "America/New_York"
    for minute, code in enumerate(COTTON[:3]):
        _stock(db_session, code, 1, opened + timedelta(minutes=minute))
        needs = purchase_orders.needs_for(db_session, _ids(db_session, [code]), opened + timedelta(minutes=minute))
        purchase_orders.plan(db_session, vendor.id, needs, catalog.policy, opened + timedelta(minutes=minute),
                        timezone=catalog.timezone)
    [po] = db_session.scalars(select(PurchaseOrder)).all()
    assert po.window_closes_at == datetime(2026, 11, 25, 19, 0, tzinfo=UTC)  # 14:00 local, not 14:00 + 30 min
    assert len(_lines(db_session, po.id)) == 3
    # 30 minutes after the first line (the default window) it is still open; at the cut-off it closes.
    routes = catalog.notifications.routes
    assert purchase_orders.close_due_windows(db_session, opened + timedelta(minutes=29), catalog.policy,
                                        routes=routes).approved == []
    closed = purchase_orders.close_due_windows(db_session, datetime(2026, 11, 25, 19, 0, tzinfo=UTC), catalog.policy,
                                          routes=routes)
    assert closed.approved + closed.awaiting_approval == [po.id]


def test_a_draft_line_grows_when_the_suggestion_grows(db_session: Session, catalog: Any) -> None:
    _stock(db_session, OAK, 0, NOW)  # need 0 + 0 + 2 − 0 = 2: the usual lot, reorder qty 6
    [first] = _plan(db_session, [OAK], NOW, catalog.policy)
    assert _lines(db_session, first.purchase_order_id)[OAK].quantity == 6  # type: ignore[arg-type]
    for n in range(7):  # 7 customers now wait, and their 7 order lines are the SKU's sales
        _order(db_session, 3000 + n)
    [grown] = _plan(db_session, [OAK], NOW + timedelta(minutes=10), catalog.policy)
    assert grown.raised_sku_ids and grown.purchase_order_id == first.purchase_order_id
    line = _lines(db_session, first.purchase_order_id)[OAK]  # type: ignore[arg-type]
    # 7 sold today over the minimum 7-day span: 1.3199 a day; ⌈1.3199 × 21⌉ = 28 lead-time demand
    # + 7 waiting + 2 safety − 0 on hand − 0 on order (its own draft line not counted) = 37
    assert line.reason["demand"]["source"] == "order_lines" and line.reason["velocity"] == "1.3199"
    assert line.quantity == 37 and line.reason["open_backorders"] == 7 and line.reason["need"] == 37


def test_window_close_approves_a_small_po_and_holds_a_large_one(db_session: Session, catalog: Any) -> None:
    _stock(db_session, OAK, 1, NOW)  # kyoto: 6 × $310.00 = $1,860.00, under the $2,500.00 limit
    _stock(db_session, "MAT-LATEX-KING", 1, NOW)  # dreamfoam: min 8 units × $900.00 = $7,200.00
    small, large = _plan(db_session, [OAK, "MAT-LATEX-KING"], NOW, catalog.policy)
    early = purchase_orders.close_due_windows(db_session, NOW + timedelta(minutes=29), catalog.policy,
                                         routes=catalog.notifications.routes)
    assert early.approved == [] and early.awaiting_approval == [], "windows still open"
    closed = purchase_orders.close_due_windows(db_session, NOW + timedelta(minutes=30), catalog.policy,
                                          routes=catalog.notifications.routes)
    assert closed.approved == [small.purchase_order_id]
    assert closed.awaiting_approval == [large.purchase_order_id]
    held = db_session.get(PurchaseOrder, large.purchase_order_id)
    assert held is not None and held.state == "awaiting_approval" and held.total_cents == 720_000
    [alert] = db_session.scalars(select(Alert)).all()
    assert alert.kind == "po.needs_approval" and alert.data["po_number"] == held.number
    assert alert.data["lines"][0]["reason"]["rounded_by"] == ["reorder_qty", "min_order_units"]
    messages = db_session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.channel, m.template) for m in messages] == [("slack", "po_needs_approval"),
                                                           ("email", "po_needs_approval")]
    assert sorted(closed.follow_ups) == sorted((Stage.DELIVER, (m.id,)) for m in messages)
    again = purchase_orders.close_due_windows(db_session, NOW + timedelta(hours=2), catalog.policy,
                                         routes=catalog.notifications.routes)
    assert again.approved == again.awaiting_approval == [], "each window closes once"
    with pytest.raises(purchase_orders.PurchasingError, match="only a purchase order awaiting approval"):
        purchase_orders.approve(db_session, small.purchase_order_id, "buyer", NOW)  # type: ignore[arg-type]
    approved = purchase_orders.approve(db_session, held.id, "buyer", NOW + timedelta(hours=3))
    assert approved.state == "approved" and approved.approved_at == NOW + timedelta(hours=3)


def test_window_close_tops_up_to_the_minimum_order_value(db_session: Session, catalog: Any) -> None:
    # FUT-FRM-MET-FULL: reorder 10 × $120.00 = $1,200.00 < kyoto's $1,500.00 minimum:
    # ⌈150000 / 12000⌉ = 13 units → cases of 2 → 14 units = $1,680.00 (≤ $2,500.00: approved)
    po = _approved_po(db_session, catalog, "FUT-FRM-MET-FULL")
    line = _lines(db_session, po.id)["FUT-FRM-MET-FULL"]
    assert (line.quantity, po.total_cents) == (14, 168_000)
    assert line.reason["rounded_by"][-1] == "min_order_value"


def test_receipt_fills_the_oldest_waiting_customers_first(db_session: Session, catalog: Any,
                                                         settings: customer_journey.Settings) -> None:
    _stock(db_session, OAK, 0, NOW)
    backorder_ids = [b for n in range(5) for b in _order(db_session, 2000 + n, minutes=n - 5)]
    for backorder_id in backorder_ids:
        customer_journey.offer(db_session, backorder_id, settings, now=NOW)
    po = _approved_po(db_session, catalog)
    # 5 sold today (0.9428 a day over the minimum week): ⌈0.9428 × 21⌉ = 20 + 5 waiting + 2 safety stock
    assert _lines(db_session, po.id)[OAK].quantity == 27
    result = purchase_orders.receive(db_session, po.id, {OAK: 3}, NOW + timedelta(days=20))
    assert (result.state, result.received, result.sku_ids) == ("partially_received", {OAK: 3}, _ids(db_session, [OAK]))
    netsuite = db_session.scalar(select(Store.id).where(Store.key == "netsuite-erp"))
    level = db_session.scalar(select(StockLevel).where(StockLevel.store_id == netsuite))
    assert level is not None and (level.on_hand, level.available) == (3, 3), "booked by kyoto's ERP at the warehouse"
    for sku_id in result.sku_ids:
        customer_journey.fill(db_session, sku_id, settings, now=NOW + timedelta(days=20))
    db_session.expire_all()
    states = [db_session.get(Backorder, b).state for b in backorder_ids]  # type: ignore[union-attr]
    assert states == ["filled"] * 3 + ["notified"] * 2
    rest = purchase_orders.receive(db_session, po.id, None, NOW + timedelta(days=21))
    assert (rest.state, rest.received) == ("received", {OAK: 24})
    with pytest.raises(purchase_orders.PurchasingError, match="is received"):
        purchase_orders.receive(db_session, po.id, None, NOW + timedelta(days=22))


def test_receiving_more_than_outstanding_is_refused(db_session: Session, catalog: Any) -> None:
    _stock(db_session, OAK, 1, NOW)
    po = _approved_po(db_session, catalog)
    with pytest.raises(purchase_orders.PurchasingError, match="only 6 outstanding"):
        purchase_orders.receive(db_session, po.id, {OAK: 7}, NOW)
    with pytest.raises(purchase_orders.PurchasingError, match="no line for SKU 'NOPE'"):
        purchase_orders.receive(db_session, po.id, {"NOPE": 1}, NOW)


def test_a_vendor_date_change_tells_each_waiting_customer_once(db_session: Session, catalog: Any,
                                                              settings: customer_journey.Settings) -> None:
    _stock(db_session, OAK, 0, NOW)
    backorder_ids = [b for n in range(3) for b in _order(db_session, 4000 + n, minutes=n - 3)]
    for backorder_id in backorder_ids:
        customer_journey.offer(db_session, backorder_id, settings, now=NOW)  # promised 2026-12-16 (21-day lead time)
    po = _approved_po(db_session, catalog)
    later = NOW + timedelta(days=1)
    # The vendor acknowledges within 2 days of the promise: customers are re-dated, not told.
    assert purchase_orders.update_dates(db_session, po.id, {OAK: date(2026, 12, 17)}, "acknowledged", later,
                                   settings=settings) == []
    assert po.state == "acknowledged" and po.acknowledged_at == later
    assert _lines(db_session, po.id)[OAK].promised_date == date(2026, 12, 17)
    # Then it slips two weeks past what customers were promised: one renewed notice each.
    follow_ups = purchase_orders.update_dates(db_session, po.id, {OAK: date(2026, 12, 30)}, "dates_changed",
                                         later + timedelta(hours=1), settings=settings)
    notices = db_session.scalars(select(OutboxMessage).where(
        OutboxMessage.template.in_(("backorder_eta_change", "backorder_renewed_notice")))).all()
    assert len(notices) == 3 and {m.recipient for m in notices} == {f"customer{4000 + n}@example.com" for n in range(3)}
    assert len(follow_ups) == 3
    assert po.expected_at == date(2026, 12, 30)
    # The same date again (a repeated vendor email) changes nothing and tells nobody.
    assert purchase_orders.update_dates(db_session, po.id, {OAK: date(2026, 12, 30)}, "asn", later + timedelta(hours=2),
                                   settings=settings) == []
    kinds = db_session.scalars(select(PurchaseOrderEvent.kind).where(PurchaseOrderEvent.purchase_order_id == po.id)
                               .order_by(PurchaseOrderEvent.id)).all()
    assert kinds == ["drafted", "approved", "acknowledged", "dates_changed", "asn"]


def _hand_made_po(session: Session, vendor_key: str, number: str, state: str, lines: list[tuple[str, int, int, date]],
                  sent_at: datetime | None = None, acknowledged_at: datetime | None = None) -> PurchaseOrder:
    vendor_id = session.scalar(select(Vendor.id).where(Vendor.key == vendor_key))
    po = PurchaseOrder(number=number, vendor_id=vendor_id, state=state, sent_at=sent_at,
                       acknowledged_at=acknowledged_at)
    session.add(po)
    session.flush()
    for code, quantity, received, promised in lines:
        session.add(PurchaseOrderLine(purchase_order_id=po.id, sku_id=_ids(session, [code])[0], quantity=quantity,
                                      received_qty=received, promised_date=promised))
    return po


def _received(session: Session, po: PurchaseOrder, code: str, quantity: int, on: date) -> None:
    session.add(PurchaseOrderEvent(purchase_order_id=po.id, kind="received", at=datetime(on.year, on.month, on.day,
                                                                                          17, tzinfo=UTC),
                                   data={"lines": [{"sku_id": _ids(session, [code])[0], "sku": code,
                                                    "quantity": quantity}]}))


def test_scorecard_on_a_small_hand_made_history(db_session: Session, catalog: Any) -> None:
    sent = datetime(2026, 11, 1, 9, tzinfo=UTC)
    promised = date(2026, 12, 1)
    # kyoto: 20 ordered, 15 received; OAK on time (Nov 30), WAL 3 days late (Dec 4); acknowledged in 6 h
    kyoto = _hand_made_po(db_session, "kyoto-frames", "PO-A", "partially_received",
                          [(OAK, 10, 10, promised), ("FUT-FRM-WAL-FULL", 10, 5, promised)],
                          sent, sent + timedelta(hours=6))
    _received(db_session, kyoto, OAK, 10, date(2026, 11, 30))
    _received(db_session, kyoto, "FUT-FRM-WAL-FULL", 5, date(2026, 12, 4))
    # dreamfoam: 4 ordered, nothing arrived yet; acknowledged after 30 h
    _hand_made_po(db_session, "dreamfoam", "PO-B", "acknowledged", [("MAT-LATEX-KING", 4, 0, date(2026, 12, 10))],
                  sent, sent + timedelta(hours=30))
    # Neither counts: due after the period; cancelled.
    _hand_made_po(db_session, "dreamfoam", "PO-C", "sent", [("MAT-HYB-KING", 8, 0, date(2027, 1, 15))], sent)
    _hand_made_po(db_session, "kyoto-frames", "PO-D", "cancelled", [(OAK, 50, 0, promised)], sent)
    db_session.flush()
    dream_score, kyoto_score = purchase_orders.scorecard(db_session, date(2026, 11, 20), date(2026, 12, 31))
    assert kyoto_score.vendor_key == "kyoto-frames"
    assert (kyoto_score.purchase_orders, kyoto_score.ordered_units, kyoto_score.received_units) == (1, 20, 15)
    assert kyoto_score.fill_rate == Decimal("0.750")  # 15 / 20
    assert (kyoto_score.receipts, kyoto_score.on_time_receipts, kyoto_score.on_time_rate) == (2, 1, Decimal("0.500"))
    assert kyoto_score.average_days_late == Decimal("1.50")  # (0 + 3) / 2
    assert kyoto_score.average_ack_hours == Decimal("6.0")
    assert dream_score.vendor_key == "dreamfoam"
    assert (dream_score.ordered_units, dream_score.fill_rate, dream_score.on_time_rate) == (4, Decimal("0.000"), None)
    assert dream_score.average_days_late is None and dream_score.average_ack_hours == Decimal("30.0")


def test_vendors_report_prints_and_writes_csv(db_session: Session, catalog: Any, tmp_path: Path) -> None:
    from workers.cli import main

    today = datetime.now(UTC).date()
    po = _hand_made_po(db_session, "kyoto-frames", "PO-E", "received", [(OAK, 4, 4, today - timedelta(days=3))])
    _received(db_session, po, OAK, 4, today - timedelta(days=5))
    db_session.commit()
    target = tmp_path / "vendors.csv"
    result = CliRunner().invoke(main, ["vendors", "report", "--days", "30", "--csv", str(target)])
    assert result.exit_code == 0, result.output
    assert "kyoto-frames" in result.output and "100.0%" in result.output
    header, row = target.read_text().splitlines()
    assert header.startswith("vendor_id,vendor_key") and ",kyoto-frames," in row


def test_po_commands_list_approve_and_receive(db_session: Session, catalog: Any) -> None:
    from workers.cli import main

    _stock(db_session, "MAT-LATEX-KING", 0, NOW)
    [result] = _plan(db_session, ["MAT-LATEX-KING"], NOW, catalog.policy)
    purchase_orders.close_due_windows(db_session, NOW + timedelta(hours=1), catalog.policy,
                                 routes=catalog.notifications.routes)
    db_session.commit()
    runner = CliRunner()
    listed = runner.invoke(main, ["po", "list"])
    assert listed.exit_code == 0 and "awaiting_approval" in listed.output and "7,200.00" in listed.output
    # Each line says why: nothing sold yet, so the configured reorder point 4; 0 on hand → need 4,
    # raised to the vendor's minimum of 8 units (whole cases of 2)
    assert "MAT-LATEX-KING × 8 @ 900.00 = 7,200.00" in listed.output
    assert ("why: velocity 0/day (no sales observed); reorder point 4 = max(configured 4, lead-time demand 0 "
            "(⌈0 × 14 days⌉) + safety 1); position 0; need = reorder point 4 + backorders 0 − on hand 0 − on order 0 "
            "= 4; reorder qty 4, case pack 2 → min_order_units → 8") in listed.output, listed.output
    as_json = runner.invoke(main, ["po", "list", "--json"])
    assert as_json.exit_code == 0, as_json.output
    [listed_po] = json.loads(as_json.output)
    [line] = listed_po["lines"]
    assert (listed_po["state"], line["sku"], line["quantity"]) == ("awaiting_approval", "MAT-LATEX-KING", 8)
    assert (line["reason"]["reorder_point"], line["reason"]["position"], line["reason"]["need"]) == (4, 0, 4)
    assert line["reason"]["demand"] == {"source": "none", "velocity": "0", "window_days": 0, "units": 0,
                                        "since": None, "until": None}
    number = db_session.get(PurchaseOrder, result.purchase_order_id).number  # type: ignore[union-attr]
    approved = runner.invoke(main, ["po", "approve", number])
    assert approved.exit_code == 0, approved.output
    twice = runner.invoke(main, ["po", "approve", number])
    assert twice.exit_code == 1 and "is approved" in twice.output
    received = runner.invoke(main, ["po", "receive", str(result.purchase_order_id), "--sku", "MAT-LATEX-KING=3"])
    assert received.exit_code == 0, received.output
    assert "MAT-LATEX-KING: +3" in received.output and "partially received" in received.output


def _stock_at(session: Session, location: str, on_hand: int, at: datetime, sku: str = OAK) -> None:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    record_batch(session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id=f"v-{sku}", sku=sku, location_external_id=location, available=on_hand, on_hand=on_hand,
        updated_at=at)])


def _erp_stock_at(session: Session, location: str, on_hand: int, at: datetime, sku: str = OAK) -> None:
    store_id = session.scalar(select(Store.id).where(Store.key == "netsuite-erp"))
    record_batch(session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id=f"ns-{sku}", sku=sku, location_external_id=location, available=on_hand, on_hand=on_hand,
        updated_at=at)])


def test_velocity_comes_from_on_hand_decreases_at_each_locations_record_store(db_session: Session,
                                                                              catalog: Any) -> None:
    from domain.purchasing.reorder import daily_velocity

    warehouse, showroom = "1", "2"  # NetSuite's locations: the ERP is the record of both
    day = timedelta(days=1)
    _erp_stock_at(db_session, warehouse, 30, NOW - 40 * day)  # before the 28 days: the baseline, dated at their start
    _erp_stock_at(db_session, warehouse, 10, NOW - 3 * day)   # 30 → 10: 20 sold on day −3
    _erp_stock_at(db_session, showroom, 5, NOW - 3 * day)     # a new location's stock is not a sale: total 15
    _erp_stock_at(db_session, warehouse, 8, NOW - 2 * day)    # total 13: 2 sold on day −2
    _erp_stock_at(db_session, showroom, 2, NOW - day)         # total 10: 3 sold on day −1
    _erp_stock_at(db_session, warehouse, 20, NOW)             # a receipt: total 22, not negative sales
    # Shopify repeats the warehouse's figures (and sells nothing the ERP does not see): not counted again.
    _stock_at(db_session, "655441491", 30, NOW - 40 * day)
    _stock_at(db_session, "655441491", 10, NOW - 3 * day)
    _stock_at(db_session, "655441491", 20, NOW)
    [need] = purchase_orders.needs_for(db_session, _ids(db_session, [OAK]), NOW + timedelta(hours=1))
    start = (NOW - 28 * day).date()
    # Sales 20, 2, 3, 0 on the last four days after 24 quiet ones, newer days weighing more: 1.9326 a day.
    expected = daily_velocity([(start, 30), ((NOW - 3 * day).date(), 10), ((NOW - 3 * day).date(), 15),
                               ((NOW - 2 * day).date(), 13), ((NOW - day).date(), 10), (NOW.date(), 22)])
    assert need.velocity == expected == Decimal("1.9326")
    assert need.pace.source == "on_hand_history" and need.pace.units == 25 and need.pace.window_days == 28
    assert need.pace.record_stores == {"warehouse": "netsuite-erp", "showroom": "netsuite-erp"}
    # ⌈1.9326 × 21 + 2⌉ = 43 > the configured 5: 22 on hand is a need at this pace.
    assert (need.on_hand, need.reorder_point) == (22, 43)


def test_detection_hands_the_evaluated_skus_to_planning(db_session: Session, catalog: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.purchasing import plan_for_skus
    from tasks.stock import evaluate
    from workers.app import app

    sku_id = _ids(db_session, [OAK])[0]
    _stock(db_session, OAK, 1, datetime.now(UTC))
    db_session.commit()
    sent: list[Any] = []
    monkeypatch.setattr(app.tasks["tasks.purchasing.plan_for_skus"], "apply_async",
                        lambda args, kwargs=None, **options: sent.append(args))
    evaluate.apply(args=[[sku_id]], throw=True)
    assert sent == [([sku_id],)], "one planning message per evaluation"
    assert db_session.execute(text("SELECT kind, sku_id FROM pending_effects")).all() == [("plan", sku_id)], \
        "planning is a row of the evaluation's transaction"
    plan_for_skus.apply(args=[[sku_id]], throw=True)
    db_session.expire_all()
    assert not db_session.execute(text("SELECT 1 FROM pending_effects")).all(), "done in the planning transaction"
    [po] = db_session.scalars(select(PurchaseOrder)).all()
    assert po.state == "draft" and list(_lines(db_session, po.id)) == [OAK]
