"""Fixtures of the chargeback tests: the example store loaded, a payment provider that records
what it is sent (the one place a stand-in is not used: this is the provider-independent desk),
orders with a payment reference, and dispute notices as the payment connectors hand them over."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import domain.core.env_settings as runtime_settings
from connectors.payments.contract import (
    DisputeNotice,
    EvidenceReceipt,
    EvidenceSubmission,
    ProviderRefund,
    RefundOutcome,
)
from domain.chargebacks import shipment_evidence
from domain.chargebacks.shipment_evidence import ShipmentFacts
from domain.core.clock import utcnow
from domain.core.models import Order, OrderLine, Sku, Store
from flows import dispute_desk
from flows.work import UnitOfWork
from tasks.base import unit_of_work


class RecordingProvider:
    """A ``PaymentProvider`` that keeps every evidence call it receives and answers like a provider
    that took it; refunds and webhooks are another part's and fail loudly if called here."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.staged: list[EvidenceSubmission] = []
        self.submitted: list[EvidenceSubmission] = []
        self.fail_with: Exception | None = None

    def refund(self, request: ProviderRefund) -> RefundOutcome:
        raise AssertionError("the chargeback desk never refunds")

    def refund_status(self, provider_ref: str) -> RefundOutcome:
        raise AssertionError("the chargeback desk never reads refunds")

    def verify_dispute_notice(self, headers: dict[str, str], body: bytes) -> list[DisputeNotice]:
        raise AssertionError("notices arrive verified")

    def stage_evidence(self, submission: EvidenceSubmission) -> EvidenceReceipt:
        if self.fail_with is not None:
            raise self.fail_with
        self.staged.append(submission)
        return EvidenceReceipt(submission.dispute_ref, submitted=False, provider_status="needs_response")

    def submit_evidence(self, submission: EvidenceSubmission) -> EvidenceReceipt:
        if self.fail_with is not None:
            raise self.fail_with
        self.submitted.append(submission)
        return EvidenceReceipt(submission.dispute_ref, submitted=True, provider_status="under_review")


class LocalWork:
    """A ``Transactional`` for calling the desk's flows directly: each unit of work its own
    transaction; what it would send after commit is kept in ``sent`` as (task name, args)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        return unit_of_work(send=lambda messages: self.sent.extend(
            (signature.name, tuple(args)) for signature, args, _ in messages))

    def take(self, task: str) -> list[Any]:
        """The first argument of each message for ``task`` sent so far, forgetting them."""
        found = [args[0] for name, args in self.sent if name == task]
        self.sent = [(name, args) for name, args in self.sent if name != task]
        return found


@dataclass
class Desk:
    config: Any
    providers: dict[str, RecordingProvider]
    shipments: dict[int, list[ShipmentFacts]] = field(default_factory=dict)
    work: LocalWork = field(default_factory=LocalWork)


@pytest.fixture
def desk(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    settings = runtime_settings.JourneySettings(config=catalog, public_base_url="https://shop.example",
                                                secret_key="k" * 40)
    monkeypatch.setattr(runtime_settings, "current", lambda: settings)
    found = Desk(catalog, {"stripe-main": RecordingProvider("stripe"), "adyen-eu": RecordingProvider("adyen"),
                           "paypal-main": RecordingProvider("paypal")})
    previous_providers = dispute_desk.use_providers(lambda account: found.providers[account])
    previous_lookup = shipment_evidence.use_lookup(lambda session, order_id: found.shipments.get(order_id, []))
    try:
        yield found
    finally:
        dispute_desk.use_providers(previous_providers)
        shipment_evidence.use_lookup(previous_lookup)


def make_order(session: Session, number: str, payment_ref: str | None, *, email: str = "robin@example.com",
               placed_at: datetime | None = None, facts: dict[str, Any] | None = None,
               lines: tuple[tuple[str, int], ...] = (("FUT-FRM-OAK-FULL", 1),), store: str = "shopify-main",
               phone: str | None = None, status: str = "open") -> Order:
    store_id = session.scalar(select(Store.id).where(Store.key == store))
    skus = {s.code: s for s in session.scalars(select(Sku).where(Sku.code.in_([code for code, _ in lines])))}
    total = sum(skus[code].price_cents * qty for code, qty in lines)
    order = Order(store_id=store_id, external_id=f"ext-{number}", number=number, customer_name="Robin Lee",
                  email=email, phone=phone, status=status, currency="USD", total_cents=total,
                  placed_at=placed_at or utcnow() - timedelta(days=10),
                  payment_ref=payment_ref, payment_facts=facts or {})
    session.add(order)
    session.flush()
    for index, (code, qty) in enumerate(lines):
        session.add(OrderLine(order_id=order.id, sku_id=skus[code].id, external_id=f"{number}-{index}", quantity=qty,
                              price_cents=skus[code].price_cents, title=skus[code].title))
    session.flush()
    return order


def notice(provider: str, event_id: str, dispute_ref: str, payment_ref: str, *, category: str,
           due_by: datetime | None, network_code: str = "", reason_code: str = "", outcome: str = "open",
           status: str = "needs_response", amount_cents: int = 64900) -> DisputeNotice:
    return DisputeNotice(provider=provider, event_id=event_id, dispute_ref=dispute_ref,  # type: ignore[arg-type]
                         payment_ref=payment_ref, status=status, outcome=outcome,  # type: ignore[arg-type]
                         reason_code=reason_code, network_code=network_code, category=category,  # type: ignore[arg-type]
                         amount_cents=amount_cents, currency="USD", due_by=due_by, raw={"id": event_id})
