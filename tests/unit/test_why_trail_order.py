"""``Trail.sorted``: oldest first, and a fired timer leads the rows its handler wrote — they carry
the firing transaction's start, which is the timer's ``fired_at`` (``domain.core.timers.fire``)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.why import Trail

T0 = datetime(2026, 12, 3, 20, 28, 21, 500_000, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def _texts(trail: Trail) -> list[str]:
    return [e.text for e in trail.sorted().events]


def test_a_fired_timer_leads_the_rows_of_its_transaction() -> None:
    trail = Trail("order #1001", {})
    reminder_tx, deadline_tx = T0 + 30 * MS, T0 + 60 * MS
    # added in the order a view reads its tables: transitions, notices, timers, refunds
    trail.add(T0, "transition", "open → notified", backorder_id=1)
    trail.add(deadline_tx, "transition", "notified → auto_cancelled", backorder_id=1)
    trail.add(reminder_tx, "notice", "reminder sent", backorder_id=1)
    trail.add(reminder_tx, "timer.fired", "reminder fired", backorder_id=1)
    trail.add(deadline_tx, "timer.fired", "deadline fired", backorder_id=1)
    trail.add(deadline_tx + 9 * MS, "refund", "refund of 649.00", backorder_id=1)

    assert _texts(trail) == ["open → notified", "reminder fired", "reminder sent", "deadline fired",
                             "notified → auto_cancelled", "refund of 649.00"]


def test_rows_without_a_time_come_first_and_equal_times_keep_their_order() -> None:
    trail = Trail("backorder 7", {})
    trail.add(T0, "transition", "b", backorder_id=7)
    trail.add(None, "fact", "a")
    trail.add(T0, "notice", "c", backorder_id=7)
    trail.add(T0 - MS, "transition", "earlier", backorder_id=7)

    assert _texts(trail) == ["a", "earlier", "b", "c"]
