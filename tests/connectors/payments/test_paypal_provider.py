"""The PayPal connector against the PayPal stand-in, over HTTP."""
from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connectors.errors import AuthError, OutcomeUnknownError, PermanentError, SignatureError
from connectors.payments.contract import EvidenceSubmission, ProviderRefund
from connectors.payments.paypal import PayPalProvider
from connectors.types import ConnectorConfig
from sandbox.paypal import DEFAULT_CLIENT_ID, DEFAULT_SECRET
from tests.connectors.conftest import Admin, WebhookReceiver
from tests.connectors.payments.conftest import last_delivery

WEBHOOK_ID = "WH-FUTON-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def paypal_admin(fresh_admin: Callable[..., Admin]) -> Admin:
    return fresh_admin("paypal", webhook_id=WEBHOOK_ID)


def provider(admin: Admin, clock: Callable[[], float] = Clock(), secret: str = DEFAULT_SECRET,
             timeout_s: float = 5.0) -> PayPalProvider:
    config = ConnectorConfig("paypal", admin.root, {"client_id": DEFAULT_CLIENT_ID, "client_secret": secret},
                             WEBHOOK_ID, timeout_s=timeout_s)
    return PayPalProvider(config, clock=clock, sleep=lambda s: None)


def refund(capture: str, cents: int = 2500, key: str = "refund-decision-9") -> ProviderRefund:
    return ProviderRefund(capture, cents, "USD", key, "Defective frame", {"reference": "refund-decision-9"})


def tokens_asked(admin: Admin) -> int:
    return len(admin.requests_log("POST", "/v1/oauth2/token"))


def test_one_request_id_gives_back_the_refund_it_made(paypal_admin: Admin) -> None:
    capture = paypal_admin.post("captures", {"value": "100.00"})["capture"]
    paypal = provider(paypal_admin)
    first = paypal.refund(refund(capture))
    again = paypal.refund(refund(capture))
    assert (first.state, first.amount_cents, first.currency, first.replayed) == ("succeeded", 2500, "USD", False)
    assert again.provider_ref == first.provider_ref and again.replayed
    assert paypal_admin.get("state/counts")["refunds_created"] == 1
    [sent, _] = paypal_admin.requests_log("POST", "/refund")
    assert sent["body"] == {"amount": {"value": "25.00", "currency_code": "USD"}, "note_to_payer": "Defective frame",
                            "invoice_id": "refund-decision-9"}
    assert tokens_asked(paypal_admin) == 1


def test_the_token_is_kept_until_it_expires_then_fetched_again(paypal_admin: Admin) -> None:
    capture = paypal_admin.post("captures", {"value": "100.00"})["capture"]
    clock = Clock()
    paypal = provider(paypal_admin, clock)
    paypal.refund(refund(capture, 1000, "k-1"))
    paypal.refund(refund(capture, 1000, "k-2"))
    assert tokens_asked(paypal_admin) == 1
    clock.now += 32400  # PayPal's expires_in
    paypal.refund(refund(capture, 1000, "k-3"))
    assert tokens_asked(paypal_admin) == 2
    assert paypal_admin.get("state/counts")["refunds_created"] == 3


def test_a_token_paypal_no_longer_takes_is_replaced_and_the_call_sent_again(paypal_admin: Admin) -> None:
    capture = paypal_admin.post("captures", {"value": "100.00"})["capture"]
    paypal = provider(paypal_admin)
    paypal.refund(refund(capture, 1000, "k-1"))
    paypal_admin.post("clock", {"advance_s": 40000})  # PayPal's clock: the token has expired there
    outcome = paypal.refund(refund(capture, 1000, "k-2"))
    assert outcome.state == "succeeded" and tokens_asked(paypal_admin) == 2
    assert [r["status"] for r in paypal_admin.requests_log("POST", "/refund")] == [201, 401, 201]


def test_bad_credentials_and_an_exceeded_refund_are_permanent(paypal_admin: Admin) -> None:
    capture = paypal_admin.post("captures", {"value": "20.00"})["capture"]
    with pytest.raises(AuthError):
        provider(paypal_admin, secret="wrong").refund(refund(capture))
    with pytest.raises(PermanentError) as exceeded:
        provider(paypal_admin).refund(refund(capture, 5000))
    assert "REFUND_AMOUNT_EXCEEDED" in str(exceeded.value) and exceeded.value.status_code == 422


