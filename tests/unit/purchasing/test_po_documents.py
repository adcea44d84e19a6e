"""PO documents: rendering (escaped HTML, plain text), CSV quoting and exact money strings."""
from __future__ import annotations

import base64
import csv
import io
from decimal import Decimal
from typing import Any

import pytest

from connectors.messaging.types import EmailMessage
from domain.core.models import OutboxMessage
from domain.messaging.delivery_rules import ProviderSettings, build_message, email_attachments
from domain.messaging.rendering import RenderError, render_email, render_slack
from domain.purchasing.po_documents import CSV_HEADER, money, po_csv, render_po
from domain.purchasing.reorder import explain, order_quantity

TRICKY = 'Futon, "deluxe" <b>oak</b>'


def context(**overrides: Any) -> dict[str, Any]:
    lines = [
        {"sku": "FUT-1", "title": TRICKY, "quantity": 3, "unit_cost_cents": 1005, "line_total_cents": 3015,
         "unit_cost": money(1005), "line_total": money(3015), "expected_date": "2025-03-01"},
        {"sku": "FUT-2", "title": "Cover", "quantity": 1, "unit_cost_cents": 123456789, "line_total_cents": 123456789,
         "unit_cost": money(123456789), "line_total": money(123456789), "expected_date": None},
    ]
    base = {"business_name": "Futon Loft", "po_id": 7, "po_number": "PO-20250101-7", "date": "2025-01-01",
            "vendor": {"key": "kyoto-frames", "name": "Kyoto Frame Works", "email": "orders@kyoto.example"},
            "ack_within_hours": 48, "ship_to": {"key": "warehouse", "name": "Newark warehouse"},
            "expected_date": "2025-02-01", "currency": "USD", "currency_symbol": "$", "lines": lines,
            "total_cents": 123459804, "total": money(123459804), "ack_link": None,
            "public_base_url": "https://shop.example"}
    return {**base, **overrides}


@pytest.mark.parametrize(("cents", "text"), [(0, "0.00"), (5, "0.05"), (1005, "10.05"), (100, "1.00"),
                                              (123456789, "1234567.89"), (-250, "-2.50"), (10**17 + 1, "1000000000000000.01")])
def test_money_is_exact_decimal_text(cents: int, text: str) -> None:
    assert money(cents) == text


def test_csv_header_quoting_and_money() -> None:
    raw = po_csv(context())
    assert raw.startswith(b"po_number,sku,title,quantity,unit_cost,line_total,expected_date\r\n")
    assert b'"Futon, ""deluxe"" <b>oak</b>"' in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1] == ["PO-20250101-7", "FUT-1", TRICKY, "3", "10.05", "30.15", "2025-03-01"]
    assert rows[2] == ["PO-20250101-7", "FUT-2", "Cover", "1", "1234567.89", "1234567.89", ""]


def test_render_po_text_and_escaped_html() -> None:
    subject, text, html = render_po(context())
    assert subject == "Purchase order PO-20250101-7 from Futon Loft"
    assert TRICKY in text and "3 x $10.05 = $30.15" in text and "Total (USD): $1234598.04" in text
    assert "Newark warehouse" in text and "Kyoto Frame Works" in text and "2025-02-01" in text
    assert "<b>oak</b>" not in html and "&lt;b&gt;oak&lt;/b&gt;" in html
    assert "$1234598.04" in html and "FUT-2" in html and "reply" in text


def test_ack_link_is_shown_when_present() -> None:
    link = "https://shop.example/po/ack/abc.def"
    _, text, html = render_po(context(ack_link=link))
    assert link in text and f'href="{link}"' in html


def test_vendor_email_includes_the_po_and_a_missing_fact_fails() -> None:
    email = render_email("po_to_vendor", context())
    assert email.subject == "Purchase order PO-20250101-7 from Futon Loft"
    assert "PO-20250101-7.csv" in email.text and "$30.15" in email.text
    assert "&lt;b&gt;oak" in email.html and "<b>oak" not in email.html
    broken = context()
    del broken["vendor"]
    with pytest.raises(RenderError):
        render_email("po_to_vendor", broken)


APPROVAL = {"po_number": "PO-20250101-9", "po_id": 9, "vendor": "Kyoto <Frames>", "total_cents": 312345,
            "limit_cents": 250000, "lines": [
                {"sku": "FUT-1", "title": "<!channel> frame", "quantity": 3, "line_total_cents": 300000,
                 "reason": {"open_backorders": 2, "position": -1}},
                {"sku": "FUT-2", "title": "Cover", "quantity": 1, "line_total_cents": 12345, "reason": {}}]}


def test_needs_approval_email_and_slack() -> None:
    email = render_email("po_needs_approval", APPROVAL)
    assert "$3,123.45" in email.subject and "$2,500.00" in email.text
    assert "backorders po approve 9" in email.text and "open backorders 2" in email.text
    assert "Kyoto &lt;Frames&gt;" in email.html
    slack = render_slack("po_needs_approval", APPROVAL)
    assert "PO-20250101-9 for Kyoto &lt;Frames&gt; totals $3,123.45" in slack["text"]
    assert "`backorders po approve 9`" in slack["text"]
    assert "<!channel>" not in str(slack["blocks"]) and "&lt;!channel&gt;" in str(slack["blocks"])


def test_needs_approval_shows_why_each_line_was_ordered() -> None:
    reason = order_quantity(reorder_qty=6, velocity=Decimal("0.3771"), lead_time_days=21, open_backorders=2,
                            safety_stock=2, on_hand=-2, on_order=0, case_pack=1, min_order_units=0,
                            unit_cost_cents=31000, min_order_cents=0, reported_shortfall=2, reorder_point=5,
                            demand={"source": "order_lines", "window_days": 7, "units": 2}).as_dict()
    why = explain(reason)
    assert why.startswith("velocity 0.3771/day (2 sold on recorded orders over 7 days); reorder point 10")
    assert "need = reorder point 10 + promised 2" in why and why.endswith("→ 12")
    context = {**APPROVAL, "lines": [{**APPROVAL["lines"][0], "quantity": 12, "reason": reason, "why": why}]}
    email = render_email("po_needs_approval", context)
    assert f"why: {why}" in email.text and "reorder point 10" in email.html
    assert "reorder point 10 = max(configured 5" in str(render_slack("po_needs_approval", context)["blocks"])


def test_outbox_attachments_become_email_attachments() -> None:
    data = po_csv(context())
    row = OutboxMessage(id=1, idempotency_key="po:7:email", channel="email", template="po_to_vendor",
                        recipient="orders@kyoto.example", context={**context(), "attachments": [
                            {"filename": "PO-20250101-7.csv", "content_type": "text/csv",
                             "content_b64": base64.b64encode(data).decode()}]})
    message = build_message(row, ProviderSettings(env={"EMAIL_FROM": "a@b.example"}, public_base_url="https://x"))
    assert isinstance(message, EmailMessage)
    assert message.attachments == [("PO-20250101-7.csv", data, "text/csv")]
    with pytest.raises(RenderError, match="attachment 0 is malformed"):
        email_attachments({"attachments": [{"filename": "x.csv", "content_b64": "%%%"}]})
