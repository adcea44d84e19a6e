"""Shopify's ``orders/fulfilled``, ``refunds/create`` and ``inventory_levels/connect`` with a real
worker: the product's web app against the Shopify stand-in, which sends each signed with
``X-Shopify-Hmac-Sha256``. Each is stored once (a redelivery is a duplicate), a tampered copy is
refused, and each does what it says:

* a fulfilled order whose line was backordered: the backorder is shipped and its customer gets the
  ``backorder_shipped`` notice once, with the fulfillment's carrier and tracking number;
* a refund made in Shopify's admin: kept against the order (``backorders why order N``), and our
  own refund payment of the same amount for that order, not sent yet, settled by it instead of paid;
* an item connected to a location the file does not map: the location is tracked from that event
  on, its figure stored, and the next update there applied, where before it was quarantined.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import requests
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import (AuditLog, Backorder, InboxEvent, Location, Order, OutboxMessage, RefundDecision,
                                RefundExecution, Sku, StockLevel, Store, StoreLocation)
from tests.conftest import wait_for
from tests.integration.stock.shopify_admin import STORE, admin, once_and_untampered
from tests.stack import Stack

SKU = "FUT-FRM-OAK-FULL"
TOKEN = {"X-Shopify-Access-Token": "shpat_sandbox"}

def _order(stack: Stack, session: Session, price: str = "649.00") -> tuple[dict[str, Any], Order]:
    created = admin(stack, "create_order", {"lines": [{"sku": SKU, "quantity": 1, "price": price}],
                                            "email": "jamie@example.com", "phone": "+12015550123"})
    assert all(hook["status"] == 200 for hook in created["webhooks"])
    order = wait_for(lambda: session.expire_all() or session.scalar(
        select(Order).where(Order.external_id == created["order"]["id"])))
    assert isinstance(order, Order)
    return created["order"], order


def test_a_fulfilled_backordered_line_tells_its_customer_it_shipped(stack: Stack, db_session: Session) -> None:
    admin(stack, "set_stock", {"sku": SKU, "available": 0})
    placed, order = _order(stack, db_session)
    backorder = wait_for(lambda: db_session.expire_all() or db_session.scalar(
        select(Backorder).where(Backorder.state == "notified")))
    assert isinstance(backorder, Backorder)

    fulfilled = admin(stack, "fulfill", {"order_id": placed["id"], "tracking_company": "UPS",
                                         "tracking_number": "1Z999AA10123456784"})
    assert [hook["status"] for hook in fulfilled["webhooks"]] == [200]
    wait_for(lambda: db_session.expire_all() or db_session.get(Backorder, backorder.id).state == "shipped")  # type: ignore[union-attr]
    once_and_untampered(stack, db_session, "orders/fulfilled", ("1Z999AA10123456784", "1Z000000000000000"))

    def shipped_notices() -> list[OutboxMessage]:
        db_session.expire_all()
        return list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.template == "backorder_shipped")))

    notices = wait_for(shipped_notices)
    assert {message.channel for message in notices} == {"email", "sms"}  # type: ignore[union-attr]
    assert all(message.context.get("tracking_number") == "1Z999AA10123456784" and message.context.get("carrier") == "UPS"
               for message in notices)  # type: ignore[union-attr]
    assert len(shipped_notices()) == len(notices), "a redelivered fulfillment tells nobody again"  # type: ignore[arg-type]


def test_a_refund_made_in_shopify_is_kept_on_the_order_and_settles_our_unsent_payment(
        stack: Stack, db_session: Session) -> None:
    placed, order = _order(stack, db_session, price="120.00")
    # a refund of ours for this order, decided and planned but not sent yet
    decision = RefundDecision(request_id="TKT-77", order_id=order.id, order_number=order.number, reason="damaged",
                              amount_asked_cents=12000, decision="approve", amount_approved_cents=12000,
                              settle_as="refund", rule_name="within policy")
    db_session.add(decision)
    db_session.flush()
    execution = RefundExecution(decision_id=decision.id, order_id=order.id, route="store", account=STORE,
                                provider="shopify", kind="refund", amount_cents=12000, currency="USD",
                                idempotency_key=f"refund-decision-{decision.id}", state="pending",
                                due_at=utcnow() + timedelta(hours=1))
    other = RefundDecision(request_id="TKT-78", order_id=order.id, order_number=order.number, reason="late",
                           amount_asked_cents=500, decision="approve", amount_approved_cents=500, settle_as="refund",
                           rule_name="within policy")
    db_session.add_all([execution, other])
    db_session.flush()
    unrelated = RefundExecution(decision_id=other.id, order_id=order.id, route="store", account=STORE,
                                provider="shopify", kind="refund", amount_cents=500, currency="USD",
                                idempotency_key=f"refund-decision-{other.id}", state="pending",
                                due_at=utcnow() + timedelta(hours=1))
    db_session.add(unrelated)
    db_session.commit()

    # staff refund the order in Shopify's admin (the admin calls the same Refund resource)
    api = f"{stack.sandbox}/shopify/{STORE}/admin/api/2025-01/orders/{placed['id']}"
    [sale] = requests.get(f"{api}/transactions.json", headers=TOKEN, timeout=10).json()["transactions"]
    made = requests.post(f"{api}/refunds.json", headers=TOKEN, timeout=10, json={"refund": {
        "note": "customer called: damaged", "transactions": [
            {"parent_id": sale["id"], "amount": "120.00", "kind": "refund", "gateway": sale["gateway"]}]}})
    assert made.status_code == 201, made.text
    refund_id = str(made.json()["refund"]["id"])

    def kept() -> list[AuditLog]:
        db_session.expire_all()
        return list(db_session.scalars(select(AuditLog).where(AuditLog.action == "order.store_refund")))

    wait_for(kept)
    once_and_untampered(stack, db_session, "refunds/create", ('"120.00"', '"12.00"'))
    [entry] = kept()
    assert entry.subject_id == str(order.id) and entry.data["refund_id"] == refund_id
    assert entry.data["amount_cents"] == 12000 and entry.data["by_us"] is None
    assert entry.data["reconciled_payment"] == execution.id

    db_session.expire_all()
    settled = db_session.get(RefundExecution, execution.id)
    assert settled is not None and settled.state == "succeeded" and settled.provider_ref == f"{STORE}:{refund_id}"
    assert db_session.get(RefundExecution, unrelated.id).state == "pending"  # type: ignore[union-attr]
    refunds = admin(stack, f"state/orders/{placed['id']}")["refunds"]
    assert len(refunds) == 1, "the customer was refunded once, by hand, and not again by us"

    from workers.cli import main
    why = CliRunner().invoke(main, ["why", "order", order.number])
    assert why.exit_code == 0, why.output
    assert f"refunded 120.00 USD at {STORE} (refund {refund_id}) by hand at the store" in why.output
    assert f"settled our unsent payment {execution.id} of decision {decision.id}" in why.output
    facts = json.loads(CliRunner().invoke(main, ["why", "order", order.number, "--json"]).output)
    assert [r["refund_id"] for r in facts["facts"]["orders"][0]["store_refunds"]] == [refund_id]


def _level(session: Session, location_key: str) -> int | None:
    session.expire_all()
    return session.scalar(select(StockLevel.available).join(Location, Location.id == StockLevel.location_id)
                          .join(Sku, Sku.id == StockLevel.sku_id).where(Sku.code == SKU, Location.key == location_key))


def test_a_newly_connected_location_is_tracked_without_a_restart(stack: Stack, db_session: Session) -> None:
    added = admin(stack, "locations", {"count": 3})["location_ids"]
    unmapped, connected = added[-2], added[-1]  # the first added one is the file's showroom (655441492)
    assert not db_session.scalar(select(StoreLocation.id).where(StoreLocation.external_id.in_([unmapped, connected])))

    # an update at a location nobody connected or mapped: quarantined, as before
    admin(stack, "set_stock", {"sku": SKU, "available": 3, "location_id": int(unmapped)})
    wait_for(lambda: db_session.expire_all() or db_session.scalar(select(InboxEvent.state).where(
        InboxEvent.topic == "inventory_levels/update", InboxEvent.state == "quarantined")))

    hooked = admin(stack, "connect", {"sku": SKU, "location_id": int(connected), "available": 4})
    assert [hook["status"] for hook in hooked["webhooks"]] == [200]
    key = f"{STORE}-{connected}"
    wait_for(lambda: _level(db_session, key) == 4)
    once_and_untampered(stack, db_session, "inventory_levels/connect", ('"available": 4', '"available": 40'))
    location = db_session.scalar(select(Location).where(Location.key == key))
    assert location is not None and location.owner_store_id == db_session.scalar(
        select(Store.id).where(Store.key == STORE))
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "store.location_connected")) == 1

    # from now on its updates count, with no restart and nothing quarantined
    admin(stack, "set_stock", {"sku": SKU, "available": 1, "location_id": int(connected)})
    wait_for(lambda: _level(db_session, key) == 1)
    assert db_session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.state == "quarantined")) == 1

    # the file names it later (as `stores discover` writes it): its figure moves along, none left behind
    from domain.core.business_config import load_config
    from domain.stock.catalog import apply_config

    text = stack.config_path.read_text().replace(
        'locations = { "655441491" = "warehouse", "655441492" = "showroom" }',
        f'locations = {{ "655441491" = "warehouse", "655441492" = "showroom", "{connected}" = "pop-up" }}')
    stack.config_path.write_text(text + '\n[[locations]]\nkey = "pop-up"\nname = "Pop-up store"\n')
    apply_config(db_session, load_config(stack.config_path))
    db_session.commit()
    assert (_level(db_session, "pop-up"), _level(db_session, key)) == (1, None)
