"""The outbox state machine: which message may be sent now, and what a send or a callback did.

::

    pending ──claim──► sending ──accepted──► sent ──callback──► delivered | failed
       ▲                  │ ├──429/5xx/unreachable──► pending (not_before = retry time)
       └──────────────────┘ ├──timeout after sending──► unknown ──callback──► sent | delivered | failed
                            └──4xx / not configured──► failed

None of the providers documents a request idempotency key, so exactly-once across an HTTP timeout
is impossible. The rule here is: a row leaves ``pending`` only under a row lock (one sender at a
time), and a send whose outcome is unknown becomes ``unknown`` — reconciled from the provider's
status callbacks (which carry the idempotency key) or by an operator, never resent automatically.

Plain functions on a session, no Celery and no HTTP: ``tasks.notify`` does the calling.
"""
from __future__ import annotations

import base64
import binascii
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.messaging.types import EmailMessage, SlackMessage, SmsMessage
from domain.core import audit
from domain.core.business_config import NotificationConfig
from domain.core.clock import utcnow
from domain.core.db import state_is
from domain.core.models import OutboxMessage
from domain.messaging import senders
from domain.messaging.rendering import RenderError, render_email, render_slack, render_sms

log = logging.getLogger(__name__)

ACTOR = "notify"
EMAIL_PROVIDERS = ("mailgun", "sendgrid")
TWILIO_STATUS_PATH = "/callbacks/twilio/status"
SLACK_RECIPIENT_PATTERN = re.compile(r"^SLACK_WEBHOOK_[A-Z0-9_]+$")
FINAL_STATES = frozenset({"delivered", "failed", "suppressed"})

DELIVERED_EVENTS = frozenset({"delivered", "read"})
FAILED_EVENTS = frozenset({"failed", "undelivered", "bounced", "bounce", "dropped", "rejected", "canceled"})
ACCEPTED_EVENTS = frozenset({"queued", "accepted", "sending", "sent", "processed", "deferred", "scheduled"})
"""Events proving the provider holds the message: enough to settle an ``unknown`` row as sent."""


class NotConfiguredError(Exception):
    """A provider setting is missing; the message names the environment variable to set."""

    def __init__(self, variable: str, why: str = "is not set") -> None:
        super().__init__(f"{variable} {why}")
        self.variable = variable


Message = EmailMessage | SmsMessage | SlackMessage


@dataclass(frozen=True)
class ProviderSettings:
    """Provider credentials and endpoints, read from the environment at send time, and the
    ``[notifications]`` table of the configuration file (the senders: ``domain.messaging.senders``).

    Read per send (not at import) so an operator can fix a variable and redrive without a code
    change, and so secrets (API keys, the Slack webhook URL) never land in the database.
    """

    env: Mapping[str, str]
    public_base_url: str
    timeout_s: float = 10.0
    notifications: NotificationConfig | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None,
                 public_base_url: str | None = None) -> ProviderSettings:
        env = dict(os.environ if env is None else env)
        if public_base_url is None:
            from domain.core.env_settings import get_settings

            public_base_url = get_settings().public_base_url
        try:
            timeout_s = float(env.get("NOTIFY_TIMEOUT_S") or 10.0)
        except ValueError:
            timeout_s = 10.0
        return cls(env=env, public_base_url=public_base_url.rstrip("/"), timeout_s=timeout_s,
                   notifications=_notifications())

    def require(self, name: str) -> str:
        value = (self.env.get(name) or "").strip()
        if not value:
            raise NotConfiguredError(name)
        return value

    def optional(self, name: str) -> str | None:
        return (self.env.get(name) or "").strip() or None

    @property
    def email_provider(self) -> str:
        name = self.require("EMAIL_PROVIDER").lower()
        if name not in EMAIL_PROVIDERS:
            raise NotConfiguredError("EMAIL_PROVIDER", f"must be one of {', '.join(EMAIL_PROVIDERS)}, not {name!r}")
        return name

    def provider_for(self, channel: str) -> str:
        """The provider that sends ``channel``; also the rate-limit bucket name."""
        if channel == "email":
            return self.email_provider
        if channel == "sms":
            return "twilio"
        if channel == "slack":
            return "slack"
        raise NotConfiguredError("channel", f"{channel!r} has no provider")

    def slack_webhook_url(self, recipient: str) -> str:
        """The webhook URL held by the variable the row names; only ``SLACK_WEBHOOK_*`` names, so
        a row can never make us read (and post) another secret such as ``SECRET_KEY``."""
        if not SLACK_RECIPIENT_PATTERN.match(recipient):
            raise NotConfiguredError(recipient, "is not a SLACK_WEBHOOK_* variable name")
        return self.require(recipient)

    def sender_settings(self, channel: str, recipient: str) -> dict[str, object]:
        """The plain settings ``connectors.messaging.registry`` builds a sender from."""
        timeout = {"timeout_s": self.timeout_s}
        if channel == "slack":
            return {"webhook_url": self.slack_webhook_url(recipient), **timeout}
        if channel == "sms":
            return {"account_sid": self.require("TWILIO_ACCOUNT_SID"), "auth_token": self.require("TWILIO_AUTH_TOKEN"),
                    "base_url": self.optional("TWILIO_BASE_URL"), **timeout}
        provider = self.provider_for(channel)
        if provider == "mailgun":
            return {"provider": "mailgun", "api_key": self.require("MAILGUN_API_KEY"),
                    "domain": self.require("MAILGUN_DOMAIN"), "base_url": self.optional("MAILGUN_BASE_URL"),
                    **timeout}
        return {"provider": "sendgrid", "api_key": self.require("SENDGRID_API_KEY"),
                "base_url": self.optional("SENDGRID_BASE_URL"), **timeout}

    def secrets_for(self, channel: str, recipient: str) -> list[str]:
        """Values that must never reach ``last_error``, logs or the audit log."""
        values = [self.env.get(n) or "" for n in ("MAILGUN_API_KEY", "SENDGRID_API_KEY", "TWILIO_AUTH_TOKEN")]
        if channel == "slack" and SLACK_RECIPIENT_PATTERN.match(recipient):
            url = self.env.get(recipient) or ""
            values += [url, urlsplit(url).path if len(urlsplit(url).path) > 1 else ""]
        return [v for v in values if v]


