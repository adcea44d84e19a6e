"""The demo's order-exceptions act (``demo/exceptions.py``) without the rest of the demo: the sandbox
and the web app over HTTP, a real worker, the product's commands as subprocesses, and a clock that
fires due timers as beat would. Each of its claims is checked against the rows and the stand-ins:
one refund made at each of Stripe, Adyen (settled by its REFUND webhook) and PayPal, one review
case, one stuck-parcel case and one message, a chargeback case due at Stripe's deadline and one
due at PayPal's, each with its evidence (the customer's address among it) staged before it, and a
what-if that differs."""
from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo import exceptions
from demo.processes import DemoFailed, Processes
from domain.core.business_config import parse_refunds
from domain.core.models import (
    Case,
    Dispute,
    DisputePacket,
    InboxEvent,
    OutboxMessage,
    RefundDecision,
    RefundExecution,
)
from tests.conftest import REPO_ROOT
from tests.stack import running_stack


@pytest.fixture
def clock(celery_worker: object) -> Iterator[None]:
    """Beat's timer sweep every half second (the demo runs beat with a 2 s sweep)."""
    from tasks.timers import fire_due

    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.5):
            fire_due.delay()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=5)


def test_the_act_tells_only_what_the_rows_and_stand_ins_show(
        db_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: None) -> None:
    told: list[str] = []
    with running_stack(db_session, monkeypatch, tmp_path, {"woocommerce"}, available=25) as stack:
        summary = exceptions.run(stack.sandbox, stack.web, stack.config_path, told.append,
                                 Processes(tmp_path, dict(os.environ)))
        stripe = f"{stack.sandbox}/stripe/{exceptions.STRIPE}"
        counts = {provider: requests.get(f"{stack.sandbox}/{provider}/{account}/_admin/state/counts", timeout=5).json()
                  for provider, account in exceptions.ACCOUNTS.items()}
        dispute_ref = db_session.scalar(select(Dispute.dispute_ref).where(Dispute.provider == "stripe"))
        at_stripe = requests.get(f"{stripe}/v1/disputes/{dispute_ref}", timeout=5,
                                 headers={"Authorization": "Bearer sk_test_sandbox"}).json()
        adyen_refund_calls = requests.get(f"{stack.sandbox}/adyen/adyen-eu/_admin/requests", timeout=5, params={
            "method": "POST", "path_contains": "/refunds"}).json()["requests"]
    text = "\n".join(told)
    db_session.expire_all()

    assert {p: c["refunds_created"] for p, c in counts.items()} == {"stripe": 1, "adyen": 1, "paypal": 1}, \
        "each approval is paid once, at the provider its order was paid through"
    decisions = dict(db_session.execute(select(RefundDecision.request_id, RefundDecision.decision)).tuples().all())
    assert decisions == {"TKT-4101": "approve", "TKT-4102": "review", "TKT-4103": "approve", "TKT-4104": "approve"}
    paid = {row.provider: row for row in db_session.scalars(select(RefundExecution))}
    assert set(paid) == {"stripe", "adyen", "paypal"} and all(r.state == "succeeded" for r in paid.values())
    assert [r["status"] for r in adyen_refund_calls] == [201], "Adyen took it once"
    [refund_event] = db_session.scalars(select(InboxEvent).where(InboxEvent.source == "payments:adyen-eu")).all()
    assert (refund_event.topic, refund_event.state) == ("REFUND", "done"), "Adyen's outcome came by its webhook"
    # settled_at is the worker's estimate of the database clock (half a round trip: milliseconds),
    # received_at the database's own: the settlement follows the webhook within that error
    assert paid["adyen"].settled_at is not None
    assert paid["adyen"].settled_at >= refund_event.received_at - timedelta(milliseconds=250)
    kinds = [kind for (kind,) in db_session.execute(select(Case.kind).where(
        Case.kind.in_(("refund_request", "stuck_in_transit", "chargeback"))).order_by(Case.kind))]
    assert kinds == ["chargeback", "chargeback", "refund_request", "stuck_in_transit"], "one case each"
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template == "shipment_stuck")) == 1, "one message to the customer"

    disputes = {d.provider: d for d in db_session.scalars(select(Dispute))}
    assert set(disputes) == {"stripe", "paypal"}
    for provider, dispute in disputes.items():
        assert dispute.order_id is not None and dispute.due_by is not None, provider
        case = db_session.get(Case, dispute.case_id)
        assert case is not None and case.sla_due_at == dispute.due_by, provider
        assert dispute.staged_at is not None and dispute.staged_at < dispute.due_by - timedelta(days=6), provider
        packet = db_session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == dispute.id))
        assert packet is not None and packet.missing == [], (provider, packet and packet.missing)
        assert {"shipping_address", "billing_address"} <= set(packet.present), provider
    assert disputes["paypal"].category == "not_as_described" and disputes["paypal"].account == "paypal"
    assert at_stripe["evidence_details"]["submission_count"] == 0 and at_stripe["evidence"]["customer_communication"]
    assert at_stripe["evidence"]["shipping_address"] == "Ana Lima, 12 Pine St, Brooklyn, NY, 11201, US"

    assert "→ approve 120.00 USD by rule 'within policy'; paid at stripe (stripe-main): refund re_" in text
    assert "→ approve 80.00 USD by rule 'within policy'; paid at adyen (adyen-eu): refund " in text
    assert "settled by Adyen's REFUND notification (HMAC-signed; answered [accepted], stored once: done)" in text
    assert "→ approve 60.00 USD by rule 'within policy'; paid at paypal (paypal): refund " in text
    assert "→ review by rule 'over 250: review': case" in text and "the reviewer sees: customer ben.okoro" in text
    due = f"{disputes['stripe'].due_by:%Y-%m-%d %H:%M} UTC"
    assert f"due {due}; Stripe's evidence_details.due_by {due}" in text and "missing: nothing" in text
    paypal_due = f"{disputes['paypal'].due_by:%Y-%m-%d %H:%M} UTC"
    assert f"due {paypal_due}; PayPal's seller_response_due_date {paypal_due}" in text
    assert "TKT-4102" in text and "review 0.00 (over 250: review) → approve 300.00 (within policy)" in text
    assert len(summary) == 8 and summary[-1] == "what-if at 350.00: 1 of 4 request(s) would differ"
    assert summary[2].startswith("TKT-4103 Dara: 80.00 USD → approve 80.00 USD (within policy), paid at adyen as ")
    assert summary[2].endswith(" by its REFUND webhook")
    assert summary[6].startswith(f"PayPal dispute {disputes['paypal'].dispute_ref} on order ")


