"""A dispute from each provider's stand-in to its outcome, through the product's real web route, a
real worker and PostgreSQL. The stand-in opens the dispute and sends its signed webhook to
``/webhooks/payments/{account}`` → one chargeback case whose SLA is the processor's deadline, with
its reminder timers → a packet with the facts "not received" needs, read from the WooCommerce
order (its gateway reference, IP and address) and the shipment the shipping part recorded →
staged at the stand-in → ``backorders disputes approve`` → submitted once at the stand-in however
often the task runs → the stand-in closes it → finance note, case note, case resolved. And a
tampered (or unverifiable) dispute webhook of each provider is refused with nothing stored."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select

from connectors.carriers import ScanRecord, ShipmentRecord
from connectors.types import OrderLineRecord, OrderRecord, PaymentRisk
from domain.core.clock import utcnow
from domain.core.models import (
    Case,
    CaseEvent,
    Dispute,
    DisputeCall,
    DisputeNoticeRow,
    DisputePacket,
    FinanceNote,
    InboxEvent,
    Store,
    Timer,
)
from tests.conftest import wait_for
from tests.integration.payments.conftest import ACCOUNTS, METHODS, PROVIDERS, Payments, payments  # noqa: F401

ADDRESS = "Ana Lima, 12 Pine St, Brooklyn, NY, 11201, US"
#: How each stand-in closes its dispute here: both outcomes are covered.
OUTCOMES = {"stripe": "won", "adyen": "lost", "paypal": "lost"}
CALL = "tasks.disputes.call_provider"


@dataclass
class Opened:
    """A dispute the stand-in opened: its reference there, the processor's deadline, the delivery."""

    ref: str
    due_by: datetime
    delivery: dict[str, Any]


def connector(account: str) -> Any:
    """The product's own connector for the account (real HTTP to the stand-in), to read what it holds."""
    from flows.payments import provider_named

    return provider_named(account)


def paid_order(payments: Payments, provider: str, number: int) -> str:
    """A payment at the stand-in and the WooCommerce outlet order the store reports for it (its
    payment method, the gateway's reference, the buyer's IP and shipping address); returns what the
    stand-in's admin disputes: the Stripe charge, the Adyen payment, the PayPal capture."""
    from domain.stock.orders import record_orders

    if provider == "stripe":
        made = payments.post("stripe", "charges", {"amount": 64900})
        reference, disputed = made["payment_intent"], made["charge"]
    elif provider == "adyen":
        reference = disputed = payments.post("adyen", "payments", {"value": 64900})["pspReference"]
    else:
        reference = disputed = payments.post("paypal", "captures", {"value": "649.00"})["capture"]
    store_id = payments.session.scalar(select(Store.id).where(Store.key == "woo-outlet"))
    record_orders(payments.session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id=str(number), number=str(number), placed_at=utcnow() - timedelta(days=12),
        email=f"c{number}@example.com", phone=None, customer_name="Ana Lima", total_cents=64900,
        lines=[OrderLineRecord(external_id=f"{number}-1", sku=None, quantity=1, price_cents=64900,
                               title="Oak futon frame, full")],
        risk=PaymentRisk(customer_ip="203.0.113.7", shipping_address={
            "first_name": "Ana", "last_name": "Lima", "address_1": "12 Pine St", "city": "Brooklyn", "state": "NY",
            "postcode": "11201", "country": "US"}),
        payment_method=METHODS[provider], payment_ref=reference)])
    payments.session.commit()
    return str(disputed)


def shipped_and_delivered(payments: Payments, number: int) -> datetime:
    """The order's parcel as the shipping part records a ShipStation shipment: UPS, its tracking
    number, shipped nine days ago, a delivered scan three days later; returns the ship time."""
    from domain.shipping import accounts, shipments

    account_id = accounts.sync(payments.session, payments.config.shipping)["shipstation-main"]
    shipped = (utcnow() - timedelta(days=9)).replace(microsecond=0)
    shipments.record(payments.session, account_id, ShipmentRecord(
        external_id=f"lbl-{number}", order_number=str(number), carrier="ups", tracking_number=f"1Z999AA1{number}",
        shipped_at=shipped, label_created_at=shipped, scans=(
            ScanRecord(f"{number}-1", "in_transit", shipped + timedelta(hours=6), "Departed facility", "Newark NJ"),
            ScanRecord(f"{number}-2", "delivered", shipped + timedelta(days=3), "Delivered, front door",
                       "Brooklyn NY 11201"))))
    payments.session.commit()
    return shipped


