"""The customer-segment check before the offer: the example store's tiers on the real database.

``high_value`` (lifetime value ≥ 1,500.00) gets 48 h more to answer and 10 % store-credit bonus;
``repeat`` (≥ 2 earlier orders) gets a 15.00 bonus. The credit the customer chooses is paid with
the bonus, through the Shopify stand-in.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.shopify import ShopifyConnector
from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core.models import AuditLog, Backorder, Order, OutboxMessage, Sku, Store
from domain.journey import customer_journey
from domain.messaging.rendering import render_email
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders
from sandbox.server import SandboxServer
from tests.connectors.conftest import Admin, sandbox_app

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SKU = "MAT-HYB-KING"


@pytest.fixture
def settings(catalog: Any, db_session: Session, monkeypatch: pytest.MonkeyPatch) -> customer_journey.Settings:
    settings = customer_journey.Settings(config=catalog, public_base_url="https://shop.example",
                                secret_key=os.environ["SECRET_KEY"])
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    db_session.execute(update(Sku).where(Sku.code == SKU).values(vendor_id=None))  # no date: consent, no date cap
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    record_batch(db_session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id="v", sku=SKU, location_external_id="655441491", available=0, on_hand=0, updated_at=NOW)])
    return settings


def _history(session: Session, email: str, totals: list[int]) -> None:
    store_id = session.scalar(select(Store.id).where(Store.key == "woo-outlet"))  # history counts on any store
    for n, total in enumerate(totals):
        session.add(Order(store_id=store_id, external_id=f"h-{email}-{n}", number=f"H{n}", email=email.upper(),
                          total_cents=total, status="closed", placed_at=NOW - timedelta(days=30 + n)))
    session.flush()


def _offer(session: Session, settings: customer_journey.Settings, email: str, number: str = "5001",
           external_id: str | None = None, line_id: str | None = None) -> Backorder:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    [backorder_id] = record_orders(session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id=external_id or number, number=f"#{number}", placed_at=NOW, email=email, phone=None,
        customer_name="Pat", total_cents=189900,
        lines=[OrderLineRecord(external_id=line_id or f"{number}-1", sku=SKU, quantity=1, price_cents=189900)])
    ]).backorder_ids
    customer_journey.offer(session, backorder_id, settings, now=NOW)
    backorder = session.get(Backorder, backorder_id)
    assert backorder is not None
    return backorder


def _decision(session: Session, backorder_id: int) -> dict[str, Any]:
    row = session.scalar(select(AuditLog).where(AuditLog.action == "backorder.segment",
                                                AuditLog.subject_id == str(backorder_id)))
    assert row is not None
    return row.data


def test_a_high_value_customer_gets_a_longer_sla_and_a_credit_bonus(db_session: Session,
                                                                    settings: customer_journey.Settings) -> None:
    _history(db_session, "pat@example.com", [120000, 60000])  # 1,800.00 over two orders

    backorder = _offer(db_session, settings, "pat@example.com")

    assert (backorder.segment, backorder.credit_bonus_cents) == ("high_value", 18990), "10 % of 1,899.00"
    assert backorder.deadline_at == NOW + timedelta(hours=72 + 48)
    decision = _decision(db_session, backorder.id)
    assert (decision["prior_orders"], decision["lifetime_value_cents"]) == (2, 180000)
    assert decision["rule"]["min_lifetime_value_cents"] == 150000 and decision["sla_extra_s"] == 172800
    notice = db_session.scalar(select(OutboxMessage).where(OutboxMessage.template == "backorder_notice",
                                                           OutboxMessage.channel == "email"))
    assert notice is not None and notice.context["credit_total_cents"] == 189900 + 18990
    email = render_email("backorder_notice", notice.context)
    assert "Cancel this item for store credit (+$189.90 bonus)" in email.text
    assert "(+$189.90 bonus)" in email.html and "an extra $189.90" in email.html


def test_a_repeat_customer_gets_the_fixed_bonus_and_the_usual_sla(db_session: Session,
                                                                  settings: customer_journey.Settings) -> None:
    _history(db_session, "sam@example.com", [30000, 20000])
    backorder = _offer(db_session, settings, "sam@example.com")
    assert (backorder.segment, backorder.credit_bonus_cents) == ("repeat", 1500)
    assert backorder.deadline_at == NOW + timedelta(hours=72)


def test_a_new_customer_has_no_tier_and_the_check_is_still_kept(db_session: Session,
                                                                settings: customer_journey.Settings) -> None:
    _history(db_session, "other@example.com", [500000])
    backorder = _offer(db_session, settings, "new@example.com")
    assert (backorder.segment, backorder.credit_bonus_cents) == (None, 0)
    assert backorder.deadline_at == NOW + timedelta(hours=72)
    decision = _decision(db_session, backorder.id)
    assert decision["segment"] is None and decision["prior_orders"] == 0
    assert decision["rule"]["checked"] == ["high_value", "repeat"]


@pytest.fixture
def shop() -> Iterator[Admin]:
    with SandboxServer(app=sandbox_app("sandbox.shopify")) as server:
        admin = Admin(server.base_url, "shopify", "shop-segments")
        admin.post("config", {"bucket_size": 10_000, "leak_rate": 10_000})
        yield admin


def test_the_credit_bonus_is_paid_with_the_store_credit(db_session: Session, settings: customer_journey.Settings,
                                                        shop: Admin, monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.followups import refund

    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_sandbox")
    shop.post("seed", {"items": [{"sku": SKU, "available": 0, "inventory_policy": "continue"}]})
    created = shop.post("create_order", {"lines": [{"sku": SKU, "quantity": 1, "price": "1899.00"}],
                                         "email": "pat@example.com"})["order"]
    store = db_session.scalar(select(Store).where(Store.key == "shopify-main"))
    assert store is not None
    store.base_url = shop.root
    _history(db_session, "pat@example.com", [200000])
    record = ShopifyConnector.order_record(created)
    backorder = _offer(db_session, settings, "pat@example.com", number="1001", external_id=record.external_id,
                       line_id=record.lines[0].external_id)
    customer_journey.choose(db_session, backorder.id, "credit", settings, source="link", now=NOW + timedelta(hours=1))
    db_session.commit()

    refund.apply(args=[backorder.id]).get()

    [card] = shop.get("state/gift_cards")["gift_cards"]
    assert card["initial_value"] == "2088.90", "1,899.00 plus the high-value tier's 10 %"
