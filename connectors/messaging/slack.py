"""Slack incoming webhooks: POST JSON to the secret URL; ``200 ok`` is the only success.

Slack answers errors as plain-text codes (``invalid_payload``, ``channel_not_found``, …); those
codes are the message of the raised error, so an alert can say exactly what to fix.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime

import requests

from connectors.messaging._errors import classify_http, requests_failure
from connectors.messaging.types import SendResult, SentLookup, SlackMessage

PROVIDER = "slack"


WEBHOOK_PATH = re.compile(r"/services/[^\s\"'?]+")


class HideWebhookPath(logging.Filter):
    """urllib3 logs every request line at DEBUG, and a Slack webhook's path is its secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "/services/" in a for a in record.args):
            record.args = tuple(WEBHOOK_PATH.sub("/services/***", a) if isinstance(a, str) else a
                                for a in record.args)
        if isinstance(record.msg, str) and "/services/" in record.msg:
            record.msg = WEBHOOK_PATH.sub("/services/***", record.msg)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(HideWebhookPath())


class SlackWebhookSender:
    """Posts :class:`SlackMessage` to one incoming-webhook URL (the URL itself is the credential)."""

    provider = PROVIDER

    def __init__(self, webhook_url: str, *, timeout_s: float = 10.0, connect_timeout_s: float = 5.0,
                 session: requests.Session | None = None) -> None:
        self.webhook_url = webhook_url
        self.timeout = (connect_timeout_s, timeout_s)
        self._session = session or requests.Session()

    def send(self, message: SlackMessage) -> SendResult:
        payload: dict[str, object] = {"text": message.text}
        if message.blocks:
            payload["blocks"] = message.blocks
        try:
            response = self._session.post(self.webhook_url, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise requests_failure(PROVIDER, exc) from exc
        body = response.text.strip()
        if response.status_code == 200 and body == "ok":
            return SendResult(PROVIDER, None, "ok", {"status_code": 200, "body": body})
        raise classify_http(PROVIDER, response.status_code, body or response.reason, body=response.text,
                            retry_after=response.headers.get("Retry-After"), code=body or None,
                            auth_statuses=frozenset())

    def find_sent(self, message: SlackMessage, since: datetime) -> SentLookup | None:
        """None: an incoming webhook answers ``ok`` and keeps nothing we can read back
        (https://api.slack.com/messaging/webhooks), so a post whose answer was lost is left to a person."""
        return None

    def close(self) -> None:
        self._session.close()
