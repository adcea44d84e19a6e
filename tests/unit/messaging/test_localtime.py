"""Times as customers read them (``domain.messaging.localtime``): their zone, named, daylight saving kept."""
from __future__ import annotations

import pytest

from domain.messaging.localtime import customer_zone, format_when

UTC_ISO = "2026-12-04T22:00:00+00:00"


@pytest.mark.parametrize(("iso", "zone", "expected"), [
    (UTC_ISO, "America/New_York", "December 4, 2026 at 17:00 EST"),
    ("2026-07-14T18:00:00+00:00", "America/Chicago", "July 14, 2026 at 13:00 CDT"),  # daylight saving
    (UTC_ISO, "Europe/Berlin", "December 4, 2026 at 23:00 CET"),
    (UTC_ISO, "Asia/Dubai", "December 5, 2026 at 02:00 UTC+04:00"),  # the zone's abbreviation is only "+04"
    (UTC_ISO, "Asia/Kolkata", "December 5, 2026 at 03:30 IST"),
    (UTC_ISO, None, "December 4, 2026 at 22:00 UTC"),  # no zone: the value's own offset
    ("2026-12-04T17:00:00-05:00", None, "December 4, 2026 at 17:00 UTC-05:00"),
    ("2026-12-04T22:00:00Z", "America/Los_Angeles", "December 4, 2026 at 14:00 PST"),
])
def test_format_when(iso: str, zone: str | None, expected: str) -> None:
    assert format_when(iso, zone) == expected


def test_the_customer_zone_then_the_business_zone_then_utc() -> None:
    assert customer_zone("Europe/Paris", "America/New_York").key == "Europe/Paris"
    assert customer_zone(None, "America/New_York").key == "America/New_York"
    assert customer_zone("Not/AZone", "America/New_York").key == "America/New_York"
    assert customer_zone(None, None).key == "UTC"
