"""``refunds decide`` plans the payment of what it approves; ``refunds payments`` lists what is not done."""
from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from domain.core.models import RefundExecution
from tests.integration.payments.conftest import Payments


def test_decide_plans_the_payment_at_the_provider_and_payments_lists_it(payments: Payments) -> None:
    from workers.cli import main

    payments.paid_order("stripe", 8001)
    result = CliRunner().invoke(main, ["refunds", "decide", "--order", "8001", "--reason", "defective",
                                       "--amount", "80.00", "--request-id", "T-80", "--json"])
    assert result.exit_code == 0, result.output
    decided = json.loads(result.output)
    assert decided["decision"] == "approve" and decided["payment"] == {
        "route": "provider", "account": "stripe-main", "provider": "stripe", "state": "pending", "provider_ref": None,
        "last_error": None}
    again = CliRunner().invoke(main, ["refunds", "decide", "--order", "8001", "--reason", "defective",
                                      "--amount", "80.00", "--request-id", "T-80"])
    assert "[decided before]" in again.output and "payment: pending via stripe (stripe-main)" in again.output
    payments.session.expire_all()
    assert len(payments.session.scalars(select(RefundExecution)).all()) == 1
    listed = json.loads(CliRunner().invoke(main, ["refunds", "payments", "--json"]).output)
    assert [(row["provider"], row["state"], row["amount_cents"]) for row in listed] == [("stripe", "pending", 8000)]


def test_why_order_shows_the_payment_with_its_provider_reference(payments: Payments) -> None:
    from tasks.payments import pay
    from workers.cli import main

    execution_id = payments.decide(payments.paid_order("paypal", 8002), cents=6000, request_id="T-81")
    pay.apply(args=[execution_id]).get()
    trail = json.loads(CliRunner().invoke(main, ["why", "order", "8002", "--json"]).output)
    paid = [e for e in trail["events"] if e["kind"] == "refund.payment"]
    assert [e["data"]["action"] for e in paid] == ["refund.planned", "refund.sent", "refund.succeeded"]
    reference = payments.execution(execution_id).provider_ref
    assert paid[1]["data"]["provider_ref"] == reference and "route provider" in paid[0]["text"]
    decision = next(e for e in trail["events"] if e["kind"] == "refund.decision")
    assert decision["data"]["rule"] == "within policy"


def test_a_payment_that_failed_for_a_missing_credential_is_sent_again_once_it_is_set(
        payments: Payments, monkeypatch: object) -> None:
    from tasks.payments import pay
    from workers.cli import main

    execution_id = payments.decide(payments.paid_order("stripe", 8003), cents=4000, request_id="T-82")
    monkeypatch.delenv("STRIPE_SECRET_KEY")  # type: ignore[attr-defined]
    assert "STRIPE_SECRET_KEY" in str(pay.apply(args=[execution_id]).get())
    assert payments.execution(execution_id).state == "failed" and payments.refunds_created("stripe") == 0
    assert CliRunner().invoke(main, ["refunds", "pay", str(execution_id + 100)]).exit_code == 1
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_sandbox")  # type: ignore[attr-defined]
    assert CliRunner().invoke(main, ["refunds", "pay", str(execution_id)]).exit_code == 0
    assert str(pay.apply(args=[execution_id]).get()).startswith("succeeded")
    assert payments.execution(execution_id).state == "succeeded" and payments.refunds_created("stripe") == 1
