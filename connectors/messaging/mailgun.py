"""Mailgun email through the official ``mailgun`` SDK, plus its event-webhook checks.

The SDK's own retry loop is switched off (``RetryPolicy(max_retries=0)``): retries belong to the
Celery task, which knows about the outbox row, and a silent SDK retry after a read timeout would
be exactly the blind resend the outbox must avoid.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import requests
from mailgun.client import Client
from mailgun.config import RetryPolicy
from mailgun.handlers.error_handler import ApiError

from connectors.errors import MalformedPayloadError, PermanentError, SignatureError
from connectors.messaging._errors import classify_http, requests_failure
from connectors.messaging.types import DeliveryEvent, EmailMessage, SendResult, SentLookup

PROVIDER = "mailgun"
US_BASE_URL = "https://api.mailgun.net"
EU_BASE_URL = "https://api.eu.mailgun.net"
IDEMPOTENCY_VARIABLE = "idempotency_key"
EVENTS_PAGE_LIMIT = 300


def strip_angle_brackets(message_id: str) -> str:
    """The send answer says ``<id@domain>``, events say ``id@domain``: store the bare form."""
    return message_id.strip().removeprefix("<").removesuffix(">")


class MailgunSender:
    """Sends :class:`EmailMessage` through one Mailgun sending domain."""

    provider = PROVIDER

    def __init__(self, api_key: str, domain: str, *, base_url: str = US_BASE_URL,
                 default_from: str | None = None, timeout_s: float = 10.0,
                 connect_timeout_s: float = 5.0) -> None:
        self.domain = domain
        self.default_from = default_from
        self._client = Client(auth=("api", api_key), api_url=base_url,
                              retry_policy=RetryPolicy(max_retries=0),
                              timeout=(connect_timeout_s, timeout_s))

    def form_fields(self, message: EmailMessage) -> dict[str, Any]:
        """The multipart fields Mailgun expects; repeated fields (``to``, ``o:tag``) as lists."""
        sender = message.from_ or self.default_from
        if not sender:
            raise ValueError("EmailMessage.from_ is empty and no default_from is configured")
        data: dict[str, Any] = {"from": sender, "to": list(message.to), "subject": message.subject}
        if message.text:
            data["text"] = message.text
        if message.html:
            data["html"] = message.html
        if message.reply_to:
            data["h:Reply-To"] = message.reply_to
        if message.tags:
            data["o:tag"] = list(message.tags)
        for name, value in message.headers.items():
            data[f"h:{name}"] = value
        if message.idempotency_key:
            data[f"v:{IDEMPOTENCY_VARIABLE}"] = message.idempotency_key
        return data

    def send(self, message: EmailMessage) -> SendResult:
        """Posts ``/v3/{domain}/messages``; raises the shared connector errors on failure."""
        files = [("attachment", (name, content, ctype)) for name, content, ctype in message.attachments]
        try:
            response = self._client.messages.create(data=self.form_fields(message), files=files or None,
                                                    domain=self.domain)
        except ApiError as exc:
            raise _transport_error(exc) from exc
        return _result(response)

    def find_sent(self, message: EmailMessage, since: datetime) -> SentLookup:
        """Did Mailgun accept this message? Its Events API (``GET /v3/{domain}/events``,
        ``event=accepted``, the first recipient, from ``since``) lists what it accepted; ours
        carries its idempotency key as the ``v:`` user variable. A full page (300, the API's
        maximum) without it is inconclusive: the answer may be on a later page."""
        key = message.idempotency_key
        if not key or not message.to:
            return SentLookup(found=False, conclusive=False)
        filters = {"event": "accepted", "recipient": message.to[0], "begin": str(int(since.timestamp()) - 60),
                   "ascending": "yes", "limit": str(EVENTS_PAGE_LIMIT)}
        try:
            response = self._client.events.get(domain=self.domain, filters=filters)
        except ApiError as exc:
            raise _transport_error(exc) from exc
        if response.status_code >= 400:
            raise classify_http(PROVIDER, response.status_code, (response.text or response.reason or "").strip()[:500],
                                retry_after=response.headers.get("Retry-After"))
        items = (response.json() or {}).get("items") or []
        for item in items:
            if str((item.get("user-variables") or {}).get(IDEMPOTENCY_VARIABLE)) == key:
                message_id = ((item.get("message") or {}).get("headers") or {}).get("message-id")
                return SentLookup(found=True, provider_message_id=strip_angle_brackets(str(message_id or "")) or None)
        return SentLookup(found=False, conclusive=len(items) < EVENTS_PAGE_LIMIT)

    def check_credentials(self) -> str:
        """A cheap authenticated read (one event of the sending domain): raises ``AuthError`` when
        the key or domain is refused, so ``backorders doctor`` can say so before a notice fails."""
        try:
            response = self._client.events.get(domain=self.domain, filters={"limit": "1"})
        except ApiError as exc:
            raise _transport_error(exc) from exc
        if response.status_code >= 400:
            raise classify_http(PROVIDER, response.status_code, (response.text or response.reason or "").strip()[:500],
                                retry_after=response.headers.get("Retry-After"))
        return f"domain {self.domain} answered {response.status_code}"

    def close(self) -> None:
        self._client.close()


def _transport_error(exc: ApiError) -> Exception:
    """The SDK wraps requests' exceptions; the cause tells whether the request left the building."""
    cause = exc.__cause__
    if isinstance(cause, requests.RequestException):
        return requests_failure(PROVIDER, cause)
    return PermanentError(f"mailgun request could not be made: {exc}", platform=PROVIDER)


