"""Provider-neutral message records: the outbox row maps into these, each sender maps them out.

``idempotency_key`` is the outbox row's unique key. None of these providers documents a request
idempotency key for sends, so it travels as provider metadata (Mailgun ``v:`` variable, SendGrid
``custom_args``, Twilio status-callback query) and comes back in events for reconciliation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Attachment = tuple[str, bytes, str]
"""(filename, content, content_type)."""


@dataclass(frozen=True)
class EmailMessage:
    """One email to one or more recipients; ``text`` and/or ``html`` must be set."""

    to: list[str]
    from_: str
    subject: str
    text: str | None = None
    html: str | None = None
    reply_to: str | None = None
    tags: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        if not self.to:
            raise ValueError("EmailMessage.to needs at least one recipient")
        if not self.text and not self.html:
            raise ValueError("EmailMessage needs text or html")


@dataclass(frozen=True)
class SmsMessage:
    """One SMS; ``to`` is E.164; exactly one of ``from_`` / ``messaging_service_sid`` is the sender."""

    to: str
    body: str
    from_: str | None = None
    messaging_service_sid: str | None = None
    status_callback_url: str | None = None
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        if not self.from_ and not self.messaging_service_sid:
            raise ValueError("SmsMessage needs from_ or messaging_service_sid")


@dataclass(frozen=True)
class SlackMessage:
    """A Slack incoming-webhook post; ``text`` is the notification fallback when ``blocks`` are set."""

    text: str
    blocks: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class SendResult:
    """What the provider said when it accepted a message; the id correlates later status events."""

    provider: str
    provider_message_id: str | None
    status: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryEvent:
    """One provider status event (delivered, bounced, failed, …) keyed by the id ``send`` returned."""

    provider_message_id: str
    event: str
    reason: str | None = None

    def __iter__(self):  # type: ignore[no-untyped-def]
        """Unpacks as ``(provider_message_id, event, reason)`` for callers that want a tuple."""
        return iter((self.provider_message_id, self.event, self.reason))


@dataclass(frozen=True)
class InboundSms:
    """A customer's SMS reply (STOP, YES, 1/2/3 …) as the provider delivered it to our webhook."""

    provider_message_id: str
    from_: str
    to: str
    body: str
    messaging_service_sid: str | None = None
    num_media: int = 0


@dataclass(frozen=True)
class SentLookup:
    """What a provider's own records say about a message whose send answer was lost.

    ``found`` with the provider's id settles it as sent. Not found is only a reason to send again
    when ``conclusive`` (the provider's records for that recipient and time were read in full)."""

    found: bool
    provider_message_id: str | None = None
    conclusive: bool = True
