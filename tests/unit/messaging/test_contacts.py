from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from domain.messaging.contacts import in_quiet_hours, next_send_time, normalize_phone, valid_email

QUIET = (time(21, 0), time(8, 0))


def test_phone_numbers_become_e164_or_none() -> None:
    assert normalize_phone("(201) 555-0123") == "+12015550123"
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"
    assert normalize_phone("555-0123") is None
    assert normalize_phone("not a number") is None
    assert normalize_phone(None) is None


def test_emails() -> None:
    assert valid_email("jamie@example.com") == "jamie@example.com"
    assert valid_email("jamie@example") is None
    assert valid_email("<script>@x.com") is None


def test_quiet_hours_wrap_midnight() -> None:
    assert in_quiet_hours(time(22, 30), QUIET) and in_quiet_hours(time(7, 59), QUIET)
    assert not in_quiet_hours(time(8, 0), QUIET) and not in_quiet_hours(time(20, 59), QUIET)


def test_sms_waits_for_the_morning_in_the_customers_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    late = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)  # 22:30 in New York
    assert next_send_time(late, new_york, QUIET) == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    early = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)  # 06:00 in New York
    assert next_send_time(early, new_york, QUIET) == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    noon = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    assert next_send_time(noon, new_york, QUIET) is None