def _notifications() -> NotificationConfig | None:
    """The configured ``[notifications]``; None (senders from the environment alone, logged) when
    the configuration file cannot be read, so a broken file does not also stop every message."""
    from domain.core.business_config import ConfigError, current_config

    try:
        return current_config().notifications
    except ConfigError as exc:
        log.warning("configuration not readable, senders come from the environment only: %s", exc)
        return None


def redact(text: str, secrets: list[str]) -> str:
    """Error texts from HTTP libraries quote the URL they called; a Slack webhook URL is a secret."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


PHONE_NUMBER = re.compile(r"\+\d[\d ().-]{5,}\d|(?<![\w.-])\d{7,15}(?![\w.-])")


def mask_phone_numbers(text: str) -> str:
    """Provider errors quote the number (Twilio: "Invalid 'To' Phone Number: +15551234567"); logs
    and ``last_error`` keep only the last four digits, enough to tell numbers apart."""
    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return match.group(0) if len(digits) < 7 else f"***{digits[-4:]}"
    return PHONE_NUMBER.sub(mask, text)


def email_attachments(context: Mapping[str, object]) -> list[tuple[str, bytes, str]]:
    """Files an outbox row carries in ``context["attachments"]`` as ``[{"filename", "content_type",
    "content_b64"}]`` (base64, because the context is JSON), decoded for the sender.

    A malformed entry is a ``RenderError``: permanent for the row, like a missing template fact,
    because sending the email without the file the vendor needs would be worse than not sending.
    """
    entries = context.get("attachments") or []
    if not isinstance(entries, list):
        raise RenderError("context 'attachments' must be a list")
    files = []
    for index, entry in enumerate(entries):
        try:
            files.append((str(entry["filename"]), base64.b64decode(entry["content_b64"], validate=True),
                          str(entry.get("content_type") or "application/octet-stream")))
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise RenderError(f"attachment {index} is malformed: {exc}") from exc
    return files


def build_message(row: OutboxMessage, settings: ProviderSettings) -> Message:
    """Renders the row's template with its context into the connector's message for its channel.

    Raises :class:`NotConfiguredError` or ``domain.messaging.rendering.RenderError``: both are permanent for
    this row (retrying cannot add a missing variable or a missing fact).
    """
    context = dict(row.context or {})
    if row.channel == "email":
        try:
            sender = senders.email_from(row.template, settings.notifications, settings.env)
        except senders.NoSenderError as exc:
            raise NotConfiguredError("sender:", str(exc)) from exc
        rendered = render_email(row.template, context)
        recipients = [r.strip() for r in row.recipient.split(",") if r.strip()]
        return EmailMessage(to=recipients, from_=sender, subject=rendered.subject,
                            text=rendered.text, html=rendered.html, tags=[row.template],
                            attachments=email_attachments(context), idempotency_key=row.idempotency_key)
    if row.channel == "sms":
        try:
            sms = senders.sms_from(settings.notifications, settings.env)
        except senders.NoSenderError as exc:
            raise NotConfiguredError("sender:", str(exc)) from exc
        return SmsMessage(to=row.recipient, body=render_sms(row.template, context), from_=sms.from_,
                          messaging_service_sid=sms.messaging_service_sid,
                          status_callback_url=settings.public_base_url + TWILIO_STATUS_PATH,
                          idempotency_key=row.idempotency_key)
    if row.channel == "slack":
        settings.slack_webhook_url(row.recipient)
        payload = render_slack(row.template, context)
        return SlackMessage(text=str(payload["text"]), blocks=payload.get("blocks"))
    raise NotConfiguredError("channel", f"{row.channel!r} is not email, sms or slack")


def _locked(session: Session, outbox_id: int, *, skip_locked: bool = False) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update(skip_locked=skip_locked)
    ).one_or_none()


def claim_for_sending(session: Session, outbox_id: int, now: datetime) -> OutboxMessage | None:
    """Takes a due pending row for one send: state ``sending``, attempts + 1; None otherwise.

    ``SKIP LOCKED``: a duplicate task for a row another worker is sending gets None at once
    instead of waiting and then re-checking.
    """
    row = _locked(session, outbox_id, skip_locked=True)
    if row is None or row.state != "pending" or (row.not_before is not None and row.not_before > now):
        return None
    row.state = "sending"
    row.attempts += 1
    session.flush()
    return row


def seconds_until_due(session: Session, outbox_id: int, now: datetime) -> float | None:
    """For a pending row deferred by ``not_before``: seconds left; None for any other row."""
    row = session.get(OutboxMessage, outbox_id)
    if row is None or row.state != "pending" or row.not_before is None or row.not_before <= now:
        return None
    return (row.not_before - now).total_seconds()


def mark_sent(session: Session, outbox_id: int, provider: str, provider_message_id: str | None,
              now: datetime | None = None) -> bool:
    """The provider accepted the message. A callback may have beaten us here (it finds the row by
    idempotency key): then a final state stays, and only the provider id is filled in."""
    row = _locked(session, outbox_id)
    if row is None:
        return False
    row.provider = provider
    row.provider_message_id = row.provider_message_id or provider_message_id
    row.sent_at = row.sent_at or now or utcnow()
    if row.state in ("sending", "unknown", "pending"):
        row.state = "sent"
    session.flush()
    return row.state == "sent"


def mark_unknown(session: Session, outbox_id: int, error: str, provider: str | None = None) -> bool:
    """The request left but no answer came back: never resent automatically, only reconciled."""
    row = _locked(session, outbox_id)
    if row is None or row.state != "sending":
        return False
    row.state, row.last_error = "unknown", error[:4000]
    row.provider = provider or row.provider
    audit.record(session, ACTOR, "outbox.unknown", "outbox", outbox_id, error=error[:1000],
                 provider=row.provider, attempts=row.attempts)
    session.flush()
    return True


def mark_failed(session: Session, outbox_id: int, error: str, provider: str | None = None,
                code: object = None) -> bool:
    """Permanent failure (4xx, bad recipient, missing setting, template error); audited."""
    row = _locked(session, outbox_id)
    if row is None or row.state in FINAL_STATES:
        return False
    row.state, row.last_error = "failed", error[:4000]
    row.provider = provider or row.provider
    audit.record(session, ACTOR, "outbox.failed", "outbox", outbox_id, error=error[:1000],
                 provider=row.provider, code=code, channel=row.channel, template=row.template,
                 attempts=row.attempts)
    session.flush()
    return True


def unknown_due(session: Session, now: datetime, after: timedelta, limit: int = 100) -> list[int]:
    """``unknown`` rows left alone for ``after`` (time for the provider's callback to settle them
    first): the reconciler asks the provider about these, oldest first."""
    return list(session.scalars(
        select(OutboxMessage.id).where(state_is(OutboxMessage.state, "unknown"), OutboxMessage.updated_at <= now - after)
        .order_by(OutboxMessage.id).limit(limit)))


def settle_unknown(session: Session, outbox_id: int, seen_at: datetime, provider: str,
                   provider_message_id: str | None) -> bool:
    """The provider's records hold the message: ``unknown`` → ``sent``. ``seen_at`` is the
    row's ``updated_at`` when the lookup began: a row a callback settled meanwhile is left alone."""
    row = _locked(session, outbox_id)
    if row is None or row.state != "unknown" or row.updated_at != seen_at:
        return False
    row.state, row.provider = "sent", provider
    row.provider_message_id = row.provider_message_id or provider_message_id
    row.sent_at = row.sent_at or utcnow()
    audit.record(session, ACTOR, "outbox.reconciled", "outbox", outbox_id, outcome="sent", provider=provider,
                 provider_message_id=provider_message_id)
    session.flush()
    return True


