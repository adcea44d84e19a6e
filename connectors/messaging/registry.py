"""Builds provider senders from plain settings, so tasks pick a provider by name from config.

Settings are resolved values (secrets already read from the environment), e.g.::

    {"provider": "mailgun", "api_key": "...", "domain": "mg.example.com",
     "base_url": "https://api.eu.mailgun.net", "from": "Shop <shop@example.com>"}
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from connectors.messaging.mailgun import US_BASE_URL, MailgunSender
from connectors.messaging.sendgrid import GLOBAL_BASE_URL, SendGridSender
from connectors.messaging.slack import SlackWebhookSender
from connectors.messaging.twilio_sms import TWILIO_ORIGIN, TwilioSmsSender
from connectors.messaging.types import EmailMessage, SendResult, SentLookup

EMAIL_PROVIDERS = ("mailgun", "sendgrid")


class Sender(Protocol):
    """What the outbox asks of every provider's sender, declared here and never probed for.

    ``find_sent`` is the provider's own record of a message whose send answer was lost, or None
    where the provider keeps none we can read (a Slack incoming webhook; SendGrid without the
    Email Activity add-on): then a person decides (``flows.reconcile``). ``close`` lets go of the
    sender's connections when the process stops keeping it (``flows.providers``)."""

    provider: str

    def send(self, message: Any) -> SendResult: ...

    def find_sent(self, message: Any, since: datetime) -> SentLookup | None: ...

    def close(self) -> None: ...


class EmailSender(Sender, Protocol):
    def send(self, message: EmailMessage) -> SendResult: ...

    def check_credentials(self) -> str:
        """One cheap authenticated read; raises ``AuthError`` when the key is refused."""
        ...


def _need(settings: Mapping[str, Any], key: str, what: str) -> Any:
    value = settings.get(key)
    if not value:
        raise ValueError(f"{what} settings need '{key}'")
    return value


def _timeout(settings: Mapping[str, Any]) -> float:
    return float(settings.get("timeout_s") or 10.0)


def email_sender(settings: Mapping[str, Any]) -> EmailSender:
    """A Mailgun or SendGrid sender, chosen by ``settings["provider"]``."""
    name = settings.get("provider")
    if name == "mailgun":
        return MailgunSender(_need(settings, "api_key", "mailgun"), _need(settings, "domain", "mailgun"),
                             base_url=settings.get("base_url") or US_BASE_URL,
                             default_from=settings.get("from"), timeout_s=_timeout(settings))
    if name == "sendgrid":
        return SendGridSender(_need(settings, "api_key", "sendgrid"),
                              base_url=settings.get("base_url") or GLOBAL_BASE_URL,
                              default_from=settings.get("from"), timeout_s=_timeout(settings))
    raise ValueError(f"email provider must be one of {', '.join(EMAIL_PROVIDERS)}, not {name!r}")


def sms_sender(settings: Mapping[str, Any]) -> TwilioSmsSender:
    """A Twilio sender from ``account_sid``, ``auth_token`` and ``from`` or ``messaging_service_sid``."""
    return TwilioSmsSender(_need(settings, "account_sid", "twilio"), _need(settings, "auth_token", "twilio"),
                           base_url=settings.get("base_url") or TWILIO_ORIGIN,
                           default_from=settings.get("from"),
                           messaging_service_sid=settings.get("messaging_service_sid"),
                           timeout_s=_timeout(settings))


def slack_sender(settings: Mapping[str, Any]) -> SlackWebhookSender:
    """A Slack incoming-webhook sender from ``webhook_url``."""
    return SlackWebhookSender(_need(settings, "webhook_url", "slack"), timeout_s=_timeout(settings))
