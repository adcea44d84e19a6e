"""Customers read deadlines in their own time zone, else the business's, with the zone named —
never a bare UTC figure (``domain.messaging.localtime``), in emails, texts and the reply page alike."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core.models import Backorder, Order, OrderLine, Store
from domain.journey import customer_journey
from domain.messaging.rendering import render_email, render_sms
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

# 02:00 UTC on December 5 is still December 4 in the Americas: the date must move with the zone.
DEADLINE = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
SKU = "FUT-FRM-OAK-FULL"


@pytest.fixture
def settings(catalog: Any) -> customer_journey.Settings:
    return customer_journey.Settings(config=catalog, public_base_url="https://shop.example", secret_key="k" * 40)


def _backorder(session: Session, customer_timezone: str | None) -> Backorder:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    record_batch(session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id="v", sku=SKU, location_external_id="655441491", available=0, on_hand=0)])
    [backorder_id] = record_orders(session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id="501", number="#501", placed_at=DEADLINE, email="ana@example.com", phone="+12015550123",
        customer_name="Ana", lines=[OrderLineRecord(external_id="501-1", sku=SKU, quantity=1, title="Oak frame",
                                                    price_cents=64900)])]).backorder_ids
    backorder = session.get(Backorder, backorder_id)
    assert backorder is not None
    order = session.scalar(select(Order).join(OrderLine, OrderLine.order_id == Order.id)
                           .where(OrderLine.id == backorder.order_line_id))
    assert order is not None
    order.customer_timezone = customer_timezone
    backorder.deadline_at, backorder.consent_required = DEADLINE, True
    session.flush()
    return backorder


def _everything_the_customer_reads(session: Session, backorder: Backorder, settings: customer_journey.Settings) -> list[str]:
    context = customer_journey.message_context(session, backorder, settings, DEADLINE, old_eta="2026-11-30")
    notice, reminder = render_email("backorder_notice", context), render_email("backorder_reminder", context)
    renewed = render_email("backorder_renewed_notice", context)
    return [notice.text, notice.html, reminder.subject, reminder.text, render_sms("backorder_notice", context),
            render_sms("backorder_reminder", context), renewed.text, renewed.html,
            render_sms("backorder_renewed_notice", context)]


def test_a_utc_deadline_is_shown_in_the_customers_zone(db_session: Session, settings: customer_journey.Settings) -> None:
    backorder = _backorder(db_session, "America/Los_Angeles")
    texts = _everything_the_customer_reads(db_session, backorder, settings)
    for text in texts[:2] + texts[3:]:
        assert "December 4, 2026 at 18:00 PST" in text
    assert "please answer by December 4, 2026" in texts[2], "the subject's date is the customer's date"
    assert not any("UTC" in text or "02:00" in text or "December 5" in text for text in texts)


def test_without_a_customer_zone_the_business_zone_is_used(db_session: Session, settings: customer_journey.Settings) -> None:
    backorder = _backorder(db_session, None)
    assert settings.config.timezone == "America/New_York"
    texts = _everything_the_customer_reads(db_session, backorder, settings)
    for text in texts[:2] + texts[3:]:
        assert "December 4, 2026 at 21:00 EST" in text
    assert not any("UTC" in text for text in texts)


def test_an_unknown_customer_zone_falls_back_to_the_business_zone(db_session: Session,
                                                                   settings: customer_journey.Settings) -> None:
    backorder = _backorder(db_session, "Mars/Olympus_Mons")
    context = customer_journey.message_context(db_session, backorder, settings, DEADLINE)
    assert context["timezone"] == "America/New_York" and context["deadline"] == "2026-12-04T21:00:00-05:00"


def test_the_reply_page_shows_the_deadline_in_the_customers_zone(db_session: Session,
                                                                 settings: customer_journey.Settings) -> None:
    from workers import replies

    backorder = _backorder(db_session, "Europe/Berlin")
    backorder.state = "notified"
    db_session.flush()
    view = replies.load_view(db_session, backorder.id, settings)
    assert view is not None and view.timezone == "Europe/Berlin"
    response = replies.page("choice", 200, choice="wait", action="/b/t", substitute=None, substitute_title=None,
                            substitute_price_cents=None, **view.context())
    html = bytes(response.body).decode()
    assert "Please answer by December 5, 2026 at 03:00 CET" in html and "UTC" not in html
