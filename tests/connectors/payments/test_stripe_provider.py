"""The Stripe connector against the Stripe stand-in, over HTTP through the official SDK."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from connectors.errors import AuthError, OutcomeUnknownError, PermanentError, SignatureError, TransientError
from connectors.payments.contract import EvidenceSubmission, ProviderRefund
from connectors.payments.stripe import StripeProvider
from connectors.types import ConnectorConfig
from tests.connectors.conftest import Admin, WebhookReceiver
from tests.connectors.payments.conftest import last_delivery

SECRET = "whsec_stripe_test"


@pytest.fixture
def stripe_admin(fresh_admin: Callable[..., Admin]) -> Admin:
    return fresh_admin("stripe", secret=SECRET)


def provider(admin: Admin, key: str = "sk_test_sandbox", timeout_s: float = 5.0) -> StripeProvider:
    return StripeProvider(ConnectorConfig("stripe-main", admin.root, {"secret_key": key}, SECRET, timeout_s=timeout_s))


def refund(payment: str, cents: int = 2500, key: str = "refund-decision-1") -> ProviderRefund:
    return ProviderRefund(payment, cents, "USD", key, "defective", {"decision_id": "1"})


def test_one_key_refunds_once_and_the_second_answer_is_a_replay(stripe_admin: Admin) -> None:
    charge = stripe_admin.post("charges", {"amount": 10000})
    stripe = provider(stripe_admin)
    first = stripe.refund(refund(charge["payment_intent"]))
    again = stripe.refund(refund(charge["payment_intent"]))
    assert (first.state, first.amount_cents, first.currency, first.replayed) == ("succeeded", 2500, "USD", False)
    assert again.provider_ref == first.provider_ref and again.replayed
    assert len(stripe_admin.requests_log("POST", "/v1/refunds")) == 2
    assert stripe_admin.get("state/counts")["refunds_created"] == 1
    [sent] = stripe_admin.requests_log("POST", "/v1/refunds")[:1]
    assert sent["status"] == 200
    assert first.raw["metadata"] == {"decision_id": "1", "reason": "defective"}
    assert first.raw["reason"] == "requested_by_customer"


def test_the_same_key_with_other_parameters_is_a_permanent_idempotency_error(stripe_admin: Admin) -> None:
    charge = stripe_admin.post("charges", {"amount": 10000})
    stripe = provider(stripe_admin)
    stripe.refund(refund(charge["charge"], 2500))
    with pytest.raises(PermanentError) as refused:
        stripe.refund(refund(charge["charge"], 3000))
    assert refused.value.status_code == 400 and "idempotency_error" in str(refused.value)
    assert stripe_admin.get("state/counts")["refunds_created"] == 1


def test_more_than_the_charge_has_left_is_refused_with_stripes_message(stripe_admin: Admin) -> None:
    charge = stripe_admin.post("charges", {"amount": 3000})
    with pytest.raises(PermanentError) as refused:
        provider(stripe_admin).refund(refund(charge["charge"], 5000))
    assert "greater than unrefunded amount on charge ($30.00)" in str(refused.value)


def test_a_wrong_key_is_an_auth_error_and_a_5xx_is_transient(stripe_admin: Admin) -> None:
    charge = stripe_admin.post("charges")
    with pytest.raises(AuthError):
        provider(stripe_admin, key="sk_test_wrong").refund(refund(charge["charge"]))
    stripe_admin.post("faults", {"status": 503, "path_contains": "/v1/refunds"})
    with pytest.raises(TransientError) as failed:
        provider(stripe_admin).refund(refund(charge["charge"]))
    assert not isinstance(failed.value, OutcomeUnknownError)


def test_a_lost_answer_is_outcome_unknown_and_the_retry_finds_the_first_refund(stripe_admin: Admin) -> None:
    charge = stripe_admin.post("charges")
    stripe_admin.post("faults", {"after_apply": True, "delay_s": 2, "path_contains": "/v1/refunds"})
    with pytest.raises(OutcomeUnknownError):
        provider(stripe_admin, timeout_s=0.5).refund(refund(charge["charge"]))
    retried = provider(stripe_admin).refund(refund(charge["charge"]))
    assert retried.replayed and stripe_admin.get("state/counts")["refunds_created"] == 1


def test_a_pending_refund_is_read_again_until_it_settles(stripe_admin: Admin) -> None:
    charge = stripe_admin.post("charges", {"refund_status": "pending"})
    stripe = provider(stripe_admin)
    pending = stripe.refund(refund(charge["charge"]))
    assert pending.state == "pending" and stripe.refund_status(pending.provider_ref).state == "pending"
    stripe_admin.post(f"refunds/{pending.provider_ref}/settle", {"status": "succeeded"})
    assert stripe.refund_status(pending.provider_ref).state == "succeeded"


def test_a_dispute_event_is_verified_into_a_notice_with_its_due_date(stripe_admin: Admin,
                                                                     webhook_receiver: WebhookReceiver) -> None:
    charge = stripe_admin.post("charges", {"amount": 64900})
    dispute = stripe_admin.post("disputes", {"charge": charge["charge"], "reason": "product_not_received",
                                             "due_in_days": 5})["dispute"]
    delivery = last_delivery(webhook_receiver)
    [notice] = provider(stripe_admin).verify_dispute_notice(delivery.headers, delivery.body)
    assert (notice.dispute_ref, notice.payment_ref, notice.status, notice.outcome) == (
        dispute["id"], charge["payment_intent"], "needs_response", "open")
    assert (notice.category, notice.reason_code, notice.network_code) == ("not_received", "product_not_received", "13.1")
    assert notice.due_by == datetime.fromtimestamp(dispute["evidence_details"]["due_by"], timezone.utc)
    assert (notice.amount_cents, notice.currency) == (64900, "USD")
    assert notice.event_id == json.loads(delivery.body)["id"]

    stripe_admin.post(f"disputes/{dispute['id']}/close", {"outcome": "won"})
    closed = last_delivery(webhook_receiver)
    [won] = provider(stripe_admin).verify_dispute_notice(closed.headers, closed.body)
    assert won.outcome == "won" and won.event_id != notice.event_id


def test_a_dispute_names_its_charge_beside_the_payment_intent_and_a_charges_api_charge_alone(
        stripe_admin: Admin, webhook_receiver: WebhookReceiver) -> None:
    stripe = provider(stripe_admin)
    intent_paid = stripe_admin.post("charges", {"amount": 3000})
    stripe_admin.post("disputes", {"charge": intent_paid["charge"]})
    [both] = stripe.verify_dispute_notice(last_delivery(webhook_receiver).headers, last_delivery(webhook_receiver).body)
    assert (both.payment_ref, both.other_refs) == (intent_paid["payment_intent"], (intent_paid["charge"],))
    assert both.payment_refs == (intent_paid["payment_intent"], intent_paid["charge"])

    legacy = stripe_admin.post("charges", {"amount": 3000, "payment_intent": False})
    assert legacy["payment_intent"] is None and legacy["charge"].startswith("ch_")
    stripe_admin.post("disputes", {"charge": legacy["charge"]})
    delivery = last_delivery(webhook_receiver)
    assert json.loads(delivery.body)["data"]["object"]["payment_intent"] is None
    [alone] = stripe.verify_dispute_notice(delivery.headers, delivery.body)
    assert (alone.payment_ref, alone.other_refs, alone.payment_refs) == (legacy["charge"], (), (legacy["charge"],))


def test_tampered_wrongly_signed_and_stale_dispute_events_are_refused(stripe_admin: Admin,
                                                                     webhook_receiver: WebhookReceiver) -> None:
    charge = stripe_admin.post("charges", {"amount": 5000})
    stripe_admin.post("disputes", {"charge": charge["charge"]})
    delivery = last_delivery(webhook_receiver)
    stripe = provider(stripe_admin)
    with pytest.raises(SignatureError):
        stripe.verify_dispute_notice(delivery.headers, delivery.body.replace(b'"amount": 5000', b'"amount": 50'))
    with pytest.raises(SignatureError):
        StripeProvider(ConnectorConfig("s", stripe_admin.root, {"secret_key": "sk_test_sandbox"},
                                       "whsec_other")).verify_dispute_notice(delivery.headers, delivery.body)
    stripe_admin.post("clock", {"advance_s": -400})  # signed 400 s ago: past the 300 s tolerance
    stripe_admin.post("disputes", {"charge": charge["charge"]})
    stale = last_delivery(webhook_receiver)
    with pytest.raises(SignatureError):
        stripe.verify_dispute_notice(stale.headers, stale.body)


def test_evidence_is_staged_then_submitted_once(stripe_admin: Admin) -> None:
    charge = stripe_admin.post("charges")
    dispute = stripe_admin.post("disputes", {"charge": charge["charge"]})["dispute"]
    stripe = provider(stripe_admin)
    evidence = EvidenceSubmission(dispute["id"], {"shipping_carrier": "UPS", "shipping_tracking_number": "1Z999"},
                                  {"shipping_documentation.pdf": b"%PDF-1.4 delivered"})
    staged = stripe.stage_evidence(evidence)
    assert (staged.submitted, staged.provider_status) == (False, "needs_response")
    [update] = stripe_admin.requests_log("POST", f"/v1/disputes/{dispute['id']}")
    assert update["status"] == 200
    [upload] = stripe_admin.requests_log("POST", "/v1/files")
    assert upload["status"] == 200
    stored = provider(stripe_admin).client.v1.disputes.retrieve(dispute["id"])
    assert stored.evidence.shipping_tracking_number == "1Z999"
    assert stored.evidence.shipping_documentation.startswith("file_")
    assert (stored.evidence_details.has_evidence, stored.evidence_details.submission_count) == (True, 0)

    with pytest.raises(PermanentError, match="must be a PDF, JPEG or PNG"):
        stripe.stage_evidence(EvidenceSubmission(dispute["id"], {}, {"uncategorized_file.html": b"<p>evidence</p>"}))
    submitted = stripe.submit_evidence(EvidenceSubmission(dispute["id"], {}))
    assert (submitted.submitted, submitted.provider_status) == (True, "under_review")
    again = stripe.submit_evidence(EvidenceSubmission(dispute["id"], {}))
    assert again.submitted and again.detail == "submitted before"
    assert stripe.client.v1.disputes.retrieve(dispute["id"]).evidence_details.submission_count == 1
