"""What the helpdesk connectors share: the record each platform's ticket becomes, the first
answer to a cursorless poll, and the internal-note idempotency check."""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterable, Mapping

from connectors.errors import MalformedPayloadError
from connectors.helpdesk.contract import TicketUpdate, WriteOutcome, note_marker

#: How far back the first poll reaches when the ``since`` option (unix seconds) names nothing.
FIRST_POLL_S = 24 * 3600
#: The credentials each platform's connector reads (names in ``ConnectorConfig.credentials``; one
#: of the tuples is enough), and what its webhook secret is.
CREDENTIALS = {"zendesk": (("email", "api_token"), ("oauth_token",)), "gorgias": (("email", "api_key"),),
               "intercom": (("access_token",),)}
WEBHOOK_SECRETS = {"zendesk": "the webhook's signing secret (Admin Center → Webhooks → signing secret)",
                   "gorgias": "a secret of ours the HTTP integration sends in its X-Backorders-Token header",
                   "intercom": "the app's client secret (Developer Hub → Basic information)"}


def start_time(options: Mapping[str, Any]) -> int:
    """Unix seconds the first poll starts from: the ``since`` option, else a day ago."""
    return int(options.get("since") or time.time() - FIRST_POLL_S)


def body_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedPayloadError(f"webhook body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedPayloadError("webhook body is not a JSON object")
    return data


def note_once(update: TicketUpdate, existing: Callable[[], Iterable[tuple[str, str]]],
              post: Callable[[], str], fields: tuple[str, ...]) -> WriteOutcome:
    """Post the update's note unless one of ``existing`` (id, text) pairs already carries its
    marker (a retry whose first answer was lost); the outcome."""
    if not update.note:
        return WriteOutcome(update.ticket_id, fields)
    marker = note_marker(update.idempotency_key)
    found = next((note_id for note_id, text in existing() if marker in (text or "")), None)
    if found is not None:
        return WriteOutcome(update.ticket_id, fields, str(found), note_existed=True)
    return WriteOutcome(update.ticket_id, (*fields, "note"), post())
