"""A chosen substitute is ordered for the customer on the store the order came from.

Real database, the product's connectors over real HTTP to the Shopify and WooCommerce stand-ins;
the placement task runs in-process (``apply``) so each step can be asserted.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.shopify import ShopifyConnector
from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from connectors.woocommerce import WooCommerceConnector
from domain.core.clock import utcnow
from domain.core.models import Alert, AuditLog, Backorder, OutboxMessage, Sku, Store, SubstituteOrder
from domain.journey import customer_journey, substitutes
from domain.journey.links import LinkClaim, sign
from domain.stock.levels import learn_listings, record_batch
from domain.stock.orders import record_orders
from sandbox.server import SandboxServer
from tests.connectors.conftest import Admin, sandbox_app

ORIGINAL, SUBSTITUTE = "FUT-FRM-OAK-FULL", "FUT-FRM-WAL-FULL"  # 649.00 and 799.00 in the example store


@pytest.fixture(scope="module")
def commerce() -> Iterator[SandboxServer]:
    with SandboxServer(app=sandbox_app("sandbox.shopify", "sandbox.woocommerce")) as server:
        yield server


def _settings(catalog: Any, **policy: Any) -> customer_journey.Settings:
    config = replace(catalog, policy=replace(catalog.policy, **policy), store_policies={
        key: replace(value, **policy) for key, value in catalog.store_policies.items()})
    return customer_journey.Settings(config=config, public_base_url="http://testserver", secret_key=os.environ["SECRET_KEY"])


def _point_store(session: Session, key: str, admin: Admin) -> Store:
    store = session.scalar(select(Store).where(Store.key == key))
    assert store is not None
    store.base_url = admin.root
    return store


def _stock(session: Session, store: Store, location: str, code: str, available: int) -> None:
    record_batch(session, store.id, [StockRecord(external_id=f"v-{code}", sku=code, location_external_id=location,
                                                 available=available, on_hand=available, updated_at=utcnow())])


def _offered(session: Session, store: Store, record: Any, settings: customer_journey.Settings) -> int:
    [backorder_id] = record_orders(session, store.id, [record]).backorder_ids
    customer_journey.offer(session, backorder_id, settings)
    return backorder_id


def _substitute_chosen(session: Session, store: Store, listing: str, record: Any,
                       settings: customer_journey.Settings) -> int:
    """At the store's warehouse the substitute is in stock (listed there as ``listing``) and the
    original is not; ``record``'s order is offered and its customer chooses the substitute. The
    backorder's id."""
    _stock(session, store, "655441491", SUBSTITUTE, 3)
    _stock(session, store, "655441491", ORIGINAL, 0)
    learn_listings(session, store.id, [StockRecord(external_id=listing, sku=SUBSTITUTE)])
    backorder_id = _offered(session, store, record, settings)
    customer_journey.choose(session, backorder_id, "substitute", settings, source="link", substitute=SUBSTITUTE)
    session.commit()
    return backorder_id


def _one_original(number: str) -> OrderRecord:
    """Order ``#number``: one of the original, by customer A."""
    line = OrderLineRecord(external_id=f"{number}-1", sku=ORIGINAL, quantity=1, price_cents=64900)
    return OrderRecord(external_id=number, number=f"#{number}", placed_at=utcnow(), email="a@example.com",
                       phone=None, customer_name="A", lines=[line])


