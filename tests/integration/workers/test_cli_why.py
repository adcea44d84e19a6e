"""``backorders why``: an auto-cancelled order's trail (offer, reminder, deadline, refund) read back
from a journey run on the real database with the Shopify stand-in, a PO's line numbers, and
unknown references refused with exit 1."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import domain.core.env_settings as runtime_settings
from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core import timers
from domain.core.clock import utcnow
from domain.core.models import Backorder, PurchaseOrder, Sku, Store, Timer
from domain.journey import customer_journey
from domain.purchasing import purchase_orders
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders
from tests.integration.workers.conftest import StandIns
from workers.cli import main

SKU = "FUT-FRM-OAK-FULL"
STAMP = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


def _line(output: str, pattern: str) -> str:
    """The one line of ``output`` matching ``pattern``, which must start with its time."""
    found = [line for line in output.splitlines() if re.search(pattern, line)]
    assert found, f"no line matches {pattern!r} in:\n{output}"
    assert re.match(rf"\s+{STAMP}\s", found[0]), f"{found[0]!r} has no time"
    return found[0]


def test_why_order_shows_offer_reminder_deadline_and_refund(db_session: Session,
                                                            stand_ins: Callable[..., StandIns]) -> None:
    from tasks.followups import refund

    sandbox = stand_ins({"shopify"}, available=0)
    runner = CliRunner()
    # No vendor, so no date to promise: the customer must agree to wait, and silence cancels.
    db_session.execute(update(Sku).where(Sku.code == SKU).values(vendor_id=None))
    db_session.commit()
    shop = f"{sandbox.url}/shopify/shopify-main/_admin"
    created = requests.post(f"{shop}/create_order", timeout=10, json={
        "lines": [{"sku": SKU, "quantity": 1, "price": "649.00"}], "email": "kai@example.com",
        "customer": {"first_name": "Kai", "last_name": "Lee"}}).json()["order"]
    synced = runner.invoke(main, ["sync", "shopify-main", "--full"])
    assert synced.exit_code == 0, synced.output

    settings = runtime_settings.current()
    backorder_id = db_session.scalar(select(Backorder.id))
    assert backorder_id is not None
    customer_journey.offer(db_session, backorder_id, settings)
    db_session.commit()
    # The reminder, then the deadline, brought forward to now and fired by two sweeps.
    for kind in (customer_journey.REMINDER, customer_journey.DEADLINE):
        db_session.execute(update(Timer).where(Timer.kind == kind, Timer.state == "pending")
                           .values(due_at=utcnow()))
        db_session.commit()
        [timer] = timers.claim_due(db_session)
        assert timer.kind == kind
        timers.fire(db_session, timer)
        db_session.commit()
    assert refund.apply(args=[backorder_id], throw=True).get().startswith("refund ")

    result = runner.invoke(main, ["why", "order", created["name"].lstrip("#")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"order {created['name']}")
    _line(out, rf"order {created['name']} placed on shopify-main by Kai Lee")
    offer = _line(out, r"open → notified \(first delay notice.*consent_required True")
    notice = _line(out, r"backorder_notice by email to kai@example\.com: (sent|queued)")
    reminder = _line(out, r"backorder\.reminder timer fired")
    reminded = _line(out, r"backorder_reminder by email to kai@example\.com")
    deadline = _line(out, r"backorder\.deadline timer fired")
    cancelled = _line(out, r"notified → auto_cancelled \(no answer by the deadline, by system\)")
    refunded = _line(out, r"refund of 649\.00 USD issued on the store as \S+ \(HTTP 201\); line price 649\.00 × 1 "
                            r"backordered = 649\.00 USD")
    _line(out, r"backorder_cancelled by email to kai@example\.com")
    _line(out, r"alert merchandising\.auto_cancelled")
    lines = out.splitlines()
    assert lines.index(offer) < lines.index(reminder) < lines.index(deadline) < lines.index(cancelled) \
        < lines.index(refunded), "in time order"
    assert lines.index(notice) < lines.index(reminded)

    as_json = json.loads(runner.invoke(main, ["why", "order", created["name"], "--json"]).output)
    assert as_json["facts"]["orders"][0]["backorders"][0]["state"] == "auto_cancelled"
    kinds = [e["kind"] for e in as_json["events"]]
    assert {"transition", "timer.fired", "notice", "refund", "alert"} <= set(kinds)
    [refund_event] = [e for e in as_json["events"] if e["kind"] == "refund"]
    assert refund_event["data"]["amount_cents"] == 64900 and refund_event["at"]
    seconds = [datetime.fromisoformat(e["at"]).replace(microsecond=0) for e in as_json["events"] if e["at"]]
    assert seconds == sorted(seconds), "oldest first (a fired timer leads what it wrote within its second)"

    backorder = runner.invoke(main, ["why", "backorder", str(backorder_id)])
    assert backorder.exit_code == 0 and "refund of 649.00 USD" in backorder.output
    sku = runner.invoke(main, ["why", "sku", SKU])
    assert sku.exit_code == 0, sku.output
    _line(sku.output, r"shopify-main at \S+: available -1, on hand -1")  # the stand-in sold one it did not have
    _line(sku.output, r"IN_STOCK → BACKORDER: available 0, threshold 3, open demand 1")
    _line(sku.output, r"alert stock\.backorder \(critical\)")
    _line(sku.output, rf"backorder {backorder_id}: 1 on order {re.escape(created['name'])} \(now auto_cancelled")


def test_why_po_shows_each_lines_numbers(db_session: Session, catalog: object) -> None:
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    record_batch(db_session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id=f"v-{SKU}", sku=SKU, location_external_id="655441491", available=1, on_hand=1, updated_at=now)])
    record_orders(db_session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id="9001", number="#9001", placed_at=now, email="a@example.com", phone=None, customer_name="A",
        lines=[OrderLineRecord(external_id="9001-1", sku=SKU, quantity=3, price_cents=64900)])])
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))
    [need] = purchase_orders.needs_for(db_session, [sku_id], now)
    result = purchase_orders.plan(db_session, need.vendor_id, [need], catalog.policy, now)  # type: ignore[attr-defined]
    db_session.commit()
    number = db_session.scalar(select(PurchaseOrder.number).where(PurchaseOrder.id == result.purchase_order_id))
    assert number is not None

    out = CliRunner().invoke(main, ["why", "po", number])
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"purchase order {number}")
    line = _line(out.output, rf"{SKU} × \d+ @ [\d,.]+ — why: velocity")
    for words in ("reorder point", "on hand 1", "on order 0", "backorders 2", "need = reorder point",
                  "case pack"):
        assert words in line, f"{words!r} missing from {line!r}"
    data = json.loads(CliRunner().invoke(main, ["why", "po", number, "--json"]).output)
    [row] = data["facts"]["lines"]
    assert row["sku"] == SKU and row["reason"]["on_hand"] == 1 and row["reason"]["need"] >= 1
    assert row["quantity"] == row["reason"]["quantity"]


@pytest.mark.parametrize("args, message", [
    (["sku", "NO-SUCH-SKU"], "no SKU 'NO-SUCH-SKU'"),
    (["order", "424242"], "no order '424242'"),
    (["po", "PO-19990101-9"], "no purchase order 'PO-19990101-9'"),
    (["backorder", "987654"], "no backorder 987654"),
    (["backorder", "abc"], "no backorder 'abc'"),
])
def test_why_unknown_reference_exits_1_on_stderr(db_session: Session, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["why", *args])
    assert result.exit_code == 1
    assert message in result.stderr and result.stdout == ""
