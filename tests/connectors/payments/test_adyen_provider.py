"""The Adyen connector against the Adyen stand-in, over HTTP through the official SDK."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest

from connectors.errors import AuthError, OutcomeUnknownError, PermanentError, SignatureError, TransientError
from connectors.payments.adyen import AdyenProvider
from connectors.payments.contract import EvidenceSubmission, ProviderRefund
from connectors.types import ConnectorConfig
from sandbox.adyen import DEFAULT_API_KEY, DEFAULT_HMAC_KEY, DEFAULT_MERCHANT
from tests.connectors.conftest import Admin, WebhookReceiver
from tests.connectors.payments.conftest import last_delivery


@pytest.fixture
def adyen_admin(fresh_admin: Callable[..., Admin]) -> Admin:
    return fresh_admin("adyen")


def provider(admin: Admin, key: str = DEFAULT_API_KEY, hmac_key: str = DEFAULT_HMAC_KEY,
             merchant: str = DEFAULT_MERCHANT, timeout_s: float = 5.0) -> AdyenProvider:
    return AdyenProvider(ConnectorConfig("adyen-eu", admin.root, {"api_key": key}, hmac_key,
                                         {"merchant_account": merchant}, timeout_s=timeout_s))


def refund(psp: str, cents: int = 2500, currency: str = "USD") -> ProviderRefund:
    return ProviderRefund(psp, cents, currency, "refund-decision-7", "defective", {"reference": "refund-decision-7"})


def test_a_refund_is_only_acknowledged_and_one_key_makes_one(adyen_admin: Admin) -> None:
    payment = adyen_admin.post("payments", {"value": 10000})
    adyen = provider(adyen_admin)
    first = adyen.refund(refund(payment["pspReference"]))
    again = adyen.refund(refund(payment["pspReference"]))
    assert (first.state, first.amount_cents, first.currency) == ("pending", 2500, "USD")
    assert again.provider_ref == first.provider_ref != payment["pspReference"]
    assert adyen_admin.get("state/counts")["refunds_created"] == 1
    assert [r["status"] for r in adyen_admin.requests_log("POST", "/refunds")] == [201, 201]
    assert adyen.refund_status(first.provider_ref).state == "pending"


def test_the_refund_notification_is_verified_and_tampering_is_refused(adyen_admin: Admin,
                                                                      webhook_receiver: WebhookReceiver) -> None:
    payment = adyen_admin.post("payments", {"value": 10000})
    adyen = provider(adyen_admin)
    pending = adyen.refund(refund(payment["pspReference"]))
    adyen_admin.post("notifications/refunds")
    delivery = last_delivery(webhook_receiver)
    [event] = adyen.verify_events(delivery.headers, delivery.body)
    assert (event.kind, event.topic) == ("refund", "REFUND")
    assert event.refund is not None and (event.refund.provider_ref, event.refund.state) == (pending.provider_ref, "succeeded")
    assert event.refund.raw["merchantReference"] == "refund-decision-7"
    with pytest.raises(SignatureError):
        adyen.verify_events(delivery.headers, delivery.body.replace(b'"value": 2500', b'"value": 9999'))
    with pytest.raises(SignatureError):
        provider(adyen_admin, hmac_key="00" * 32).verify_events(delivery.headers, delivery.body)


def test_a_refund_over_what_is_left_fails_in_its_notification(adyen_admin: Admin,
                                                              webhook_receiver: WebhookReceiver) -> None:
    payment = adyen_admin.post("payments", {"value": 1000})
    adyen = provider(adyen_admin)
    adyen.refund(refund(payment["pspReference"], 5000))
    adyen_admin.post("notifications/refunds")
    delivery = last_delivery(webhook_receiver)
    [event] = adyen.verify_events(delivery.headers, delivery.body)
    assert event.refund is not None and event.refund.state == "failed" and event.refund.detail


def test_refusals_are_classified(adyen_admin: Admin) -> None:
    payment = adyen_admin.post("payments", {"value": 10000})
    with pytest.raises(AuthError):
        provider(adyen_admin, key="wrong").refund(refund(payment["pspReference"]))
    with pytest.raises(AuthError):  # 403 901 Invalid Merchant Account
        provider(adyen_admin, merchant="SomeoneElse").refund(refund(payment["pspReference"]))
    with pytest.raises(PermanentError) as unprocessable:
        provider(adyen_admin).refund(refund(payment["pspReference"], currency="EUR"))
    assert unprocessable.value.status_code == 422 and "137" in str(unprocessable.value)
    adyen_admin.post("faults", {"status": 500, "path_contains": "/refunds"})
    with pytest.raises(TransientError):
        provider(adyen_admin).refund(refund(payment["pspReference"]))
    adyen_admin.post("faults", {"after_apply": True, "delay_s": 2, "path_contains": "/refunds"})
    with pytest.raises(OutcomeUnknownError):
        provider(adyen_admin, timeout_s=1).refund(refund(payment["pspReference"]))
    provider(adyen_admin).refund(refund(payment["pspReference"]))
    assert adyen_admin.get("state/counts")["refunds_created"] == 1


def test_a_chargeback_notice_carries_the_defence_period_and_tampering_is_refused(
        adyen_admin: Admin, webhook_receiver: WebhookReceiver) -> None:
    payment = adyen_admin.post("payments", {"value": 64900, "reference": "order-1001"})
    dispute = adyen_admin.post("disputes", {"payment": payment["pspReference"], "reason_code": "13.1"})["dispute"]
    delivery = last_delivery(webhook_receiver)
    adyen = provider(adyen_admin)
    [notice] = adyen.verify_dispute_notice(delivery.headers, delivery.body)
    assert (notice.dispute_ref, notice.payment_ref, notice.status, notice.outcome) == (
        dispute["pspReference"], payment["pspReference"], "Undefended", "open")
    assert (notice.category, notice.network_code, notice.amount_cents) == ("not_received", "13.1", 64900)
    assert notice.due_by == datetime.fromisoformat(dispute["defensePeriodEndsAt"])
    body = json.loads(delivery.body)
    body["notificationItems"][0]["NotificationRequestItem"]["originalReference"] = "OTHERPAYMENT0000"
    with pytest.raises(SignatureError):
        adyen.verify_dispute_notice(delivery.headers, json.dumps(body).encode())
    adyen_admin.post(f"disputes/{dispute['pspReference']}/close", {"outcome": "lost"})
    closed = last_delivery(webhook_receiver)
    [lost] = adyen.verify_dispute_notice(closed.headers, closed.body)
    assert lost.outcome == "lost" and lost.event_id != notice.event_id


def test_evidence_is_supplied_then_the_dispute_defended(adyen_admin: Admin) -> None:
    payment = adyen_admin.post("payments", {"value": 64900})
    dispute = adyen_admin.post("disputes", {"payment": payment["pspReference"], "reason_code": "13.1"})["dispute"]
    adyen = provider(adyen_admin)
    with pytest.raises(PermanentError, match="Required defense documents are missing"):
        adyen.submit_evidence(EvidenceSubmission(dispute["pspReference"], {"TIDorInvoice": "Invoice 1001"},
                                                 defense_reason="MerchandiseReceived"))
    staged = adyen.stage_evidence(EvidenceSubmission(dispute["pspReference"], {},
                                                     {"ProofOfDelivery.pdf": b"%PDF-1.4 signed by A. Lima"}))
    assert staged.submitted is False
    [supply] = [r for r in adyen_admin.requests_log("POST", "supplyDefenseDocument") if r["status"] == 200][-1:]
    assert supply["body"]["defenseDocuments"][0]["contentType"] == "application/pdf"
    submitted = adyen.submit_evidence(EvidenceSubmission(dispute["pspReference"], {}))
    assert submitted.submitted and submitted.detail == "defense reason MerchandiseReceived"
    assert [r for r in adyen_admin.requests_log("POST", "defendDispute")][-1]["body"]["defenseReasonCode"] == \
        "MerchandiseReceived"
    with pytest.raises(PermanentError, match="cannot be defended"):
        adyen.submit_evidence(EvidenceSubmission(dispute["pspReference"], {"DefenseMaterial": "more"}))
