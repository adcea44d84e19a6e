"""Where the payment lives in the store (Shopify Payments here), the store's own refund path pays
the decision; store credit is always the store's. The finance export lists every refund and credit
with its rule, figures, provider, reference, state and GL note."""
from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select, update

from connectors.types import OrderLineRecord, OrderRecord
from domain.core.models import Order, RefundDecision, RefundExecution, Store
from tests.integration.payments.conftest import Payments


def shopify_order(payments: Payments, number: int, cents: int = 64900) -> int:
    """An order placed on the Shopify stand-in and read into our tables (no payment account names
    shopify-main: its money is Shopify's)."""
    from domain.stock.orders import record_orders

    admin = f"{payments.sandbox}/shopify/shopify-main/_admin"
    requests.post(f"{admin}/seed", json={"items": [{"sku": "FUT-FRM-OAK-FULL", "available": 5}]},
                  timeout=10).raise_for_status()
    placed = requests.post(f"{admin}/create_order", json={
        "lines": [{"sku": "FUT-FRM-OAK-FULL", "quantity": 1, "price": f"{cents / 100:.2f}"}],
        "email": f"s{number}@example.com"}, timeout=10)
    placed.raise_for_status()
    order = placed.json()["order"]
    store_id = payments.session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    [order_id] = record_orders(payments.session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id=str(order["id"]), number=str(order["name"]), placed_at=datetime(2026, 11, 20, tzinfo=UTC),
        email=f"s{number}@example.com", phone=None, customer_name="Sam Otis", total_cents=cents,
        lines=[OrderLineRecord(external_id=str(line["id"]), sku=None, quantity=1, price_cents=cents)
               for line in order["line_items"]])]).order_ids
    payments.session.commit()
    return order_id


def test_a_store_paid_order_is_refunded_through_the_store_once(payments: Payments) -> None:
    from tasks.payments import pay

    execution_id = payments.decide(shopify_order(payments, 7001), cents=15000)
    row = payments.execution(execution_id)
    assert (row.route, row.account, row.provider) == ("store", "shopify-main", "shopify")
    assert str(pay.apply(args=[execution_id]).get()).startswith("succeeded")
    assert str(pay.apply(args=[execution_id]).get()) == "nothing to do"
    order = payments.session.get(Order, payments.execution(execution_id).order_id)
    assert order is not None
    refunds = requests.get(f"{payments.sandbox}/shopify/shopify-main/admin/api/2025-01/orders/{order.external_id}"
                           "/refunds.json", headers={"X-Shopify-Access-Token": "shpat_sandbox"}, timeout=10).json()
    [refund] = refunds["refunds"]
    assert str(refund["id"]) == payments.execution(execution_id).provider_ref
    assert sum(float(t["amount"]) for t in refund["transactions"]) == 150.0
    assert payments.refunds_created("stripe") == 0


def test_store_credit_is_issued_by_the_store_even_for_an_order_paid_at_a_provider(payments: Payments) -> None:
    order_id = payments.paid_order("stripe", 7002)
    execution_id = payments.decide(order_id, cents=10000, reason="late_delivery")  # 20 % as store credit
    row = payments.execution(execution_id)
    assert (row.kind, row.route, row.account, row.amount_cents) == ("store_credit", "store", "woo-outlet", 2000)


def test_an_order_paid_at_a_provider_without_a_reference_needs_a_person(payments: Payments) -> None:
    from domain.core.models import OrderPayment

    order_id = payments.paid_order("paypal", 7003)
    payments.session.get(OrderPayment, order_id).reference = None  # type: ignore[union-attr]
    payments.session.commit()
    row = payments.execution(payments.decide(order_id))
    assert row.state == "failed" and "has no payment reference for paypal" in (row.last_error or "")


def test_the_finance_export_lists_each_refund_and_credit_with_its_figures(payments: Payments, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.payments import pay
    from workers.cli import main

    paid = payments.decide(payments.paid_order("stripe", 7101), cents=12000, request_id="T-10")
    credit = payments.decide(payments.paid_order("paypal", 7102), cents=10000, request_id="T-11", reason="late_delivery")
    store = payments.decide(shopify_order(payments, 7103), cents=15000, request_id="T-12")
    for execution_id in (paid, store):
        pay.apply(args=[execution_id]).get()
    order = payments.session.get(Order, payments.paid_order("adyen", 7104))
    from domain.policy import refunds as policy

    review = policy.decide(payments.session, payments.config, order, "defective", 30000, "T-13").row  # over 250
    old = payments.decide(payments.paid_order("stripe", 7105), cents=5000, request_id="T-14")
    payments.session.execute(update(RefundDecision).where(RefundDecision.id == payments.execution(old).decision_id)
                             .values(created_at=datetime.now(UTC) - timedelta(days=40)))
    payments.session.commit()
    assert review.decision == "review"

    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    out = tmp_path / "refunds.csv"
    result = CliRunner().invoke(main, ["refunds", "export", "--since", since, "--csv", str(out), "--json"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["request_id"] for r in rows] == ["T-10", "T-11", "T-12"], "review, and what was decided before, left out"
    assert list(rows[0]) == ["decided_at", "decision_id", "request_id", "order", "channel", "customer", "reason",
                             "rule", "decision", "settle_as", "amount", "currency", "route", "provider", "account",
                             "provider_ref", "state", "settled_at", "gl_note"]
    stripe_row, credit_row, store_row = rows
    executed = payments.execution(paid)
    assert (stripe_row["amount"], stripe_row["currency"], stripe_row["rule"], stripe_row["decision"]) == (
        "120.00", "USD", "within policy", "approve")
    assert (stripe_row["provider"], stripe_row["account"], stripe_row["provider_ref"], stripe_row["state"]) == (
        "stripe", "stripe-main", executed.provider_ref, "succeeded")
    assert stripe_row["gl_note"] == (f"Customer refund 120.00 USD; order 7101; rule: within policy; via stripe "
                                     f"(stripe-main) ref {executed.provider_ref}; GL 1210 Stripe clearing")
    assert (credit_row["settle_as"], credit_row["amount"], credit_row["rule"], credit_row["state"]) == (
        "store_credit", "20.00", "late delivery appeasement", "pending")
    assert credit_row["gl_note"].startswith("Store credit issued (liability until redeemed) 20.00 USD")
    assert (store_row["provider"], store_row["account"], store_row["state"], store_row["amount"]) == (
        "shopify", "shopify-main", "succeeded", "150.00")
    assert store_row["gl_note"].endswith("GL 1200 Shopify Payments clearing")
    document = json.loads(result.output)
    assert [r["request_id"] for r in document["rows"]] == ["T-10", "T-11", "T-12"]
    assert sum(int(r["amount"].replace(".", "")) for r in document["rows"]) == 12000 + 2000 + 15000
    assert payments.session.scalar(select(RefundExecution.state).where(RefundExecution.id == credit)) == "pending"
