"""``Trail.sorted``: a fired timer leads the rows its handler wrote, even when the claiming
transaction began a few milliseconds before the ``due_at`` a test brought forward to "now" (the
database clock is estimated to half a round trip), and never jumps ahead of rows written before it
fell due or before an earlier timer of the same backorder fired."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.why import Trail

T0 = datetime(2026, 12, 3, 20, 28, 21, 500_000, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def _texts(trail: Trail) -> list[str]:
    return [e.text for e in trail.sorted().events]


def test_the_handlers_transaction_may_start_just_before_the_due_time() -> None:
    trail = Trail("order #1001", {})
    trail.add(T0, "transition", "open → notified", backorder_id=1)
    reminder_due = T0 + 20 * MS
    reminder_tx = T0 + 30 * MS
    trail.add(reminder_tx + 2 * MS, "timer.fired", "reminder fired", backorder_id=1, due_at=reminder_due)
    trail.add(reminder_tx, "notice", "reminder sent", backorder_id=1)
    deadline_due = T0 + 60 * MS
    deadline_tx = deadline_due - 4 * MS  # began before the due time, as read from the estimated clock
    trail.add(deadline_tx + 3 * MS, "timer.fired", "deadline fired", backorder_id=1, due_at=deadline_due)
    trail.add(deadline_tx, "transition", "notified → auto_cancelled", backorder_id=1)
    trail.add(deadline_tx + 9 * MS, "refund", "refund of 649.00", backorder_id=1)

    assert _texts(trail) == ["open → notified", "reminder fired", "reminder sent", "deadline fired",
                             "notified → auto_cancelled", "refund of 649.00"]


def test_a_timer_whose_handler_wrote_nothing_keeps_its_own_time() -> None:
    trail = Trail("backorder 7", {})
    trail.add(T0, "transition", "open → notified", backorder_id=7)
    due = T0 + 400 * MS  # CLOCK_SLACK (250 ms) after the last row
    trail.add(due + 5 * MS, "timer.fired", "reminder fired", backorder_id=7, due_at=due)

    assert _texts(trail) == ["open → notified", "reminder fired"]


def test_rows_of_another_backorder_do_not_move_a_timer() -> None:
    trail = Trail("order #1002", {})
    trail.add(T0, "timer.fired", "deadline fired", backorder_id=1, due_at=T0 - 10 * MS)
    trail.add(T0 - 2 * MS, "transition", "backorder 2 filled", backorder_id=2)
    trail.add(T0 - 5 * MS, "transition", "backorder 1 auto_cancelled", backorder_id=1)

    assert _texts(trail) == ["deadline fired", "backorder 1 auto_cancelled", "backorder 2 filled"]
