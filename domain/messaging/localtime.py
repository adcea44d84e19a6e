"""Dates and times as a customer reads them: in their time zone, or else the business's, with
the zone named ("July 14, 2026 at 13:00 CDT"), never a bare UTC figure.

The domain stores and compares UTC. Everything a customer reads is localized here: the message
context carries each datetime as ISO 8601 *with the customer's offset* (so a template's date part
is the customer's calendar date) and the zone's name in ``timezone``; the templates' ``when``
macro formats it through the ``local_when`` filter registered on every environment that renders
customer-facing templates.
"""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, Undefined

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def customer_zone(customer_timezone: str | None, business_timezone: str | None) -> ZoneInfo:
    """The customer's zone (``orders.customer_timezone``), else the business's, else UTC."""
    for candidate in (customer_timezone, business_timezone):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def local_iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """ISO 8601 in ``zone`` (its offset kept), for a message context; a naive value is UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).isoformat()


def zone_label(local: datetime) -> str:
    """The zone's abbreviation (``EST``, ``CEST``, ``UTC``); zones whose abbreviation is only a
    number (``+04``) and fixed offsets read ``UTC+04:00``."""
    name = local.tzname() or ""
    if name and name[0] not in "+-" and not name.startswith("UTC") or name == "UTC":
        return name
    offset = local.utcoffset()
    if offset is None or not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_when(iso: str, zone: str | None = None) -> str:
    """``"2026-12-04T22:00:00+00:00"`` in ``America/New_York`` → ``"December 4, 2026 at 17:00 EST"``.

    Without a zone the value's own offset is used (the context already localized it)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if zone:
        moment = moment.astimezone(customer_zone(zone, None))
    return f"{MONTHS[moment.month - 1]} {moment.day}, {moment.year} at {moment:%H:%M} {zone_label(moment)}"


def _local_when_filter(iso: object, zone: object = None) -> str:
    """Jinja filter: a context built by hand (a test, a preview) may not name the zone; then the
    ISO value's own offset stands."""
    name = None if isinstance(zone, Undefined) or not zone else str(zone)
    return format_when(str(iso), name)


def install(environment: Environment) -> Environment:
    """Register ``local_when`` on an environment that renders customer-facing templates."""
    environment.filters["local_when"] = _local_when_filter
    return environment