def _place(row_id: int, settings: customer_journey.Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    from tasks.followups import place_substitute

    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    return place_substitute.apply(args=[row_id]).get()


def _confirmation(session: Session, backorder_id: int) -> OutboxMessage:
    return session.scalar(select(OutboxMessage).where(
        OutboxMessage.idempotency_key == f"backorder:{backorder_id}:backorder_confirmed:substitute:email"))


def _page(settings: customer_journey.Settings, backorder_id: int, monkeypatch: pytest.MonkeyPatch) -> str:
    from workers import replies

    monkeypatch.setattr(replies, "current_settings", lambda: settings)
    token = sign(settings.secret_key, LinkClaim(backorder_id, "substitute",
                                                int((utcnow() + timedelta(days=3)).timestamp()), SUBSTITUTE))
    app = FastAPI()
    app.include_router(replies.router)
    with TestClient(app, base_url="http://testserver") as client:
        response = client.get(f"/b/{token}")
    assert response.status_code == 200
    return response.text


def test_shopify_substitute_is_a_draft_order_with_the_difference_due(
        db_session: Session, catalog: Any, commerce: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dearer by 150.00, above the 25.00 the store absorbs: the customer is asked for 150.00 on
    page and email, and the Shopify order carries it as payment pending."""
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_sandbox")
    settings = _settings(catalog)
    shop = Admin(commerce.base_url, "shopify", "shop-substitute")
    shop.post("config", {"bucket_size": 10_000, "leak_rate": 10_000})
    seeded = shop.post("seed", {"items": [{"sku": ORIGINAL, "available": 0, "inventory_policy": "continue"},
                                          {"sku": SUBSTITUTE, "available": 3}]})["items"]
    shop.post("set_price", {"sku": SUBSTITUTE, "price": "799.00"})
    created = shop.post("create_order", {"lines": [{"sku": ORIGINAL, "quantity": 1, "price": "649.00"}],
                                         "email": "jamie@example.com"})["order"]
    store = _point_store(db_session, "shopify-main", shop)
    _stock(db_session, store, "655441491", SUBSTITUTE, 3)
    _stock(db_session, store, "655441491", ORIGINAL, 0)
    learn_listings(db_session, store.id, [StockRecord(external_id=seeded[1]["variant_id"], sku=SUBSTITUTE,
                                                      inventory_item_id=seeded[1]["inventory_item_id"])])
    backorder_id = _offered(db_session, store, ShopifyConnector.order_record(created), settings)
    db_session.commit()

    page = _page(settings, backorder_id, monkeypatch)
    assert "$150.00 more than the $649.00 you paid: the difference of $150.00 is due" in page

    outcome, follow_ups = customer_journey.choose(db_session, backorder_id, "substitute", settings, source="link",
                                         substitute=SUBSTITUTE)
    db_session.commit()
    row = db_session.scalar(select(SubstituteOrder).where(SubstituteOrder.backorder_id == backorder_id))
    assert outcome.result == "applied" and row is not None and (substitutes.PLACE, (row.id,)) in follow_ups
    assert (row.settlement, row.difference_cents, row.due_cents, row.state) == ("charge", 15000, 15000, "pending")
    email = _confirmation(db_session, backorder_id)
    assert email.context["substitute_price"]["due_cents"] == 15000
    from domain.messaging.rendering import render_email

    rendered = render_email("backorder_confirmed", email.context)
    assert "the difference of $150.00 is due" in rendered.text and "the difference of $150.00 is due" in rendered.html

    assert _place(row.id, settings, monkeypatch) == "settled"
    db_session.expire_all()
    row = db_session.get(SubstituteOrder, row.id)
    assert row is not None and row.state == "settled" and row.external_id
    placed = shop.get(f"state/orders/{row.external_id}")
    assert placed["financial_status"] == "pending" and placed["total_price"] == "150.00"
    assert [line["sku"] for line in placed["line_items"]] == [SUBSTITUTE]
    [draft] = shop.get("state/draft_orders")["draft_orders"]
    assert draft["applied_discount"]["amount"] == "649.00" and f"[idempotency:substitute-{backorder_id}]" in draft["note"]
    assert _place(row.id, settings, monkeypatch) == "nothing to do", "a second run places nothing"
    assert len(shop.get("state/draft_orders")["draft_orders"]) == 1
    assert db_session.scalar(select(Alert.id).where(Alert.kind == "message.failed")) is None


def test_woocommerce_cheaper_substitute_is_ordered_paid_and_the_difference_refunded(
        db_session: Session, catalog: Any, commerce: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOO_CONSUMER_KEY", "ck_sandbox")
    monkeypatch.setenv("WOO_CONSUMER_SECRET", "cs_sandbox")
    settings = _settings(catalog)
    db_session.execute(update(Sku).where(Sku.code == SUBSTITUTE).values(price_cents=59900))
    woo = Admin(commerce.base_url, "woocommerce", "woo-substitute")
    seeded = woo.post("seed", {"items": [{"sku": ORIGINAL, "stock_quantity": 0, "backorders": "notify"},
                                         {"sku": SUBSTITUTE, "stock_quantity": 3}]})["items"]
    created = woo.post("create_order", {"lines": [{"sku": ORIGINAL, "quantity": 1, "price": "649.00"}],
                                        "billing": {"email": "sam@example.com", "first_name": "Sam"}})["order"]
    store = _point_store(db_session, "woo-outlet", woo)
    _stock(db_session, store, "default", SUBSTITUTE, 3)
    _stock(db_session, store, "default", ORIGINAL, 0)
    learn_listings(db_session, store.id, [StockRecord(external_id=seeded[1]["id"], sku=SUBSTITUTE)])
    backorder_id = _offered(db_session, store, WooCommerceConnector.order_record(created), settings)
    db_session.commit()

    assert "we will refund the difference of $50.00" in _page(settings, backorder_id, monkeypatch)
    customer_journey.choose(db_session, backorder_id, "substitute", settings, source="link", substitute=SUBSTITUTE)
    db_session.commit()
    row = db_session.scalar(select(SubstituteOrder).where(SubstituteOrder.backorder_id == backorder_id))
    assert row is not None and (row.settlement, row.difference_cents, row.due_cents) == ("refund", -5000, 0)
    from domain.messaging.rendering import render_email

    text = render_email("backorder_confirmed", _confirmation(db_session, backorder_id).context).text
    assert "we will refund the difference of $50.00 to your original payment method" in text

    assert _place(row.id, settings, monkeypatch) == "settled"
    db_session.expire_all()
    row = db_session.get(SubstituteOrder, row.id)
    assert row is not None and row.refund_ref
    placed = woo.get(f"state/orders/{row.external_id}")
    assert placed["status"] == "processing" and placed["total"] == "0.00"
    assert placed["line_items"][0]["sku"] == SUBSTITUTE and placed["billing"]["email"] == "sam@example.com"
    original = woo.get(f"state/orders/{created['id']}")
    assert [r["amount"] for r in original["refunds_full"]] == ["50.00"]
    settled = db_session.scalar(select(AuditLog).where(AuditLog.action == "substitute.settled"))
    assert settled is not None and settled.data["refunded_cents"] == 5000


def test_a_substitute_that_needs_staff_is_its_own_event_never_message_failed(
        db_session: Session, catalog: Any, commerce: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Policy ``staff``: nothing is placed, staff get ``backorder.substitute_requested`` with the
    figures; approving it places the order."""
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_sandbox")
    settings = _settings(catalog, substitute_price_difference="staff")
    shop = Admin(commerce.base_url, "shopify", "shop-staff")
    shop.post("config", {"bucket_size": 10_000, "leak_rate": 10_000})
    seeded = shop.post("seed", {"items": [{"sku": ORIGINAL, "available": 0}, {"sku": SUBSTITUTE, "available": 3}]})
    created = shop.post("create_order", {"lines": [{"sku": ORIGINAL, "quantity": 1, "price": "649.00"}]})["order"]
    store = _point_store(db_session, "shopify-main", shop)
    _stock(db_session, store, "655441491", SUBSTITUTE, 3)
    _stock(db_session, store, "655441491", ORIGINAL, 0)
    learn_listings(db_session, store.id, [StockRecord(external_id=seeded["items"][1]["variant_id"], sku=SUBSTITUTE)])
    backorder_id = _offered(db_session, store, ShopifyConnector.order_record(created), settings)

    _, follow_ups = customer_journey.choose(db_session, backorder_id, "substitute", settings, source="link",
                                   substitute=SUBSTITUTE)
    db_session.commit()

    kinds = set(db_session.scalars(select(Alert.kind)))
    assert kinds == {"backorder.substitute_requested"}, "never filed as message.failed"
    alert = db_session.scalar(select(Alert).where(Alert.kind == "backorder.substitute_requested"))
    assert alert is not None and alert.data["difference_cents"] == 15000 and "approve" in alert.message
    staff_mail = db_session.scalar(select(OutboxMessage).where(  # routed in the example store's file
        OutboxMessage.recipient == "support@futonloft.example"))
    assert staff_mail is not None and staff_mail.template == "stock_alert"
    from domain.messaging.rendering import render_email

    assert "needs staff" in render_email("stock_alert", staff_mail.context).subject
    row = db_session.scalar(select(SubstituteOrder).where(SubstituteOrder.backorder_id == backorder_id))
    assert row is not None and row.state == "awaiting_staff"
    assert not [f for f in follow_ups if f[0] == substitutes.PLACE]
    assert _place(row.id, settings, monkeypatch) == "nothing to do"
    assert shop.get("state/draft_orders")["draft_orders"] == []
    assert db_session.get(Backorder, backorder_id).state == "substituted"  # type: ignore[union-attr]

    assert substitutes.approve(db_session, backorder_id) == [(substitutes.PLACE, (row.id,))]
    db_session.commit()
    assert _place(row.id, settings, monkeypatch) == "settled"
    assert len(shop.get("state/draft_orders")["draft_orders"]) == 1


def test_a_substitute_the_platform_refuses_alerts_staff_once(
        db_session: Session, catalog: Any, commerce: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_sandbox")
    settings = _settings(catalog)
    shop = Admin(commerce.base_url, "shopify", "shop-refuses")
    shop.post("config", {"bucket_size": 10_000, "leak_rate": 10_000})
    shop.post("seed", {"items": [{"sku": ORIGINAL, "available": 0}]})
    created = shop.post("create_order", {"lines": [{"sku": ORIGINAL, "quantity": 1, "price": "649.00"}]})["order"]
    store = _point_store(db_session, "shopify-main", shop)
    backorder_id = _substitute_chosen(db_session, store, "9999", ShopifyConnector.order_record(created),
                                      settings)  # the listing is gone on Shopify
    row_id = db_session.scalar(select(SubstituteOrder.id).where(SubstituteOrder.backorder_id == backorder_id))

    assert _place(row_id, settings, monkeypatch) == "failed"
    db_session.expire_all()
    row = db_session.get(SubstituteOrder, row_id)
    assert row is not None and row.state == "failed" and "does not exist" in (row.last_error or "")
    [alert] = db_session.scalars(select(Alert)).all()
    assert alert.kind == "backorder.substitute_requested" and "Finish it by hand" in alert.message
    assert _place(row_id, settings, monkeypatch) == "nothing to do"


def test_a_store_without_its_credentials_set_is_staff_work_not_a_dead_letter(
        db_session: Session, catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOPIFY_ACCESS_TOKEN", raising=False)
    settings = _settings(catalog)
    store = db_session.scalar(select(Store).where(Store.key == "shopify-main"))
    assert store is not None
    backorder_id = _substitute_chosen(db_session, store, "1", _one_original("78"), settings)
    row_id = db_session.scalar(select(SubstituteOrder.id).where(SubstituteOrder.backorder_id == backorder_id))

    assert _place(row_id, settings, monkeypatch) == "failed"
    db_session.expire_all()
    row = db_session.get(SubstituteOrder, row_id)
    assert row is not None and row.state == "failed" and "SHOPIFY_ACCESS_TOKEN" in (row.last_error or "")
    assert db_session.scalar(select(Alert.kind)) == "backorder.substitute_requested"


def test_the_sweeper_finds_a_substitute_whose_placement_was_lost(db_session: Session, catalog: Any) -> None:
    settings = _settings(catalog)
    store = db_session.scalar(select(Store).where(Store.key == "shopify-main"))
    assert store is not None
    backorder_id = _substitute_chosen(db_session, store, "1", _one_original("77"), settings)
    row = db_session.scalar(select(SubstituteOrder).where(SubstituteOrder.backorder_id == backorder_id))
    assert row is not None
    assert substitutes.stranded(db_session, row.updated_at + timedelta(minutes=1), timedelta(minutes=2)) == []
    assert substitutes.stranded(db_session, row.updated_at + timedelta(minutes=3), timedelta(minutes=2)) == [row.id]
    claimed = substitutes.claim(db_session, row.id, row.updated_at + timedelta(minutes=3))
    assert claimed is not None and claimed.order.search_since is None, "first attempt: nothing to look up"
    assert substitutes.claim(db_session, row.id, row.updated_at + timedelta(minutes=4)) is None, "leased"
    assert substitutes.stranded(db_session, row.updated_at + timedelta(minutes=5), timedelta(minutes=2)) == []


def test_cli_approve_names_a_backorder_without_a_substitute(db_session: Session) -> None:
    from click.testing import CliRunner

    from workers.cli import main

    result = CliRunner().invoke(main, ["substitute", "approve", "424242"])
    assert result.exit_code != 0 and "backorder 424242 has no substitute" in result.output


def test_the_placement_task_and_its_sweeper_are_registered_and_scheduled() -> None:
    import celeryconfig
    from domain.purchasing import merchandising
    from flows.spine import task_name
    from workers.app import app

    app.loader.import_default_modules()
    assert {task_name(substitutes.PLACE), task_name(merchandising.PLAN), "tasks.followups.substitutes_stranded"} <= set(app.tasks)
    assert any(entry["task"] == "tasks.followups.substitutes_stranded"
               for entry in celeryconfig.beat_schedule.values())
