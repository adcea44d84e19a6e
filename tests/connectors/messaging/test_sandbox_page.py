"""The ``/_sandbox/messages`` page and the shared admin endpoints."""
from __future__ import annotations

import requests

from connectors.messaging.mailgun import MailgunSender
from connectors.messaging.slack import SlackWebhookSender
from connectors.messaging.twilio_sms import TwilioSmsSender
from connectors.messaging.types import EmailMessage, SlackMessage, SmsMessage
from sandbox.app import MODULES


def send_one_of_each(base: str) -> None:
    MailgunSender("sandbox-mailgun-key", "mg.example.com", base_url=f"{base}/mailgun").send(EmailMessage(
        to=["ada@example.com"], from_="shop@example.com", subject="<script>alert('s')</script> restock",
        text="plain <b>text</b>", html="<h1>Hi</h1><script>alert('h')</script>"))
    TwilioSmsSender("AC00000000000000000000000000000000", "sandbox-twilio-token", base_url=f"{base}/twilio").send(
        SmsMessage(to="+15551234567", body="Reply <YES> & wait", from_="+15005550006"))
    SlackWebhookSender(f"{base}/slack/services/T000/B000/SANDBOX").send(
        SlackMessage(text="<!channel> SKU-1 out", blocks=[{"type": "section", "text": {"type": "mrkdwn",
                                                                                       "text": "<b>x</b>"}}]))


def test_page_lists_every_kind_escaped(sandbox):
    send_one_of_each(sandbox.base_url)
    page = requests.get(f"{sandbox.base_url}/_sandbox/messages", timeout=5)

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;s&#x27;)&lt;/script&gt; restock" in html
    assert 'sandbox="" referrerpolicy="no-referrer" srcdoc="&lt;h1&gt;Hi&lt;/h1&gt;' in html
    assert "plain &lt;b&gt;text&lt;/b&gt;" in html
    assert "Reply &lt;YES&gt; &amp; wait" in html and "<b>segments</b> 1" in html
    assert "&lt;!channel&gt; SKU-1 out" in html and "&quot;&lt;b&gt;x&lt;/b&gt;&quot;" in html
    assert "Sandbox messages (3)" in html


def test_filters_and_reset(sandbox, admin):
    send_one_of_each(sandbox.base_url)
    assert [m["kind"] for m in admin.messages(provider="twilio")] == ["sms"]
    assert [m["provider"] for m in admin.messages(to="ada@example.com")] == ["mailgun"]
    assert len(admin.requests("mailgun")) == 1

    requests.post(f"{sandbox.base_url}/_sandbox/messaging/reset", timeout=5).raise_for_status()
    assert admin.messages() == []
    assert "No messages yet." in requests.get(f"{sandbox.base_url}/_sandbox/messages", timeout=5).text


def test_faults_are_listed_consumed_and_cleared(sandbox, admin):
    admin.fault(provider="mailgun", status=503, count=2)
    listed = requests.get(f"{sandbox.base_url}/_sandbox/messaging/faults", timeout=5).json()
    assert listed["faults"][0]["remaining"] == 2
    requests.delete(f"{sandbox.base_url}/_sandbox/messaging/faults", timeout=5).raise_for_status()
    assert requests.get(f"{sandbox.base_url}/_sandbox/messaging/faults", timeout=5).json()["faults"] == []


def test_config_rejects_unknown_keys(sandbox, admin):
    response = requests.post(f"{sandbox.base_url}/_sandbox/messaging/config", json={"nope": 1}, timeout=5)
    assert response.status_code == 400
    assert admin.config(slack_webhooks=["T1/B1/S1"])["slack_webhooks"] == ["T1/B1/S1"]


def test_messaging_modules_are_in_the_sandbox_app():
    assert {"sandbox.messaging", "sandbox.twilio", "sandbox.mailgun", "sandbox.sendgrid", "sandbox.slack"} <= set(MODULES)
