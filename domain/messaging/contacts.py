"""Customer contact hygiene: valid addresses only, STOP honoured for good, no texts at night.

A message to an invalid number or an opted-out customer is never attempted: the outbox row is
stored as ``suppressed`` with the reason, so the journey shows why the customer heard nothing.
"""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core.models import ContactOptOut

EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                           r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "CANCEL ALL", "END", "QUIT", "OPTOUT",
                        "REVOKE"})
#: Twilio's default opt-in keywords: the carrier lets messages through again after these.
START_WORDS = frozenset({"START", "UNSTOP", "YES"})


def normalize_phone(raw: str | None, default_region: str = "US") -> str | None:
    """E.164 (``+15551234567``) for a valid number, else None."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def valid_email(raw: str | None) -> str | None:
    if not raw or len(raw) > 320:
        return None
    candidate = raw.strip()
    return candidate if EMAIL_PATTERN.match(candidate) else None


def opted_out(session: Session, channel: str, address: str) -> bool:
    return session.scalar(select(ContactOptOut.id).where(ContactOptOut.channel == channel,
                                                         ContactOptOut.address == address)) is not None


def opt_out(session: Session, channel: str, address: str, reason: str) -> None:
    session.execute(insert(ContactOptOut).values(channel=channel, address=address, reason=reason[:200])
                    .on_conflict_do_nothing(constraint="uq_contact_opt_outs_channel_address"))


def opt_in(session: Session, channel: str, address: str) -> bool:
    """The customer texted START (or UNSTOP): Twilio lets messages through again, and so do we."""
    result = session.execute(ContactOptOut.__table__.delete().where(ContactOptOut.channel == channel,
                                                                    ContactOptOut.address == address))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def in_quiet_hours(local: time, quiet: tuple[time, time]) -> bool:
    start, end = quiet
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def next_send_time(now: datetime, tz: ZoneInfo, quiet: tuple[time, time]) -> datetime | None:
    """When an SMS may go out: None for now, else the end of the quiet hours in the customer's zone."""
    local = now.astimezone(tz)
    if not in_quiet_hours(local.time(), quiet):
        return None
    end = local.replace(hour=quiet[1].hour, minute=quiet[1].minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(ZoneInfo("UTC"))