def _result(response: requests.Response) -> SendResult:
    body: dict[str, Any]
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200 and body.get("id"):
        return SendResult(PROVIDER, strip_angle_brackets(str(body["id"])), "queued", body)
    message = str(body.get("message") or response.text or response.reason).strip()
    raise classify_http(PROVIDER, response.status_code, message, body=response.text,
                        retry_after=response.headers.get("Retry-After"))


class RecentTokens:
    """An in-process replay guard for one web process: True when the token was already seen.

    Several web processes need a shared store (Redis ``SET NX EX``, or the inbox table); any
    callable with the same shape plugs into :func:`verify_webhook`.
    """

    def __init__(self, max_size: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._max = max_size

    def __call__(self, token: str) -> bool:
        if token in self._seen:
            return True
        self._seen[token] = None
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return False


def sign(signing_key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature: hex HMAC-SHA256 of ``timestamp + token`` under the webhook signing key."""
    return hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def verify_webhook(signing_key: str, payload: Mapping[str, Any], *, tolerance_s: float = 300.0,
                   seen_token: Callable[[str], bool] | None = None, now: float | None = None) -> None:
    """Raises :class:`SignatureError` unless ``payload["signature"]`` is Mailgun's, fresh and unused.

    The signature lives in the JSON body, so a replayed body would verify forever: the timestamp
    tolerance bounds the window and ``seen_token`` (True = already used) closes it.
    """
    block = payload.get("signature")
    if not isinstance(block, Mapping):
        raise SignatureError("mailgun webhook has no signature block")
    timestamp, token, signature = (str(block.get(k) or "") for k in ("timestamp", "token", "signature"))
    if not (timestamp and token and signature):
        raise SignatureError("mailgun webhook signature is incomplete")
    expected = sign(signing_key, timestamp, token)
    if not hmac.compare_digest(expected, signature.lower()):
        raise SignatureError("mailgun webhook signature does not match")
    try:
        age = (time.time() if now is None else now) - float(timestamp)
    except ValueError as exc:
        raise SignatureError("mailgun webhook timestamp is not a number") from exc
    if abs(age) > tolerance_s:
        raise SignatureError(f"mailgun webhook timestamp is {age:.0f}s away from now")
    if seen_token is not None and seen_token(token):
        raise SignatureError("mailgun webhook token was already used (replay)")


def parse_event(payload: Mapping[str, Any]) -> DeliveryEvent:
    """Extracts (message id, event, reason) from a verified Mailgun webhook body."""
    data = payload.get("event-data")
    if not isinstance(data, Mapping):
        raise MalformedPayloadError("mailgun webhook has no event-data")
    event = data.get("event")
    headers = (data.get("message") or {}).get("headers") or {}
    message_id = headers.get("message-id") if isinstance(headers, Mapping) else None
    if not event or not message_id:
        raise MalformedPayloadError("mailgun event-data lacks event or message.headers.message-id")
    status = data.get("delivery-status") or {}
    reason = data.get("reason") or status.get("description") or status.get("message") or None
    if event == "failed" and data.get("severity"):
        reason = f"{data['severity']}: {reason}" if reason else str(data["severity"])
    return DeliveryEvent(strip_angle_brackets(str(message_id)), str(event), reason)