def release_unknown(session: Session, outbox_id: int, seen_at: datetime, provider: str) -> bool:
    """The provider's records, read in full, do not hold the message: the request never reached
    it, so sending again is not a blind resend. ``unknown`` → ``pending``, due now."""
    row = _locked(session, outbox_id)
    if row is None or row.state != "unknown" or row.updated_at != seen_at:
        return False
    row.state, row.not_before = "pending", None
    row.last_error = f"reconciled: {provider} has no record of it; sending again"
    audit.record(session, ACTOR, "outbox.reconciled", "outbox", outbox_id, outcome="resend", provider=provider)
    session.flush()
    return True


def release_for_retry(session: Session, outbox_id: int, error: str, retry_at: datetime | None = None) -> bool:
    """Nothing reached the provider (or it said "later"): back to pending, due at ``retry_at``.

    ``not_before = retry_at`` keeps the redrive sweeper from jumping the backoff the task chose.
    """
    row = _locked(session, outbox_id)
    if row is None or row.state != "sending":
        return False
    row.state, row.last_error, row.not_before = "pending", error[:4000], retry_at
    session.flush()
    return True


def defer(session: Session, outbox_id: int, until: datetime, reason: str) -> bool:
    """A pending row that must not be attempted before ``until`` (its provider's circuit is open):
    no attempt is spent and nothing is sent; ``due_deferred`` hands it back when the time comes."""
    row = _locked(session, outbox_id)
    if row is None or row.state != "pending":
        return False
    row.not_before, row.last_error = until, reason[:4000]
    session.flush()
    return True


