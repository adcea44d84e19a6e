"""Outbound messaging providers (Mailgun, SendGrid, Twilio SMS, Slack) and their webhook checks.

Each provider module turns one plain message dataclass into one provider call and classifies
every failure into the shared connector errors, so ``tasks.notify`` decides retry, reconcile or
alert without knowing which provider answered.
"""
from connectors.messaging.types import EmailMessage, SendResult, SlackMessage, SmsMessage

__all__ = ["EmailMessage", "SendResult", "SlackMessage", "SmsMessage"]
