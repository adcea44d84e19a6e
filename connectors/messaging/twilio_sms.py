"""Twilio SMS through the official ``twilio`` SDK, plus the request-signature and payload helpers.

The SDK builds absolute ``https://api.twilio.com/...`` URLs itself; :class:`BaseUrlHttpClient`
rewrites that origin to a configured base URL (the sandbox, a proxy) and keeps the last response
headers, because ``TwilioRestException`` drops ``Retry-After``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from connectors.errors import AuthError, MalformedPayloadError, SignatureError
from connectors.messaging._errors import classify_http, requests_failure, with_code
from connectors.messaging.types import DeliveryEvent, InboundSms, SendResult, SentLookup, SmsMessage

PROVIDER = "twilio"
TWILIO_ORIGIN = "https://api.twilio.com"
IDEMPOTENCY_QUERY = "idempotency_key"
AUTH_CODES = frozenset({20003, 20005, 20008})
RATE_LIMIT_CODES = frozenset({20429, 14107})
LOOKUP_LIMIT = 200


class BaseUrlHttpClient(TwilioHttpClient):
    """A ``TwilioHttpClient`` that sends ``api.twilio.com`` requests to ``base_url`` instead."""

    def __init__(self, base_url: str = TWILIO_ORIGIN, *, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self._local = threading.local()

    @property
    def last_headers(self) -> Mapping[str, str]:
        return getattr(self._local, "headers", None) or {}

    def request(self, method: str, url: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        if url.startswith(TWILIO_ORIGIN):
            url = self.base_url + url[len(TWILIO_ORIGIN):]
        self._local.headers = None
        response = super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                                   timeout=timeout, allow_redirects=allow_redirects)
        self._local.headers = response.headers
        return response


def with_query(url: str, **params: str) -> str:
    """Adds query parameters to a URL, keeping the ones it already has."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class TwilioSmsSender:
    """Sends :class:`SmsMessage` through ``POST /2010-04-01/Accounts/{sid}/Messages.json``.

    The idempotency key rides on the status-callback URL (``?idempotency_key=…``), so every
    delivery callback names the outbox row even if the send answer was lost.
    """

    provider = PROVIDER

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str = TWILIO_ORIGIN,
                 default_from: str | None = None, messaging_service_sid: str | None = None,
                 timeout_s: float = 10.0) -> None:
        self.default_from = default_from
        self.messaging_service_sid = messaging_service_sid
        self.http = BaseUrlHttpClient(base_url, timeout=timeout_s)
        self._client = Client(account_sid, auth_token, http_client=self.http)

    def create_params(self, message: SmsMessage) -> dict[str, Any]:
        """Keyword arguments for ``messages.create``; a Messaging Service wins over a bare From."""
        params: dict[str, Any] = {"to": message.to, "body": message.body}
        service = message.messaging_service_sid or (None if message.from_ else self.messaging_service_sid)
        if service:
            params["messaging_service_sid"] = service
        else:
            sender = message.from_ or self.default_from
            if not sender:
                raise ValueError("SmsMessage has no from_/messaging_service_sid and no default is set")
            params["from_"] = sender
        if message.status_callback_url:
            callback = message.status_callback_url
            if message.idempotency_key:
                callback = with_query(callback, **{IDEMPOTENCY_QUERY: message.idempotency_key})
            params["status_callback"] = callback
        return params

    def send(self, message: SmsMessage) -> SendResult:
        """Creates the message; ``status`` is Twilio's initial one (``queued`` or ``accepted``)."""
        try:
            created = self._client.messages.create(**self.create_params(message))
        except TwilioRestException as exc:
            raise self._rest_error(exc) from exc
        except TwilioServiceException as exc:
            raise classify_http(PROVIDER, int(exc.status), str(exc.detail or exc.title), code=exc.code,
                                retry_after=self.http.last_headers.get("Retry-After")) from exc
        except requests.RequestException as exc:
            raise requests_failure(PROVIDER, exc) from exc
        raw = {k: getattr(created, k, None) for k in (
            "sid", "status", "to", "from_", "body", "num_segments", "messaging_service_sid",
            "error_code", "error_message", "direction")}
        return SendResult(PROVIDER, created.sid, str(created.status), raw)

    def find_sent(self, message: SmsMessage, since: datetime) -> SentLookup:
        """Did Twilio take this message? Lists the account's messages to the same number
        (``GET …/Messages.json?To=``, newest first) back to ``since`` and matches the body. Twilio
        keeps no field of ours on the message (the key rides only on the callback URL), so the
        body and recipient are the match; a lookup that reads past ``LOOKUP_LIMIT`` messages
        without reaching ``since`` is inconclusive."""
        floor = since - timedelta(minutes=1)
        try:
            seen = 0
            for item in self._client.messages.stream(to=message.to, page_size=50, limit=LOOKUP_LIMIT):
                seen += 1
                created = item.date_created
                if created is not None and created < floor:
                    return SentLookup(found=False)
                if str(item.body or "") == message.body and str(item.direction or "").startswith("outbound"):
                    return SentLookup(found=True, provider_message_id=str(item.sid))
        except TwilioRestException as exc:
            raise self._rest_error(exc) from exc
        except requests.RequestException as exc:
            raise requests_failure(PROVIDER, exc) from exc
        return SentLookup(found=False, conclusive=seen < LOOKUP_LIMIT)

    def close(self) -> None:
        """Let go of the HTTP client's kept-alive connections."""
        if self.http.session is not None:
            self.http.session.close()

    def check_credentials(self) -> str:
        """A cheap authenticated read (the account's newest message): raises ``AuthError`` when
        Twilio refuses the account SID or auth token."""
        try:
            self._client.messages.list(limit=1)
        except TwilioRestException as exc:
            raise self._rest_error(exc) from exc
        except requests.RequestException as exc:
            raise requests_failure(PROVIDER, exc) from exc
        return f"account {self._client.username} answered"

    def _rest_error(self, exc: TwilioRestException) -> Exception:
        code = exc.code if isinstance(exc.code, int) else None
        if code in AUTH_CODES:
            return with_code(AuthError(f"twilio answered {exc.status}: {exc.msg}", status_code=exc.status,
                                       platform=PROVIDER), code)
        status = 429 if code in RATE_LIMIT_CODES else int(exc.status)
        return classify_http(PROVIDER, status, str(exc.msg), code=code,
                             retry_after=self.http.last_headers.get("Retry-After"))