def apply_delivery_event(session: Session, provider: str, provider_message_id: str, event: str,
                         reason: str | None = None, *, idempotency_key: str | None = None
                         ) -> OutboxMessage | None:
    """Applies a provider status event; returns the row it concerned, or None if none matched.

    Rows are found by (provider, provider message id), else by the idempotency key the send
    carried (Twilio callback query, Mailgun ``v:`` variable, SendGrid ``custom_args``) — that is
    how an ``unknown`` row whose send answer was lost gets reconciled. Final states never move
    back (callbacks arrive out of order: ``sent`` after ``delivered`` is normal).
    """
    row = session.scalars(select(OutboxMessage).where(
        OutboxMessage.provider == provider, OutboxMessage.provider_message_id == provider_message_id,
    ).with_for_update()).first()
    if row is None and idempotency_key:
        row = session.scalars(select(OutboxMessage).where(
            OutboxMessage.idempotency_key == idempotency_key).with_for_update()).one_or_none()
    if row is None:
        return None
    if not row.provider_message_id:
        row.provider, row.provider_message_id = provider, provider_message_id
    name = event.strip().lower()
    before = row.state
    if row.state not in FINAL_STATES:
        if name in DELIVERED_EVENTS:
            row.state = "delivered"
        elif name in FAILED_EVENTS:
            row.state, row.last_error = "failed", f"{provider} {name}: {reason}" if reason else f"{provider} {name}"
        elif name in ACCEPTED_EVENTS and row.state in ("sending", "unknown"):
            row.state = "sent"
        row.sent_at = row.sent_at or utcnow()
    if row.state != before:
        audit.record(session, provider, f"outbox.{row.state}", "outbox", row.id, event=name, reason=reason,
                     provider_message_id=provider_message_id, previous=before)
    session.flush()
    return row


def due_deferred(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Pending rows whose ``not_before`` has passed (quiet hours over, a backoff elapsed)."""
    return list(session.scalars(
        select(OutboxMessage.id).where(
            state_is(OutboxMessage.state, "pending"), OutboxMessage.not_before.is_not(None),
            OutboxMessage.not_before <= now,
        ).order_by(OutboxMessage.not_before).limit(limit)
    ))


def expire_stale_sending(session: Session, older_than: timedelta, now: datetime) -> list[int]:
    """Rows stuck in ``sending`` (the worker died mid-send) become ``unknown``: the request may
    have gone out, so they wait for a callback or an operator instead of a blind resend."""
    ids = list(session.scalars(
        update(OutboxMessage).where(OutboxMessage.state == "sending", OutboxMessage.updated_at < now - older_than)
        .values(state="unknown", last_error="worker stopped during the send; outcome unknown")
        .returning(OutboxMessage.id)
    ))
    for outbox_id in ids:
        audit.record(session, ACTOR, "outbox.unknown", "outbox", outbox_id, error="stale sending")
    return ids
