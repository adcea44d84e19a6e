"""A Stripe dispute finds its order whichever id the order carries: the PaymentIntent (``pi_…``)
or the charge (``ch_…``, what older integrations and some store gateways report as the payment),
and a charge made through the Charges API (no PaymentIntent: its dispute names the charge only).
Through the stand-in's signed webhook, the product's web route and the payment events drain."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.core.models import Dispute, Order, OrderPayment
from tests.integration.payments.conftest import Payments, payments  # noqa: F401

CASES = {  # what the order carries → whether the charge has a PaymentIntent
    "intent stored, dispute names both": ("payment_intent", True),
    "charge stored, dispute names both": ("charge", True),
    "charge stored, Charges API charge without an intent": ("charge", False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_stripe_dispute_is_matched_by_its_payment_intent_or_its_charge(payments: Payments, case: str) -> None:
    from tasks.payments import apply_events

    stored_as, with_intent = CASES[case]
    made = payments.post("stripe", "charges", {"amount": 20000, "payment_intent": with_intent})
    # The store reports the payment as the gateway's reference (order_payments.reference, as
    # WooCommerce's transaction_id); a second paid order shows a wrong match.
    order_id = payments.paid_order("stripe", 8100)
    payments.session.execute(OrderPayment.__table__.update().where(OrderPayment.order_id == order_id)
                             .values(reference=made[stored_as]))
    other = payments.paid_order("stripe", 8101)
    payments.session.commit()
    opened = payments.post("stripe", "disputes", {"charge": made["charge"], "reason": "fraudulent"})
    assert [hook["status"] for hook in opened["webhooks"]] == [200]

    assert apply_events.apply(args=["stripe-main"]).get() == 1
    payments.session.expire_all()
    dispute = payments.session.scalar(select(Dispute).where(Dispute.dispute_ref == opened["dispute"]["id"]))
    assert dispute is not None and dispute.order_id == order_id != other, case
    assert dispute.payment_ref == (made["payment_intent"] if with_intent else made["charge"])
    order = payments.session.get(Order, order_id)
    assert order is not None and order.payment_ref != made[stored_as], "found through order_payments"