def open_dispute(payments: Payments, provider: str, disputed: str) -> Opened:
    """The stand-in's admin opens a "not received" dispute and sends its signed webhook to our route."""
    if provider == "stripe":
        answer = payments.post("stripe", "disputes", {"charge": disputed})
        due_by = datetime.fromtimestamp(answer["dispute"]["evidence_details"]["due_by"], UTC)
        return Opened(answer["dispute"]["id"], due_by, answer["webhooks"][0])
    if provider == "adyen":
        answer = payments.post("adyen", "disputes", {"payment": disputed, "reason_code": "13.1"})
        return Opened(answer["dispute"]["pspReference"], datetime.fromisoformat(answer["dispute"]["defensePeriodEndsAt"]),
                      answer["webhooks"][0])
    answer = payments.post("paypal", "disputes", {"capture": disputed})
    return Opened(answer["dispute"]["dispute_id"], datetime.fromisoformat(answer["dispute"]["seller_response_due_date"]),
                  answer["webhooks"][0])


def the_dispute(payments: Payments, *states: str) -> Dispute | None:
    """Our one dispute once it is in one of ``states`` (None before)."""
    payments.session.expire_all()
    found = payments.session.scalar(select(Dispute))
    return found if found is not None and found.state in states else None


def count(payments: Payments, model: Any, *where: Any) -> int:
    payments.session.expire_all()
    return int(payments.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def staged_at_stand_in(payments: Payments, provider: str, opened: Opened, shipped: datetime, number: int) -> None:
    """What the stand-in holds after staging: Stripe the evidence (text and uploaded PDFs) with
    nothing submitted; Adyen the two documents "MerchandiseReceived" requires, as PDFs; PayPal
    nothing (it has no draft: the evidence stays with us until it is submitted)."""
    account = ACCOUNTS[provider]
    if provider == "stripe":
        held = connector(account).client.v1.disputes.retrieve(opened.ref)
        assert (held.evidence.shipping_carrier, held.evidence.shipping_tracking_number) == ("ups", f"1Z999AA1{number}")
        assert (held.evidence.shipping_date, held.evidence.shipping_address) == (f"{shipped:%Y-%m-%d}", ADDRESS)
        uploads = payments.get("stripe", "requests", method="POST", path_contains="/v1/files")["requests"]
        assert [u["status"] for u in uploads] == [200, 200], "delivery proof and the bundle, as PDF files"
        assert held.evidence.shipping_documentation.startswith("file_")
        assert held.evidence.uncategorized_file.startswith("file_")
        assert (held.evidence_details.has_evidence, held.evidence_details.submission_count) == (True, 0)
        assert held.status == "needs_response"
    elif provider == "adyen":
        supplied = [r for r in payments.get("adyen", "requests", method="POST",
                                            path_contains="supplyDefenseDocument")["requests"] if r["status"] == 200]
        [documents] = [r["body"]["defenseDocuments"] for r in supplied]
        assert {(d["defenseDocumentTypeCode"], d["contentType"]) for d in documents} == {
            ("DateMerchandiseShipped", "application/pdf"), ("ProofOfGoodsOrServicesProvided", "application/pdf")}
        reasons = connector(account).disputes.retrieve_applicable_defense_reasons({
            "disputePspReference": opened.ref, "merchantAccountCode": "FutonLoftECOM"}).message["defenseReasons"]
        assert {r["defenseReasonCode"]: r["satisfied"] for r in reasons}["MerchandiseReceived"] is True
        assert payments.get("adyen", "requests", method="POST", path_contains="defendDispute")["requests"] == []
    else:
        assert payments.get("paypal", "requests", method="POST", path_contains="provide-evidence")["requests"] == []
        held = connector(account).get_json(f"/v1/customer/disputes/{opened.ref}")
        assert held["status"] == "WAITING_FOR_SELLER_RESPONSE" and held["evidences"] == []


def submitted_once_at_stand_in(payments: Payments, provider: str, opened: Opened, number: int) -> None:
    account = ACCOUNTS[provider]
    if provider == "stripe":
        held = connector(account).client.v1.disputes.retrieve(opened.ref)
        assert (held.evidence_details.submission_count, held.status) == (1, "under_review")
        sent = [r for r in payments.get("stripe", "requests", method="POST",
                                        path_contains=f"/v1/disputes/{opened.ref}")["requests"] if r["status"] == 200]
        assert len(sent) == 2, "staged once (submit=false), submitted once (submit=true)"
    elif provider == "adyen":
        [defended] = payments.get("adyen", "requests", method="POST", path_contains="defendDispute")["requests"]
        assert (defended["status"], defended["body"]["defenseReasonCode"]) == (200, "MerchandiseReceived")
    else:
        [given] = payments.get("paypal", "requests", method="POST", path_contains="provide-evidence")["requests"]
        assert given["status"] == 200
        held = connector(account).get_json(f"/v1/customer/disputes/{opened.ref}")
        assert held["status"] == "UNDER_REVIEW"
        evidence = {e["evidence_type"]: e for e in held["evidences"]}
        assert set(evidence) == {"PROOF_OF_FULFILLMENT", "PROOF_OF_DELIVERY_SIGNATURE", "DELIVERY_ADDRESS"}
        assert evidence["PROOF_OF_FULFILLMENT"]["evidence_info"]["tracking_info"] == [
            {"carrier_name": "UPS", "tracking_number": f"1Z999AA1{number}"}]
        assert "Delivered, front door" in evidence["PROOF_OF_DELIVERY_SIGNATURE"]["notes"]
        assert ADDRESS in evidence["DELIVERY_ADDRESS"]["notes"]
        assert evidence["PROOF_OF_FULFILLMENT"]["documents"] == [{"name": "OTHER.pdf"}], "the bundle, as a PDF"


def expected_fields(provider: str, shipped: datetime, number: int) -> dict[str, str]:
    """The provider fields "not received" needs, in the provider's own names (Adyen takes documents only)."""
    if provider == "stripe":
        return {"shipping_carrier": "ups", "shipping_tracking_number": f"1Z999AA1{number}",
                "shipping_date": f"{shipped:%Y-%m-%d}", "shipping_address": ADDRESS}
    if provider == "adyen":
        return {}
    return {"PROOF_OF_FULFILLMENT.carrier_name": "ups", "PROOF_OF_FULFILLMENT.tracking_number": f"1Z999AA1{number}"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_dispute_from_the_stand_in_to_its_outcome(payments: Payments, celery_worker: object, provider: str) -> None:
    from tasks.disputes import call_provider
    from workers.cli import main

    number = 7100 + PROVIDERS.index(provider)
    disputed = paid_order(payments, provider, number)
    shipped = shipped_and_delivered(payments, number)
    opened = open_dispute(payments, provider, disputed)
    assert opened.delivery["status"] == 200, opened.delivery

    dispute = wait_for(lambda: the_dispute(payments, "staged"))
    assert isinstance(dispute, Dispute) and dispute.order_id is not None, "found by the gateway reference"
    assert (dispute.provider, dispute.account, dispute.dispute_ref) == (provider, ACCOUNTS[provider], opened.ref)
    assert dispute.due_by == opened.due_by
    [case] = payments.session.scalars(select(Case).where(Case.kind == "chargeback")).all()
    assert (case.id, case.order_id, case.queue, case.sla_due_at) == (dispute.case_id, dispute.order_id, "disputes",
                                                                     opened.due_by)
    timers = {t.kind: t.due_at for t in payments.session.scalars(select(Timer).where(
        Timer.subject_type == "dispute", Timer.subject_id == dispute.id, Timer.state == "pending"))}
    assert timers == {"dispute.deadline": opened.due_by, "dispute.reminder.0": opened.due_by - timedelta(hours=72),
                      "dispute.reminder.1": opened.due_by - timedelta(hours=24),
                      "dispute.reminder.2": opened.due_by - timedelta(hours=4)}

    packet = payments.session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == dispute.id))
    assert packet is not None and packet.missing == []
    assert packet.present == ["carrier", "tracking_number", "ship_date", "delivery_proof", "shipping_address"]
    assert {k: v for k, v in packet.fields.items() if k in expected_fields(provider, shipped, number)} == \
        expected_fields(provider, shipped, number)
    assert "Delivered, front door" in packet.facts["delivery_proof"]["text"]
    staged_at_stand_in(payments, provider, opened, shipped, number)

    approved = CliRunner().invoke(main, ["disputes", "approve", str(dispute.id), "--by", "lee", "--json"])
    assert approved.exit_code == 0, approved.output
    submit_call = json.loads(approved.output)["submit_call"]
    call_provider.delay(submit_call)  # the same call delivered twice, racing the first
    done = wait_for(lambda: the_dispute(payments, "submitted"))
    assert isinstance(done, Dispute) and done.approved_by == "lee"
    wait_for(lambda: count(payments, DisputeCall, DisputeCall.id == submit_call, DisputeCall.state == "done"))
    assert call_provider.apply(args=[submit_call]).get() == "nothing to do", "a redelivery finds it done"
    again = CliRunner().invoke(main, ["disputes", "submit", str(dispute.id), "--json"])
    assert again.exit_code != 0 and "is submitted" in again.output, again.output
    submitted_once_at_stand_in(payments, provider, opened, number)
    assert count(payments, Timer, Timer.subject_type == "dispute", Timer.state == "pending") == 0

    outcome = OUTCOMES[provider]
    closed = payments.post(provider, f"disputes/{opened.ref}/close", {"outcome": outcome})
    assert [hook["status"] for hook in closed["webhooks"]] == [200]
    final = wait_for(lambda: the_dispute(payments, outcome))
    assert isinstance(final, Dispute)
    [note] = payments.session.scalars(select(FinanceNote)).all()
    assert (note.kind, note.amount_cents, note.reference) == (f"chargeback_{outcome}",
                                                              0 if outcome == "won" else -64900, opened.ref)
    assert note.gl_note.startswith(f"Chargeback {outcome} on order {number}")
    payments.session.refresh(case)
    assert case.state == "resolved"
    notes = list(payments.session.scalars(select(CaseEvent.note).where(CaseEvent.case_id == case.id)))
    assert any(n and n.startswith(f"chargeback {outcome} after the evidence was submitted") and note.gl_note in n
               for n in notes), notes
    assert count(payments, Case, Case.kind == "chargeback") == 1 and count(payments, Dispute) == 1


