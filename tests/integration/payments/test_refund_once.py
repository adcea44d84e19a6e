"""A refund decided once reaches the provider once, per provider — however it is executed: a retry
after a lost answer, two workers at once, a redelivered message, a worker that died mid-call.

Real PostgreSQL, the tasks run eagerly, the Stripe, Adyen and PayPal stand-ins over HTTP; "once"
is the stand-in's own count of refunds its creating code made, beside the requests that reached it.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from domain.core.clock import utcnow
from domain.core.models import AuditLog, OutboxMessage, RefundExecution
from tests.integration.payments.conftest import ACCOUNTS, PROVIDERS, Payments

SETTLED_AT_ONCE = {"stripe": "succeeded", "paypal": "succeeded", "adyen": "awaiting"}


def notices(payments: Payments) -> list[OutboxMessage]:
    return list(payments.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "refund_paid")))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_lost_answer_two_workers_and_a_redelivery_make_one_refund(payments: Payments, provider: str) -> None:
    from tasks.payments import pay

    execution_id = payments.decide(payments.paid_order(provider, 5001))
    # The first refund request is made at the provider, but its answer is held a second and then lost (503).
    payments.post(provider, "faults", {"after_apply": True, "status": 503, "delay_s": 1,
                                       "path_contains": "refund", "method": "POST"})
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda _: str(pay.apply(args=[execution_id]).get()), range(2)))
    assert sum(1 for outcome in outcomes if outcome != "nothing to do") == 1, outcomes
    assert str(pay.apply(args=[execution_id]).get()) == "nothing to do"  # the message delivered again

    assert payments.refunds_created(provider) == 1
    assert len(payments.refund_requests(provider)) == 2, "the retry reached the provider, with the same key"
    row = payments.execution(execution_id)
    assert row.state == SETTLED_AT_ONCE[provider]
    assert (row.amount_cents, row.route, row.account, row.provider) == (12000, "provider", ACCOUNTS[provider], provider)
    assert row.idempotency_key == f"refund-decision-{row.decision_id}" and row.provider_ref
    retried = payments.session.scalars(select(AuditLog.action).where(
        AuditLog.subject_type == "refund_execution", AuditLog.subject_id == str(execution_id))).all()
    assert "refund.retry" in retried
    assert len(notices(payments)) == (1 if provider != "adyen" else 0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_same_request_decided_twice_is_one_decision_paid_once(payments: Payments, provider: str) -> None:
    from tasks.payments import pay

    order_id = payments.paid_order(provider, 5003)
    first = payments.decide(order_id, request_id="TKT-twice")
    again = payments.decide(order_id, request_id="TKT-twice")  # the ticket decided again (a resent request)
    assert again == first, "one decision, one execution"
    outcomes = [str(pay.apply(args=[first]).get()) for _ in range(2)]
    assert outcomes[1] == "nothing to do", outcomes
    assert payments.refunds_created(provider) == 1 and len(payments.refund_requests(provider)) == 1
    assert payments.session.scalar(select(func.count()).select_from(RefundExecution)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_worker_that_died_after_sending_is_taken_over_without_a_second_refund(payments: Payments,
                                                                                provider: str) -> None:
    from connectors.payments.contract import ProviderRefund
    from domain.core.payment_config import PaymentAccountConfig
    from domain.payments import executions
    from flows.payments import provider_for
    from tasks.payments import pay

    execution_id = payments.decide(payments.paid_order(provider, 5002))
    claimed = executions.claim(payments.session, execution_id, utcnow())
    assert claimed is not None
    payments.session.commit()
    account = payments.config.payments.account(ACCOUNTS[provider])
    assert isinstance(account, PaymentAccountConfig)
    provider_for(account).refund(ProviderRefund(claimed.payment_ref or "", claimed.amount_cents, claimed.currency,
                                                claimed.idempotency_key, "defective"))  # then the worker died
    assert str(pay.apply(args=[execution_id]).get()) == "nothing to do", "its lease still runs"
    payments.session.execute(update(RefundExecution).where(RefundExecution.id == execution_id)
                             .values(lease_until=utcnow() - timedelta(seconds=1)))
    payments.session.commit()
    assert str(pay.apply(args=[execution_id]).get()) != "nothing to do"  # redelivered after the lease ran out
    assert payments.refunds_created(provider) == 1 and len(payments.refund_requests(provider)) == 2
    assert payments.execution(execution_id).attempts == 2


def test_the_sweeper_sends_a_row_whose_message_was_lost_and_plans_a_decision_nobody_planned(
        payments: Payments, monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.core.models import Order, RefundDecision
    from domain.policy import refunds as policy
    from tasks.payments import pay, sweep

    monkeypatch.setenv("EFFECT_SWEEP_AFTER_S", "0")
    lost = payments.decide(payments.paid_order("stripe", 5003))  # planned; its message never sent
    order = payments.session.get(Order, payments.paid_order("paypal", 5004))
    unplanned = policy.decide(payments.session, payments.config, order, "defective", 9000, "T-2").row
    payments.session.commit()
    assert sweep.apply().get() == 2
    later = payments.session.scalar(select(RefundExecution).where(RefundExecution.decision_id == unplanned.id))
    assert later is not None and later.state == "pending" and later.provider == "paypal"
    for execution_id in (lost, later.id):
        assert str(pay.apply(args=[execution_id]).get()).startswith("succeeded")
    assert payments.refunds_created("stripe") == payments.refunds_created("paypal") == 1
    assert sweep.apply().get() == 0, "nothing left to do"
    assert payments.session.scalar(select(func.count()).select_from(RefundDecision)) == 2


def test_a_pending_refund_is_asked_about_until_it_succeeds_then_the_customer_hears(payments: Payments) -> None:
    from tasks.payments import pay, poll, sweep

    from domain.core.models import OrderPayment

    charge = payments.post("stripe", "charges", {"amount": 20000, "refund_status": "pending"})
    order_id = payments.paid_order("stripe", 5005)
    payments.session.get(OrderPayment, order_id).reference = charge["payment_intent"]  # type: ignore[union-attr]
    payments.session.commit()
    execution_id = payments.decide(order_id)
    assert str(pay.apply(args=[execution_id]).get()).startswith("pending")
    row = payments.execution(execution_id)
    assert row.state == "awaiting" and row.due_at is not None and row.due_at > utcnow() + timedelta(minutes=9)
    assert sweep.apply().get() == 0, "not due yet"
    payments.session.execute(update(RefundExecution).values(due_at=utcnow() - timedelta(seconds=1)))
    payments.session.commit()
    assert sweep.apply().get() == 1
    assert poll.apply(args=[execution_id]).get() == "pending" and payments.execution(execution_id).state == "awaiting"
    payments.post("stripe", f"refunds/{row.provider_ref}/settle", {"status": "succeeded"})
    assert poll.apply(args=[execution_id]).get() == "succeeded"
    assert payments.execution(execution_id).state == "succeeded"
    [notice] = notices(payments)
    assert notice.recipient == "c5005@example.com" and notice.context["amount_cents"] == 12000
    assert notice.context["reference"] == row.provider_ref


def test_a_refusal_fails_the_execution_with_the_providers_word_and_nobody_is_told(payments: Payments) -> None:
    from tasks.payments import pay

    order_id = payments.paid_order("paypal", 5006, cents=5000)
    execution_id = payments.decide(order_id, cents=5000)
    payments.post("paypal", "faults", {"status": 422, "body": {
        "name": "UNPROCESSABLE_ENTITY", "message": "m", "debug_id": "d",
        "details": [{"issue": "REFUND_AMOUNT_EXCEEDED", "description": "x"}]}, "path_contains": "/refund"})
    assert str(pay.apply(args=[execution_id]).get()).startswith("failed")
    row = payments.execution(execution_id)
    assert row.state == "failed" and "REFUND_AMOUNT_EXCEEDED" in (row.last_error or "")
    assert notices(payments) == [] and payments.refunds_created("paypal") == 0
    assert str(pay.apply(args=[execution_id]).get()) == "nothing to do"
