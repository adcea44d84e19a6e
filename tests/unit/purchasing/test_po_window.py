"""A draft's window: ``po_window`` after its first line, or the vendor's next daily cut-off."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from domain.purchasing.purchase_orders import window_closes_at

LA = "America/Los_Angeles"


def test_without_a_cut_off_the_window_is_po_window_long() -> None:
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert window_closes_at(now, 1800, None, LA) == now + timedelta(minutes=30)


def test_a_need_before_the_cut_off_goes_out_at_todays_cut_off() -> None:
    now = datetime(2026, 11, 25, 21, 50, tzinfo=UTC)  # 13:50 in Los Angeles (UTC−8 in November)
    assert window_closes_at(now, 1800, time(14, 0), LA) == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


def test_a_need_after_the_cut_off_waits_for_tomorrows() -> None:
    now = datetime(2026, 11, 25, 22, 5, tzinfo=UTC)  # 14:05 in Los Angeles
    assert window_closes_at(now, 1800, time(14, 0), LA) == datetime(2026, 11, 26, 22, 0, tzinfo=UTC)


def test_exactly_at_the_cut_off_is_too_late_for_today() -> None:
    now = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    assert window_closes_at(now, 1800, time(14, 0), LA) == datetime(2026, 11, 26, 22, 0, tzinfo=UTC)


def test_the_cut_off_is_local_time_across_a_daylight_saving_change() -> None:
    # Saturday 2027-03-13 15:00 PST; clocks spring forward that night, so Sunday's 14:00 is PDT (UTC−7).
    now = datetime(2027, 3, 13, 23, 0, tzinfo=UTC)
    assert window_closes_at(now, 1800, time(14, 0), LA) == datetime(2027, 3, 14, 21, 0, tzinfo=UTC)
