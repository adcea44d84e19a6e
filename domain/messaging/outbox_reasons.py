"""Why a message stands where it stands, in words an operator can act on.

A pending row says nothing by itself: ``not_before`` may be the end of the customer's quiet hours
(set when the notice was written), a provider circuit that is open (``delivery_rules.defer``) or
the backoff after an error (``delivery_rules.release_for_retry``). The three leave different
traces in ``last_error`` and ``attempts``, read here so ``backorders status`` and
``backorders why`` explain a row the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.core.models import OutboxMessage

#: A due row older than this is waiting on a worker rather than on its turn.
WORKER_WAIT = timedelta(minutes=2)
#: ``delivery_rules.defer`` writes "<provider> circuit <state>: not attempted, deferred …".
CIRCUIT_MARK = " circuit "


@dataclass(frozen=True)
class Reason:
    """``code`` groups rows (``quiet_hours``, ``circuit``, ``retrying``, ``queued``…); ``text`` is the sentence."""

    code: str
    text: str
    until: datetime | None = None


def clock(moment: datetime, zone: ZoneInfo | None) -> str:
    """``08:00 America/New_York`` in the given zone, else ``13:00:00 UTC``."""
    if zone is None or zone.key == "UTC":
        return f"{moment.astimezone(UTC):%H:%M:%S} UTC"
    return f"{moment.astimezone(zone):%H:%M} {zone.key} time"


def _short(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def explain(row: OutboxMessage, now: datetime, zone: ZoneInfo | None = None) -> Reason:
    """The reason for ``row``'s state at ``now``; ``zone`` is the recipient's (quiet hours are theirs)."""
    state, error, until = row.state, row.last_error, row.not_before
    if state == "pending":
        waiting = until is not None and until > now
        if error and CIRCUIT_MARK in error:
            circuit = error.split(":", 1)[0]
            return (Reason("circuit", f"waiting for provider circuit ({circuit}) until {clock(until, None)}", until)
                    if waiting and until else Reason("circuit", f"due again after the {circuit}"))
        if error:
            when = f"; next try at {clock(until, None)}" if waiting and until else ""
            return Reason("retrying", f"retrying after error: {_short(error)}{when}", until if waiting else None)
        if waiting and until:
            what = "held for quiet hours" if row.channel == "sms" else "held"
            return Reason("quiet_hours" if row.channel == "sms" else "held", f"{what} until {clock(until, zone)}",
                          until)
        if row.created_at is not None and now - (until or row.created_at) > WORKER_WAIT:
            return Reason("queued", "due, waiting for a notify worker for over 2 minutes (is `notify` running?)")
        return Reason("queued", "queued for delivery")
    if state == "sending":
        return Reason("sending", "being sent now")
    if state == "unknown":
        return Reason("unknown", f"outcome unknown, awaiting reconciliation with the provider: {_short(error)}")
    if state == "failed":
        return Reason("failed", f"failed: {_short(error)}")
    if state == "suppressed":
        return Reason("suppressed", f"not sent: {_short(error)}")
    sent = f" at {row.sent_at.isoformat()}" if row.sent_at else ""
    via = f" via {row.provider}" if row.provider else ""
    return Reason(state, f"{state}{via}{sent}")