def _pairs(params: Mapping[str, str | Sequence[str]]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in params.items():
        values = [value] if isinstance(value, str) else list(value)
        pairs.extend((name, str(v)) for v in values)
    return sorted(pairs)


def compute_signature(auth_token: str, url: str, params: Mapping[str, str | Sequence[str]]) -> str:
    """Twilio's ``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL + sorted ``name+value`` pairs."""
    payload = url + "".join(name + value for name, value in _pairs(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_signature(auth_token: str, url: str, params: Mapping[str, str | Sequence[str]],
                     signature: str | None) -> None:
    """Raises :class:`SignatureError` unless ``signature`` matches the full URL Twilio called."""
    if not signature:
        raise SignatureError("missing X-Twilio-Signature")
    expected = compute_signature(auth_token, url, params)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignatureError("X-Twilio-Signature does not match")


def _required(params: Mapping[str, str], *names: str) -> list[str]:
    missing = [n for n in names if not params.get(n)]
    if missing:
        raise MalformedPayloadError(f"twilio webhook lacks {', '.join(missing)}")
    return [params[n] for n in names]


def parse_status_callback(params: Mapping[str, str]) -> DeliveryEvent:
    """(MessageSid, MessageStatus, ErrorCode) from a status-callback form."""
    sid, status = _required(params, "MessageSid", "MessageStatus")
    return DeliveryEvent(sid, status, params.get("ErrorCode") or None)


def parse_inbound(params: Mapping[str, str]) -> InboundSms:
    """A customer's reply from the inbound-message webhook form."""
    sid, sender, to = _required(params, "MessageSid", "From", "To")
    try:
        num_media = int(params.get("NumMedia") or 0)
    except ValueError as exc:
        raise MalformedPayloadError("twilio NumMedia is not a number") from exc
    return InboundSms(sid, sender, to, params.get("Body") or "",
                      params.get("MessagingServiceSid") or None, num_media)
