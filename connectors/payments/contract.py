"""What every payment-provider connector offers, as plain records, so the payments and chargeback
parts of the domain treat Stripe, Adyen and PayPal alike.

Refunds: ``ProviderRefund.idempotency_key`` is derived from our refund decision id and sent as the
provider's own idempotency header (Stripe ``Idempotency-Key`` ≤255 chars, Adyen ``Idempotency-Key``
≤64 chars, PayPal ``PayPal-Request-Id``), so a retried or twice-decided refund reaches the provider
once (https://docs.stripe.com/idempotency, https://docs.adyen.com/development-resources/api-idempotency/,
https://developer.paypal.com/api/rest/reference/idempotency). Adyen only acknowledges a refund; its
outcome arrives later as a REFUND webhook, so ``RefundOutcome.state`` may be ``"pending"``.

Disputes: each provider's webhook is verified by the connector (Stripe ``Stripe-Signature`` with a
300 s tolerance, Adyen's HMAC in ``additionalData.hmacSignature``, PayPal's verify-webhook-signature
call) and turned into a ``DisputeNotice``; evidence is staged for approval, then submitted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Provider = Literal["stripe", "adyen", "paypal"]
RefundState = Literal["succeeded", "pending", "failed"]
DisputeCategory = Literal["not_received", "not_as_described", "fraud", "duplicate", "credit_not_processed",
                          "subscription_canceled", "general"]


@dataclass(frozen=True)
class ProviderRefund:
    """One refund to send: the payment it returns money from and our decision's idempotency key."""

    payment_ref: str          # Stripe payment_intent or charge id, Adyen payment pspReference, PayPal capture id
    amount_cents: int
    currency: str
    idempotency_key: str      # derived from the refund decision id, stable across retries
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundOutcome:
    """The provider's answer: its refund id and state; ``replayed`` when the idempotency key matched
    an earlier request (the provider answered the first request's result again)."""

    provider: Provider
    provider_ref: str
    state: RefundState
    amount_cents: int
    currency: str
    replayed: bool = False
    detail: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DisputeNotice:
    """A verified dispute event from a provider, in one shape."""

    provider: Provider
    event_id: str             # the provider's event / notification id, for once-only intake
    dispute_ref: str          # Stripe dispute id, Adyen dispute pspReference, PayPal dispute_id
    payment_ref: str          # the disputed charge / payment / capture
    status: str               # the provider's own status word (e.g. needs_response, won, lost)
    outcome: Literal["open", "won", "lost", "accepted"] = "open"
    reason_code: str = ""     # the provider's reason (Stripe reason, Adyen chargebackReasonCode, PayPal reason)
    network_code: str = ""    # the card network's code when known (e.g. Visa 13.1, Mastercard 4853)
    category: DisputeCategory = "general"
    amount_cents: int = 0
    currency: str = ""
    due_by: datetime | None = None   # Stripe evidence_details.due_by, Adyen defensePeriodEndsAt, PayPal seller_response_due_date
    raw: dict[str, Any] = field(default_factory=dict)
    #: Other references the provider gives for the same payment, any of which an order may carry
    #: (Stripe: the charge ``ch_…`` beside the PaymentIntent ``pi_…`` in ``payment_ref``).
    other_refs: tuple[str, ...] = ()

    @property
    def payment_refs(self) -> tuple[str, ...]:
        """Every reference of the disputed payment, ``payment_ref`` first, without blanks or repeats."""
        return tuple(dict.fromkeys(ref for ref in (self.payment_ref, *self.other_refs) if ref))


@dataclass(frozen=True)
class EvidenceSubmission:
    """Evidence to stage or submit: the provider's own field names (Stripe ``evidence[...]`` keys,
    Adyen defense reason and document types, PayPal evidence types) with text values, plus files."""

    dispute_ref: str
    fields: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)   # name → content (e.g. the HTML/PDF bundle)
    defense_reason: str = ""                                 # Adyen defenseReasonCode


@dataclass(frozen=True)
class EvidenceReceipt:
    """What the provider said to a stage or submit call."""

    dispute_ref: str
    submitted: bool
    provider_status: str
    detail: str = ""


class PaymentProvider(Protocol):
    """A payment provider's connector (one per configured merchant account)."""

    provider: Provider

    def refund(self, request: ProviderRefund) -> RefundOutcome: ...

    def refund_status(self, provider_ref: str) -> RefundOutcome: ...

    def verify_dispute_notice(self, headers: dict[str, str], body: bytes) -> list[DisputeNotice]:
        """Verify the webhook's signature (``connectors.errors.SignatureError`` on a bad or stale
        one) and return the dispute notices it carries (empty when none)."""
        ...

    def stage_evidence(self, submission: EvidenceSubmission) -> EvidenceReceipt: ...

    def submit_evidence(self, submission: EvidenceSubmission) -> EvidenceReceipt: ...