def test_a_lost_answer_is_outcome_unknown_and_the_retry_finds_the_refund(paypal_admin: Admin) -> None:
    capture = paypal_admin.post("captures", {"value": "100.00"})["capture"]
    paypal_admin.post("faults", {"after_apply": True, "delay_s": 2, "path_contains": "/refund"})
    with pytest.raises(OutcomeUnknownError):
        provider(paypal_admin, timeout_s=0.5).refund(refund(capture))
    assert provider(paypal_admin).refund(refund(capture)).replayed
    assert paypal_admin.get("state/counts")["refunds_created"] == 1


def test_a_pending_refund_is_read_again(paypal_admin: Admin) -> None:
    capture = paypal_admin.post("captures", {"value": "100.00", "refund_status": "PENDING"})["capture"]
    paypal = provider(paypal_admin)
    pending = paypal.refund(refund(capture))
    assert pending.state == "pending"
    paypal_admin.post(f"refunds/{pending.provider_ref}/settle", {"status": "COMPLETED"})
    assert paypal.refund_status(pending.provider_ref).state == "succeeded"


def test_a_dispute_event_is_verified_by_paypal_and_a_tampered_one_refused(paypal_admin: Admin,
                                                                         webhook_receiver: WebhookReceiver) -> None:
    capture = paypal_admin.post("captures", {"value": "649.00"})["capture"]
    dispute = paypal_admin.post("disputes", {"capture": capture, "due_in_days": 10})["dispute"]
    delivery = last_delivery(webhook_receiver)
    paypal = provider(paypal_admin)
    [notice] = paypal.verify_dispute_notice(delivery.headers, delivery.body)
    assert (notice.dispute_ref, notice.payment_ref, notice.status, notice.category) == (
        dispute["dispute_id"], capture, "WAITING_FOR_SELLER_RESPONSE", "not_received")
    assert (notice.amount_cents, notice.currency) == (64900, "USD")
    assert notice.due_by is not None and notice.due_by.isoformat().replace("+00:00", "Z") == \
        dispute["seller_response_due_date"]
    verifications = paypal_admin.requests_log("POST", "verify-webhook-signature")
    assert verifications[-1]["body"]["webhook_id"] == WEBHOOK_ID
    tampered = json.loads(delivery.body)
    tampered["resource"]["dispute_amount"]["value"] = "1.00"
    with pytest.raises(SignatureError):
        paypal.verify_dispute_notice(delivery.headers, json.dumps(tampered).encode())
    headers = {k: v for k, v in delivery.headers.items() if k.upper() != "PAYPAL-TRANSMISSION-SIG"}
    with pytest.raises(SignatureError):
        paypal.verify_dispute_notice(headers, delivery.body)


def test_evidence_stays_with_us_when_staged_and_goes_to_paypal_once_submitted(paypal_admin: Admin) -> None:
    capture = paypal_admin.post("captures", {"value": "649.00"})["capture"]
    dispute = paypal_admin.post("disputes", {"capture": capture})["dispute"]
    paypal = provider(paypal_admin)
    evidence = EvidenceSubmission(dispute["dispute_id"], {
        "PROOF_OF_FULFILLMENT": "Delivered and signed for", "PROOF_OF_FULFILLMENT.carrier_name": "UPS",
        "PROOF_OF_FULFILLMENT.tracking_number": "1Z999"}, {"delivery.pdf": b"%PDF-1.4 signed"})
    staged = paypal.stage_evidence(evidence)
    assert (staged.submitted, staged.provider_status) == (False, "WAITING_FOR_SELLER_RESPONSE")
    assert paypal_admin.requests_log("POST", "provide-evidence") == []
    submitted = paypal.submit_evidence(evidence)
    assert submitted.submitted
    shown = paypal.get_json(f"/v1/customer/disputes/{dispute['dispute_id']}")
    assert shown["status"] == "UNDER_REVIEW"
    [given] = shown["evidences"]
    assert given["evidence_type"] == "PROOF_OF_FULFILLMENT" and given["notes"] == "Delivered and signed for"
    assert given["evidence_info"]["tracking_info"] == [{"carrier_name": "UPS", "tracking_number": "1Z999"}]
    assert given["documents"] == [{"name": "delivery.pdf"}]
    assert paypal.submit_evidence(evidence).detail == "submitted before"
    assert len(paypal_admin.requests_log("POST", "provide-evidence")) == 1
