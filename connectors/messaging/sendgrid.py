"""SendGrid email through the official ``sendgrid`` SDK, plus the Signed Event Webhook check.

The SDK sits on ``urllib``: an ``HTTPError`` carries the status and body, a ``URLError`` means the
request never got through (``urllib`` wraps only connect/send failures), and a bare timeout or
reset while waiting for the answer means the outcome is unknown.
"""
from __future__ import annotations

import base64
import binascii
import json
import time
import urllib.error
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from connectors.errors import MalformedPayloadError, SignatureError
from connectors.messaging._errors import classify_http, not_sent, outcome_unknown
from connectors.messaging.types import DeliveryEvent, EmailMessage, SendResult, SentLookup

PROVIDER = "sendgrid"
GLOBAL_BASE_URL = "https://api.sendgrid.com"
EU_BASE_URL = "https://api.eu.sendgrid.com"
IDEMPOTENCY_ARG = "idempotency_key"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def _address(value: str) -> dict[str, str]:
    name, email = parseaddr(value)
    return {"email": email or value, **({"name": name} if name else {})}


class SendGridSender:
    """Sends :class:`EmailMessage` through ``POST /v3/mail/send``."""

    provider = PROVIDER

    def __init__(self, api_key: str, *, base_url: str = GLOBAL_BASE_URL, default_from: str | None = None,
                 timeout_s: float = 10.0) -> None:
        self.default_from = default_from
        self.timeout_s = timeout_s
        self._sdk = SendGridAPIClient(api_key=api_key, host=base_url.rstrip("/"))

    def request_body(self, message: EmailMessage) -> dict[str, Any]:
        """The v3 mail/send JSON; text/plain must precede text/html in ``content``."""
        sender = message.from_ or self.default_from
        if not sender:
            raise ValueError("EmailMessage.from_ is empty and no default_from is configured")
        content = []
        if message.text:
            content.append({"type": "text/plain", "value": message.text})
        if message.html:
            content.append({"type": "text/html", "value": message.html})
        body: dict[str, Any] = {
            "personalizations": [{"to": [_address(to) for to in message.to]}],
            "from": _address(sender),
            "subject": message.subject,
            "content": content,
        }
        if message.reply_to:
            body["reply_to"] = _address(message.reply_to)
        if message.tags:
            body["categories"] = list(message.tags)
        if message.headers:
            body["headers"] = dict(message.headers)
        if message.idempotency_key:
            body["custom_args"] = {IDEMPOTENCY_ARG: message.idempotency_key}
        if message.attachments:
            body["attachments"] = [
                {"content": base64.b64encode(data).decode(), "filename": name, "type": ctype,
                 "disposition": "attachment"}
                for name, data, ctype in message.attachments
            ]
        return body

    def send(self, message: EmailMessage) -> SendResult:
        """Sends one message; 202 + ``X-Message-Id`` is success, everything else raises."""
        try:
            response = self._sdk.client.mail.send.post(request_body=self.request_body(message),
                                                       timeout=self.timeout_s)
        except HTTPError as exc:
            raise _http_error(exc) from exc
        except urllib.error.URLError as exc:
            raise not_sent(PROVIDER, exc) from exc
        except OSError as exc:  # timeout or reset while waiting for the answer
            raise outcome_unknown(PROVIDER, exc) from exc
        headers = response.headers
        message_id = headers.get("X-Message-Id") if headers is not None else None
        if response.status_code == 202:
            return SendResult(PROVIDER, message_id, "accepted", {"status_code": 202})
        raise classify_http(PROVIDER, response.status_code, "unexpected success status",
                            body=_text(response.body))

    def find_sent(self, message: EmailMessage, since: datetime) -> SentLookup | None:
        """None: what SendGrid accepted is only readable with the paid Email Activity add-on
        (https://www.twilio.com/docs/sendgrid/api-reference/email-activity), so a message whose
        answer was lost is left to a person rather than guessed at."""
        return None

    def close(self) -> None:
        """Nothing to let go of: the SDK opens a ``urllib`` connection per request."""

    def check_credentials(self) -> str:
        """A cheap authenticated read (``GET /v3/scopes``, the key's own permissions): raises
        ``AuthError`` when the key is refused, and says whether it may send mail."""
        try:
            response = self._sdk.client.scopes.get(timeout=self.timeout_s)
        except HTTPError as exc:
            raise _http_error(exc) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise not_sent(PROVIDER, exc) from exc
        scopes = (json.loads(_text(response.body) or "{}") or {}).get("scopes") or []
        if "mail.send" not in scopes:
            raise classify_http(PROVIDER, 403, "the API key lacks the mail.send permission")
        return f"key answered {response.status_code} with mail.send"


def _text(body: bytes | str | None) -> str:
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return body or ""


def _http_error(exc: HTTPError) -> Exception:
    text = _text(exc.body)
    try:
        errors = json.loads(text).get("errors") or []
        message = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict)) or text
    except (ValueError, AttributeError):
        message = text
    headers = exc.headers
    retry_after = headers.get("Retry-After") if headers is not None else None
    if retry_after is None and headers is not None and headers.get("X-RateLimit-Reset"):
        retry_after = _reset_to_delay(headers.get("X-RateLimit-Reset"))
    return classify_http(PROVIDER, int(exc.status_code), message.strip(), body=text, retry_after=retry_after)


def _reset_to_delay(reset: str | None) -> str | None:
    """``X-RateLimit-Reset`` is a unix time; turn it into the seconds to wait."""
    try:
        return str(max(0.0, float(reset or "") - time.time()))
    except ValueError:
        return None


def verify_event_webhook(public_key_b64: str, signature_b64: str, timestamp: str, raw_body: bytes) -> None:
    """Raises :class:`SignatureError` unless the ECDSA P-256/SHA-256 signature covers ``timestamp + body``.

    ``raw_body`` must be the bytes as received: re-serialised JSON would not verify.
    """
    if not signature_b64 or not timestamp:
        raise SignatureError("sendgrid event webhook lacks signature or timestamp header")
    try:
        key = load_der_public_key(base64.b64decode(public_key_b64))
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise SignatureError(f"sendgrid key or signature is not valid base64/DER: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureError("sendgrid verification key is not an elliptic-curve key")
    try:
        key.verify(signature, timestamp.encode() + raw_body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise SignatureError("sendgrid event webhook signature does not match") from exc


def parse_events(raw_body: bytes | str) -> list[DeliveryEvent]:
    """Maps the webhook's JSON array to events keyed by the ``X-Message-Id`` that ``send`` returned.

    ``sg_message_id`` is ``<X-Message-Id>.<filter suffix>``; only the prefix matches the send answer.
    """
    try:
        events = json.loads(raw_body)
    except ValueError as exc:
        raise MalformedPayloadError(f"sendgrid events are not JSON: {exc}") from exc
    if not isinstance(events, list):
        raise MalformedPayloadError("sendgrid events body is not a JSON array")
    parsed = []
    for item in events:
        if not isinstance(item, dict) or not item.get("event") or not item.get("sg_message_id"):
            raise MalformedPayloadError("sendgrid event lacks event or sg_message_id")
        reason = item.get("reason") or item.get("response") or None
        parsed.append(DeliveryEvent(str(item["sg_message_id"]).split(".")[0], str(item["event"]),
                                    str(reason) if reason else None))
    return parsed
