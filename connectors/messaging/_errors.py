"""Shared failure classification for the messaging providers.

Every provider answers with its own body shape, but the retry decision is the same: 429 and 5xx
are worth retrying (honouring ``Retry-After``), 401/403 need an operator, other 4xx will never
succeed. A timeout *after* the request was sent is different again: the provider may have
accepted it, so it becomes ``OutcomeUnknownError`` and the outbox reconciles instead of resending.
"""
from __future__ import annotations

import contextlib
import email.utils
from datetime import datetime, timezone

import requests
import urllib3

from connectors.errors import AuthError, ConnectorError, OutcomeUnknownError, PermanentError, TransientError


def retry_after_seconds(value: str | None) -> float | None:
    """Parses ``Retry-After`` given as delta-seconds or as an HTTP date; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def with_code(error: ConnectorError, code: int | str | None) -> ConnectorError:
    """Attaches the provider's own error code (Twilio 21211, …) so callers can branch on it."""
    error.code = code  # type: ignore[attr-defined]
    return error


def classify_http(provider: str, status: int, message: str, *, body: str = "",
                  retry_after: str | None = None, code: int | str | None = None,
                  auth_statuses: frozenset[int] = frozenset({401, 403})) -> ConnectorError:
    """Maps one non-success HTTP answer to the connector error the caller should react to."""
    text = f"{provider} answered {status}: {message}" if message else f"{provider} answered {status}"
    kwargs = {"status_code": status, "platform": provider, "body": body}
    if status == 429 or status == 408 or status >= 500:
        return with_code(TransientError(text, retry_after_s=retry_after_seconds(retry_after), **kwargs), code)
    if status in auth_statuses:
        return with_code(AuthError(text, **kwargs), code)
    return with_code(PermanentError(text, **kwargs), code)


def not_sent(provider: str, exc: BaseException) -> TransientError:
    """The request never reached the provider (refused, DNS, connect timeout): safe to resend."""
    return TransientError(f"{provider} unreachable: {exc}", platform=provider)


def outcome_unknown(provider: str, exc: BaseException) -> OutcomeUnknownError:
    """The request was sent but no answer came back: it may have been accepted."""
    return OutcomeUnknownError(f"{provider} did not answer after the request was sent: {exc}",
                               platform=provider)


def requests_failure(provider: str, exc: BaseException) -> TransientError:
    """Classifies a ``requests`` transport failure by whether the request may have been received.

    Only a failure to *connect* proves nothing was sent; a read timeout or a connection dropped
    mid-exchange leaves the provider's side unknown.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return not_sent(provider, exc)
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout):
        reason = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)
        if isinstance(inner, urllib3.exceptions.NewConnectionError):
            return not_sent(provider, exc)
    return outcome_unknown(provider, exc)
