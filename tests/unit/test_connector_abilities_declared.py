"""What the pipeline asks of a connector or a messaging sender is declared, never probed for.

``webhook_headers`` (the headers a stored delivery keeps to be parsed again) is part of the
``Connector`` protocol with an empty default on the base, so ``workers.webhooks`` reads it
directly; ``find_sent`` (a lost send looked up in the provider's records, None where it keeps
none) and ``close`` are part of the ``Sender`` protocol, which every sender implements; and no
module of the pipeline looks either up with ``getattr``/``hasattr``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from datetime import UTC, datetime

from connectors.base import Connector, RestConnector
from connectors.messaging.mailgun import MailgunSender
from connectors.messaging.registry import Sender
from connectors.messaging.sendgrid import SendGridSender
from connectors.messaging.slack import SlackWebhookSender
from connectors.messaging.twilio_sms import TwilioSmsSender
from connectors.messaging.types import EmailMessage, SlackMessage
from connectors.registry import CONNECTORS

ROOT = Path(__file__).resolve().parents[2]
PROBE = re.compile(r"\b(getattr|hasattr)\(\s*(self\.)?connector\b")
SENDER_METHODS = ("send", "find_sent", "close")
#: A sender's methods looked up by name: ``find_sent`` on anything, ``send``/``close`` on a sender
#: (Celery's signal handlers take a ``sender`` too, and may read its other attributes).
SENDER_PROBE = re.compile(r"\b(getattr|hasattr)\(([^,()]+,\s*[\"']find_sent[\"']"
                          r"|\s*(self\.)?\w*sender\w*\s*,\s*[\"'](send|close)[\"'])")


def _probes(pattern: re.Pattern[str]) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{n}" for folder in ("workers", "tasks", "flows", "domain")
            for path in sorted((ROOT / folder).rglob("*.py"))
            for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]


def test_the_protocol_and_the_base_declare_webhook_headers_empty_by_default() -> None:
    assert "webhook_headers" in Connector.__annotations__
    assert RestConnector.webhook_headers == ()


@pytest.mark.parametrize("platform", sorted(set(CONNECTORS) - {"rest"}))
def test_every_built_in_platform_keeps_no_extra_headers(platform: str) -> None:
    assert CONNECTORS[platform].webhook_headers == ()


def test_no_pipeline_module_probes_a_connector_with_getattr_or_hasattr() -> None:
    assert _probes(PROBE) == []


def test_the_probe_pattern_catches_what_it_forbids() -> None:
    assert PROBE.search('getattr(connector, "webhook_headers", ())')
    assert PROBE.search('hasattr(self.connector, "find_sent")')
    assert not PROBE.search("connector.webhook_headers")
    assert SENDER_PROBE.search('lookup = getattr(sender, "find_sent", None)')
    assert SENDER_PROBE.search('close = getattr(sender, "close", None)')
    assert SENDER_PROBE.search("hasattr(self.old_sender, 'send')")
    assert not SENDER_PROBE.search('close = getattr(pages, "close", None)')  # a generator, not a sender
    assert not SENDER_PROBE.search('app = getattr(sender, "app", None)')  # a Celery signal's sender
    assert not SENDER_PROBE.search("found = sender.find_sent(message, since)")


@pytest.mark.parametrize("sender", [MailgunSender, SendGridSender, TwilioSmsSender, SlackWebhookSender])
def test_every_sender_implements_the_whole_protocol(sender: type) -> None:
    assert set(SENDER_METHODS) <= set(dir(Sender))
    assert all(callable(vars(sender).get(name)) for name in SENDER_METHODS), sender.__name__


def test_senders_whose_provider_keeps_no_readable_record_say_so_with_none() -> None:
    since = datetime.now(UTC)
    email = EmailMessage(to=["ops@example.test"], from_="a@example.test", subject="s", text="t")
    assert SendGridSender("SG.key").find_sent(email, since) is None
    assert SlackWebhookSender("https://hooks.slack.com/services/T/B/X").find_sent(SlackMessage("t"), since) is None


def test_no_pipeline_module_probes_a_sender_with_getattr_or_hasattr() -> None:
    assert _probes(SENDER_PROBE) == []
