"""The vendor scorecard goes to the buyer on its schedule, once per period, readable and with the
CSV attached (``domain.purchasing.scorecards``)."""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.messaging.types import EmailMessage
from domain.core.business_config import ScorecardSchedule
from domain.core.models import OutboxMessage, PurchaseOrder, PurchaseOrderEvent, PurchaseOrderLine, Sku, Vendor
from domain.messaging.delivery_rules import ProviderSettings, build_message
from domain.purchasing import scorecards

MONDAY_8 = ScorecardSchedule("weekly", 0, time(8, 0))
NY = "America/New_York"


@pytest.mark.parametrize(("now", "schedule", "expected"), [
    (datetime(2026, 12, 7, 12, 59, tzinfo=UTC), MONDAY_8, date(2026, 11, 30)),  # Mon 07:59 New York: last week's
    (datetime(2026, 12, 7, 13, 0, tzinfo=UTC), MONDAY_8, date(2026, 12, 7)),    # Mon 08:00 New York: this week's
    (datetime(2026, 12, 10, 3, 0, tzinfo=UTC), MONDAY_8, date(2026, 12, 7)),    # Wed 22:00: still this week's
    (datetime(2026, 12, 1, 12, 0, tzinfo=UTC), ScorecardSchedule("monthly", 1, time(8, 0)), date(2026, 11, 1)),
    (datetime(2026, 12, 1, 13, 0, tzinfo=UTC), ScorecardSchedule("monthly", 1, time(8, 0)), date(2026, 12, 1)),
    (datetime(2026, 1, 3, 13, 0, tzinfo=UTC), ScorecardSchedule("monthly", 5, time(8, 0)), date(2025, 12, 5)),
    (datetime(2026, 12, 7, 13, 0, tzinfo=UTC), ScorecardSchedule("off"), None),
])
def test_the_period_due_is_the_latest_scheduled_time_passed(now: datetime, schedule: ScorecardSchedule,
                                                            expected: date | None) -> None:
    assert scorecards.period_due(now, NY, schedule) == expected


def _po_with_a_receipt(session: Session) -> None:
    vendor = session.scalar(select(Vendor).where(Vendor.key == "cotton-mill"))
    sku = session.scalar(select(Sku).where(Sku.code == "BED-SHEET-QUEEN-WHT"))
    assert vendor is not None and sku is not None
    po = PurchaseOrder(number="PO-SC-1", vendor_id=vendor.id, state="received", expected_at=date(2026, 12, 1))
    session.add(po)
    session.flush()
    session.add(PurchaseOrderLine(purchase_order_id=po.id, sku_id=sku.id, quantity=10, received_qty=8,
                                  promised_date=date(2026, 12, 1)))
    session.add(PurchaseOrderEvent(purchase_order_id=po.id, kind="received", at=datetime(2026, 12, 3, 15, tzinfo=UTC),
                                   data={"lines": [{"sku_id": sku.id, "sku": sku.code, "quantity": 8}],
                                         "mismatches": [{"kind": "receipt"}]}))
    session.flush()


def test_the_scorecard_is_emailed_once_per_period_with_the_csv(db_session: Session, catalog: Any) -> None:
    _po_with_a_receipt(db_session)
    routes = catalog.notifications.routes
    send = lambda now: scorecards.send_scorecard(  # noqa: E731
        db_session, now, NY, MONDAY_8, "Futon Loft", routes)
    monday = datetime(2026, 12, 7, 13, 5, tzinfo=UTC)
    [outbox_id] = send(monday)
    assert send(monday) == [] and send(datetime(2026, 12, 9, 13, 5, tzinfo=UTC)) == [], "once per period"
    row = db_session.get(OutboxMessage, outbox_id)
    assert row is not None and (row.channel, row.recipient) == ("email", "buyer@futonloft.example")
    message = build_message(row, ProviderSettings(env={"EMAIL_FROM": "x@y.example"}, public_base_url="https://x",
                                                  notifications=catalog.notifications))
    assert isinstance(message, EmailMessage)
    assert message.from_ == "alerts@futonloft.example", "a staff email, from staff_from_email"
    assert message.subject == "Vendor scorecard 2026-09-08 to 2026-12-07: 1 vendor"
    assert "Carolina Cotton Mill (cotton-mill)" in message.text and "Fill rate:              80.0%" in message.text
    assert "Receipt != ship notice: 1 line" in message.text and "Carolina Cotton Mill" in message.html
    [(filename, data, content_type)] = message.attachments
    assert (filename, content_type) == ("vendor-scorecard-2026-12-07.csv", "text/csv")
    header, line = data.decode().splitlines()
    assert header.startswith("vendor_id,vendor_key") and header.endswith("asn_mismatches,receipt_mismatches")
    assert ",cotton-mill," in line and line.endswith(",0,1")
    [next_week] = send(datetime(2026, 12, 14, 13, 5, tzinfo=UTC))
    assert next_week != outbox_id


def test_nobody_routed_means_nothing_sent_and_the_period_not_used_up(db_session: Session, catalog: Any) -> None:
    monday = datetime(2026, 12, 7, 13, 5, tzinfo=UTC)
    assert scorecards.send_scorecard(db_session, monday, NY, MONDAY_8, "Futon Loft", ()) == []
    assert len(scorecards.send_scorecard(db_session, monday, NY, MONDAY_8, "Futon Loft",
                                         catalog.notifications.routes)) == 1
