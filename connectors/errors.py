"""Error classes every connector raises, so callers decide retry vs. alert without knowing the platform."""
from __future__ import annotations

import json
from typing import Any


class ConnectorError(Exception):
    """Base for all failures talking to an outside platform or provider."""

    def __init__(self, message: str, *, status_code: int | None = None, platform: str = "",
                 body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.platform = platform
        self.body = body


class TransientError(ConnectorError):
    """Worth retrying: 429, 5xx, timeouts, connection resets.

    ``retry_after_s`` carries the wait the platform asked for (``Retry-After`` or its own reset
    header), so the retry honours it instead of guessing.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after_s = retry_after_s


class OutcomeUnknownError(TransientError):
    """The request may have been accepted (a timeout after sending): reconcile, never blindly resend."""


class PermanentError(ConnectorError):
    """Retrying will not help (401, 403, 404, 422, …); carries the platform's own message."""


class AuthError(PermanentError):
    """Credentials were refused (401/403): an operator must fix the configuration."""


class SignatureError(Exception):
    """A webhook's signature is missing or does not match: answer 401, store nothing."""


class MalformedPayloadError(Exception):
    """A webhook body that cannot be parsed: answer 400, store nothing."""


def error_json(exc: ConnectorError) -> dict[str, Any]:
    """The JSON object a platform answered with (``{"code", "message"}``, ``{"errors": …}``), or {}
    when the body was not a JSON object; for telling one refusal from another by its body."""
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
