"""What the payment connectors share: error classes by status, the dispute category of a reason
code, and provider events as one verified shape.

Errors follow ``connectors.errors`` for every provider: 401/403 → :class:`AuthError`, 429 and 5xx →
:class:`TransientError`, other 4xx → :class:`PermanentError` with the provider's own message; a
request that was sent and whose answer was lost → :class:`OutcomeUnknownError` — safe to send
again, because every write carries the provider's idempotency key (Stripe ``Idempotency-Key``,
Adyen ``Idempotency-Key``, PayPal ``PayPal-Request-Id``).

Dispute categories come from the provider's reason (Stripe's ``reason``, PayPal's ``reason``) or,
for Adyen, from the card network's reason code: Visa 13.1 / Mastercard 4855 not received, Visa
13.3 / Mastercard 4853 not as described, Visa 10.x / Mastercard 4837, 4863 fraud
(https://usa.review.visa.com/supporting-info/merchandise-services-not-received-condition-13-1.html,
https://docs.stripe.com/disputes/categories).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import requests

from connectors.errors import (
    AuthError,
    ConnectorError,
    OutcomeUnknownError,
    PermanentError,
    TransientError,
)
from connectors.payments.contract import DisputeCategory, DisputeNotice, PaymentProvider, RefundOutcome


#: The credentials each provider's connector reads (names in ``ConnectorConfig.credentials``), and
#: what its webhook secret is: Stripe's endpoint ``whsec_`` secret, Adyen's hex HMAC key, PayPal's webhook id.
CREDENTIALS = {"stripe": ("secret_key",), "adyen": ("api_key",), "paypal": ("client_id", "client_secret")}
WEBHOOK_SECRETS = {"stripe": "the endpoint's whsec_ signing secret", "adyen": "the webhook's hex HMAC key",
                   "paypal": "the webhook id PayPal verifies against"}


def by_status(status: int | None, message: str, platform: str, body: str = "") -> ConnectorError:
    """The error class a provider's HTTP status calls for."""
    kwargs: dict[str, Any] = {"status_code": status, "platform": platform, "body": body[:2000]}
    if status in (401, 403):
        return AuthError(message, **kwargs)
    if status is None or status == 429 or status >= 500:
        return TransientError(message, **kwargs)
    return PermanentError(message, **kwargs)


def from_network(exc: Exception, platform: str, what: str, sent_write: bool) -> ConnectorError:
    """A connection error or timeout: the answer to a write that may have arrived is unknown."""
    if sent_write and not isinstance(exc, requests.exceptions.ConnectTimeout):
        return OutcomeUnknownError(f"{platform} {what}: no answer ({exc.__class__.__name__}); sent again with the "
                                   f"same idempotency key it cannot apply twice", platform=platform)
    return TransientError(f"{platform} {what}: {exc.__class__.__name__}: {exc}", platform=platform)


CATEGORIES: dict[str, DisputeCategory] = {
    # Stripe reasons (https://docs.stripe.com/api/disputes/object#dispute_object-reason)
    "product_not_received": "not_received", "product_unacceptable": "not_as_described", "fraudulent": "fraud",
    "unrecognized": "fraud", "duplicate": "duplicate", "credit_not_processed": "credit_not_processed",
    "subscription_canceled": "subscription_canceled",
    # PayPal reasons (https://developer.paypal.com/docs/api/customer-disputes/v1/)
    "MERCHANDISE_OR_SERVICE_NOT_RECEIVED": "not_received", "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED": "not_as_described",
    "UNAUTHORISED": "fraud", "DUPLICATE_TRANSACTION": "duplicate", "CREDIT_NOT_PROCESSED": "credit_not_processed",
    "CANCELED_RECURRING_BILLING": "subscription_canceled",
    # Card network reason codes (Adyen's chargebackReasonCode)
    "13.1": "not_received", "4855": "not_received", "13.3": "not_as_described", "4853": "not_as_described",
    "10.1": "fraud", "10.2": "fraud", "10.3": "fraud", "10.4": "fraud", "10.5": "fraud", "4837": "fraud",
    "4863": "fraud", "4870": "fraud", "4871": "fraud", "12.6.1": "duplicate", "4834": "duplicate",
    "13.6": "credit_not_processed", "13.2": "subscription_canceled", "4841": "subscription_canceled",
}


def category(*reasons: str) -> DisputeCategory:
    """The first reason (provider reason, then network code) that names a category, else general."""
    return next((CATEGORIES[reason] for reason in reasons if reason in CATEGORIES), "general")


@dataclass(frozen=True)
class ProviderEvent:
    """One verified webhook event: a dispute notice, a refund's outcome, or something else noted
    by its type. ``event_id`` is the provider's own (Stripe ``evt_…``, PayPal ``WH-…``; Adyen has
    none, so pspReference, eventCode and success), the key the event is stored once under."""

    provider: str
    event_id: str
    topic: str
    kind: Literal["dispute", "refund", "other"]
    dispute: DisputeNotice | None = None
    refund: RefundOutcome | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (datetimes ISO 8601), for the inbox row."""
        data = asdict(self)
        if self.dispute is not None and self.dispute.due_by is not None:
            data["dispute"]["due_by"] = self.dispute.due_by.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProviderEvent:
        dispute = dict(data["dispute"]) if data.get("dispute") else None
        if dispute is not None and dispute.get("due_by"):
            dispute["due_by"] = datetime.fromisoformat(dispute["due_by"])
        if dispute is not None:  # a list in JSON; absent from events stored before it existed
            dispute["other_refs"] = tuple(dispute.get("other_refs") or ())
        return cls(provider=data["provider"], event_id=data["event_id"], topic=data["topic"], kind=data["kind"],
                   dispute=DisputeNotice(**dispute) if dispute is not None else None,
                   refund=RefundOutcome(**data["refund"]) if data.get("refund") else None, raw=data.get("raw") or {})


class WebhookProvider(PaymentProvider, Protocol):
    """A payment connector that also reads every event its webhooks carry, verified."""

    def verify_events(self, headers: dict[str, str], body: bytes) -> list[ProviderEvent]:
        """Verify the delivery (``SignatureError`` if not genuine) and return its events."""
        ...
