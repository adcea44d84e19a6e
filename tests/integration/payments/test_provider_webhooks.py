"""Provider webhooks at ``/webhooks/payments/{account}``, delivered by the stand-ins over HTTP to
the product's web app: verified, stored once, then handed to their handler — a refund's outcome
to its execution, a dispute to whatever part registered for disputes."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.payments.common import ProviderEvent
from domain.core.models import InboxEvent, OutboxMessage
from domain.core.stages import FollowUp
from domain.payments import events
from tests.integration.payments.conftest import ACCOUNTS, Payments


def stored(payments: Payments, account: str) -> list[InboxEvent]:
    payments.session.expire_all()
    return list(payments.session.scalars(select(InboxEvent).where(InboxEvent.source == f"payments:{account}")
                                         .order_by(InboxEvent.id)))


def test_an_adyen_refund_stays_pending_until_its_verified_refund_notification(payments: Payments) -> None:
    from tasks.payments import apply_events, pay

    execution_id = payments.decide(payments.paid_order("adyen", 6001))
    assert str(pay.apply(args=[execution_id]).get()).startswith("pending")
    row = payments.execution(execution_id)
    assert row.state == "awaiting" and not payments.session.scalars(select(OutboxMessage)).all()

    [delivery] = payments.post("adyen", "notifications/refunds")["webhooks"]
    assert (delivery["status"], delivery["accepted"]) == (200, True), "answered [accepted]"
    tampered = delivery["body"].replace('"value": 12000', '"value": 120000')
    refused = requests.post(f"{payments.web}/webhooks/payments/adyen-eu", data=tampered.encode(),
                            headers={"Content-Type": "application/json"}, timeout=10)
    assert refused.status_code == 401
    [event] = stored(payments, "adyen-eu")
    assert (event.topic, event.state) == ("REFUND", "pending")

    assert apply_events.apply(args=["adyen-eu"]).get() == 1
    row = payments.execution(execution_id)
    assert row.state == "succeeded" and row.settled_at is not None
    [notice] = payments.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "refund_paid")).all()
    assert notice.context["reference"] == row.provider_ref and notice.context["paid_to"] == "your card"

    again = payments.post("adyen", "redeliver", {"index": -1})
    assert again["statuses"] == [200]
    assert len(stored(payments, "adyen-eu")) == 1, "a redelivered notification is stored once"
    assert payments.refunds_created("adyen") == 1


@pytest.fixture
def dispute_handler() -> Iterator[list[tuple[str, ProviderEvent]]]:
    """A dispute handler as the chargeback part registers one; removed afterwards."""
    seen: list[tuple[str, ProviderEvent]] = []

    def on_dispute(session: Session, account: str, event: ProviderEvent, now: datetime) -> list[FollowUp]:
        seen.append((account, event))
        return []

    events.handler("dispute")(on_dispute)
    yield seen
    events.HANDLERS["dispute"].remove(on_dispute)


def test_dispute_events_of_every_provider_reach_the_registered_handler_once(
        payments: Payments, dispute_handler: list[tuple[str, ProviderEvent]]) -> None:
    from tasks.payments import apply_events

    charge = payments.post("stripe", "charges", {"amount": 64900})
    payment = payments.post("adyen", "payments", {"value": 64900})
    capture = payments.post("paypal", "captures", {"value": "649.00"})["capture"]
    opened = {
        "stripe": payments.post("stripe", "disputes", {"charge": charge["charge"]}),
        "adyen": payments.post("adyen", "disputes", {"payment": payment["pspReference"], "reason_code": "13.1"}),
        "paypal": payments.post("paypal", "disputes", {"capture": capture}),
    }
    for provider, answer in opened.items():
        assert [hook["status"] for hook in answer["webhooks"]] == [200], provider
        assert payments.post(provider, "redeliver", {"index": -1})["statuses"] == [200]
    for account in ACCOUNTS.values():
        assert len(stored(payments, account)) == 1, account
        assert apply_events.apply(args=[account]).get() == 1
    notices = {account: event.dispute for account, event in dispute_handler}
    assert set(notices) == set(ACCOUNTS.values()) and len(dispute_handler) == 3
    assert all(n is not None and n.due_by is not None and n.category == "not_received" for n in notices.values())
    assert notices["stripe-main"].dispute_ref == opened["stripe"]["dispute"]["id"]  # type: ignore[union-attr]
    assert notices["adyen-eu"].payment_ref == payment["pspReference"]  # type: ignore[union-attr]
    assert notices["paypal"].payment_ref == capture  # type: ignore[union-attr]
    assert all(event.state == "done" for account in ACCOUNTS.values() for event in stored(payments, account))


def test_tampered_or_unverifiable_deliveries_are_refused_and_nothing_is_stored(payments: Payments) -> None:
    charge = payments.post("stripe", "charges", {"amount": 64900})
    stripe_delivery = payments.post("stripe", "disputes", {"charge": charge["charge"]})["webhooks"][0]
    capture = payments.post("paypal", "captures", {"value": "649.00"})["capture"]
    paypal_delivery = payments.post("paypal", "disputes", {"capture": capture})["webhooks"][0]
    before = payments.session.scalar(select(func.count()).select_from(InboxEvent))
    for account, delivery in (("stripe-main", stripe_delivery), ("paypal", paypal_delivery)):
        body = json.loads(delivery["body"])
        body["id"] = body["id"] + "X"  # another event under the same signature
        refused = requests.post(f"{payments.web}/webhooks/payments/{account}", data=json.dumps(body).encode(),
                                headers=delivery["headers"], timeout=10)
        assert refused.status_code == 401, account
    assert requests.post(f"{payments.web}/webhooks/payments/nowhere", data=b"{}", timeout=10).status_code == 404
    assert requests.post(f"{payments.web}/webhooks/payments/stripe-main", data=b"not json",
                         headers=stripe_delivery["headers"], timeout=10).status_code == 401
    payments.session.expire_all()
    assert payments.session.scalar(select(func.count()).select_from(InboxEvent)) == before
