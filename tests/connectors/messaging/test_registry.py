"""Building senders by provider name from settings."""
from __future__ import annotations

import pytest

from connectors.messaging.mailgun import MailgunSender
from connectors.messaging.registry import email_sender, slack_sender, sms_sender
from connectors.messaging.sendgrid import SendGridSender
from connectors.messaging.types import EmailMessage


def test_email_sender_by_name_uses_the_default_from(sandbox, admin):
    mg = email_sender({"provider": "mailgun", "api_key": "sandbox-mailgun-key", "domain": "mg.example.com",
                       "base_url": f"{sandbox.base_url}/mailgun", "from": "Shop <shop@example.com>"})
    sg = email_sender({"provider": "sendgrid", "api_key": "SG.sandbox-sendgrid-key",
                       "base_url": f"{sandbox.base_url}/sendgrid", "from": "shop@example.com"})
    assert isinstance(mg, MailgunSender) and isinstance(sg, SendGridSender)
    for sender in (mg, sg):
        sender.send(EmailMessage(to=["ada@example.com"], from_="", subject="s", text="t"))
    assert [m["from"] for m in admin.messages()] == ["Shop <shop@example.com>", "shop@example.com"]


def test_sms_and_slack_senders(sandbox):
    sms = sms_sender({"account_sid": "AC00000000000000000000000000000000", "auth_token": "sandbox-twilio-token",
                      "messaging_service_sid": "MG1", "base_url": f"{sandbox.base_url}/twilio"})
    assert sms.messaging_service_sid == "MG1"
    assert slack_sender({"webhook_url": "https://hooks.slack.com/services/T/B/X"}).webhook_url.endswith("/T/B/X")


def test_bad_settings_name_the_problem():
    with pytest.raises(ValueError, match="mailgun, sendgrid"):
        email_sender({"provider": "postmark"})
    with pytest.raises(ValueError, match="'domain'"):
        email_sender({"provider": "mailgun", "api_key": "k"})
    with pytest.raises(ValueError, match="'auth_token'"):
        sms_sender({"account_sid": "AC1"})
