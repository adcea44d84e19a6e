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