def tampered(provider: str, delivery: dict[str, Any]) -> bytes:
    """The delivered body with the disputed amount raised, under the original signature."""
    body = json.loads(delivery["body"])
    if provider == "stripe":
        body["data"]["object"]["amount"] += 1
    elif provider == "adyen":
        body["notificationItems"][0]["NotificationRequestItem"]["amount"]["value"] += 1
    else:
        body["resource"]["dispute_amount"]["value"] = "1.00"
    return json.dumps(body).encode()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tampered_dispute_webhook_is_refused_and_nothing_is_stored(payments: Payments, provider: str) -> None:
    disputed = paid_order(payments, provider, 7200)
    opened = open_dispute(payments, provider, disputed)
    before = {model: count(payments, model) for model in (InboxEvent, DisputeNoticeRow, Dispute, Case)}
    refused = requests.post(f"{payments.web}/webhooks/payments/{ACCOUNTS[provider]}",
                            data=tampered(provider, opened.delivery), headers=opened.delivery["headers"], timeout=10)
    assert (refused.status_code, refused.json()) == (401, {"error": "signature verification failed"})
    assert {model: count(payments, model) for model in before} == before
    if provider == "paypal":
        [check] = payments.get("paypal", "requests", method="POST",
                               path_contains="verify-webhook-signature")["requests"][-1:]
        assert check["status"] == 200, "PayPal's verify call answered, and said FAILURE"