def test_the_what_if_file_moves_only_the_review_threshold() -> None:
    business = (REPO_ROOT / "examples" / "futon-store.toml").read_text()
    before, after = parse_refunds(tomllib.loads(business)), parse_refunds(
        tomllib.loads(exceptions.changed_threshold(business)))
    assert [rule.name for rule in after.rules] == [
        "over 350: review" if rule.name == "over 250: review" else rule.name for rule in before.rules]
    moved = {rule.name: (rule.over_cents, rule.up_to_cents) for rule in after.rules}
    assert moved["over 350: review"] == (35_000, None) and moved["within policy"] == (None, 35_000)
    with pytest.raises(DemoFailed, match="no 250.00 threshold"):
        exceptions.changed_threshold("[refunds]\n[[refunds.rules]]\nname = \"all\"\ndecision = \"review\"\n")


def test_a_wait_that_runs_out_says_what_it_saw(tmp_path: Path) -> None:
    class Quick(Processes):
        def wait(self, what: str, predicate: object, timeout_s: float = 60.0) -> object:
            return super().wait(what, predicate, 0.3)  # type: ignore[arg-type]

    with pytest.raises(DemoFailed, match=r"waiting for: the parcel's case; shipment 1Z9: not stored yet"):
        exceptions.explained(Quick(tmp_path, {}), "the parcel's case", lambda: None, 30,
                             lambda: "shipment 1Z9: not stored yet")
