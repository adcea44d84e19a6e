"""Slack incoming-webhook connector against the sandbox over HTTP."""
from __future__ import annotations

import pytest
import requests

from connectors.errors import OutcomeUnknownError, PermanentError, TransientError
from connectors.messaging.slack import SlackWebhookSender
from connectors.messaging.types import SlackMessage
from sandbox.server import SandboxServer

HOOK = "T000/B000/SANDBOX"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*SKU-1* is out of stock"}}]


def sender(sandbox: SandboxServer, hook: str = HOOK, **kwargs: object) -> SlackWebhookSender:
    return SlackWebhookSender(f"{sandbox.base_url}/slack/services/{hook}", **kwargs)  # type: ignore[arg-type]


def test_post_is_recorded(sandbox, admin):
    result = sender(sandbox).send(SlackMessage(text="SKU-1 is out of stock", blocks=BLOCKS))
    assert (result.provider, result.status) == ("slack", "ok")
    [recorded] = admin.messages(provider="slack")
    assert recorded["text"] == "SKU-1 is out of stock" and recorded["blocks"] == BLOCKS


def test_unknown_webhook_is_permanent(sandbox):
    with pytest.raises(PermanentError, match="no_service") as caught:
        sender(sandbox, "T000/B000/WRONG").send(SlackMessage(text="x"))
    assert caught.value.code == "no_service" and caught.value.status_code == 404


def test_missing_text_is_no_text(sandbox):
    with pytest.raises(PermanentError, match="no_text"):
        sender(sandbox).send(SlackMessage(text=""))
    raw = requests.post(f"{sandbox.base_url}/slack/services/{HOOK}", data="{not json",
                        headers={"Content-Type": "application/json"}, timeout=5)
    assert (raw.status_code, raw.text) == (400, "invalid_payload")


def test_archived_channel_is_permanent_with_slacks_code(sandbox, admin):
    admin.fault(provider="slack", status=410, body="channel_is_archived")
    with pytest.raises(PermanentError, match="channel_is_archived"):
        sender(sandbox).send(SlackMessage(text="x"))


def test_rate_limit_is_transient_with_retry_after(sandbox, admin):
    admin.fault(provider="slack", status=429, retry_after="30")
    with pytest.raises(TransientError) as caught:
        sender(sandbox).send(SlackMessage(text="x"))
    assert caught.value.retry_after_s == 30.0


def test_per_second_rate_limit_answers_429(sandbox, admin):
    admin.rate_limit("slack", 0)
    with pytest.raises(TransientError) as caught:
        sender(sandbox).send(SlackMessage(text="x"))
    assert caught.value.status_code == 429 and caught.value.retry_after_s == 1.0
    admin.rate_limit("slack", None)
    assert sender(sandbox).send(SlackMessage(text="x")).status == "ok"


def test_server_error_is_transient(sandbox, admin):
    admin.fault(provider="slack", status=500)
    with pytest.raises(TransientError, match="rollup_error"):
        sender(sandbox).send(SlackMessage(text="x"))


def test_timeout_after_acceptance_is_outcome_unknown(sandbox, admin):
    admin.fault(provider="slack", mode="hang", hang_s=1.0)
    with pytest.raises(OutcomeUnknownError):
        sender(sandbox, timeout_s=0.3).send(SlackMessage(text="x"))
    assert len(admin.messages(provider="slack")) == 1
