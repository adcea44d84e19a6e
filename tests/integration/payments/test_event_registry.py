"""Stored provider events go to the handlers registered for their kind, once; a handler that fails
rolls its own writes back and leaves its event to be tried again, without holding up the others."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.payments.common import ProviderEvent
from connectors.payments.contract import DisputeNotice
from domain.core import audit
from domain.core.clock import utcnow
from domain.core.models import AuditLog, InboxEvent
from domain.core.stages import FollowUp, Stage
from domain.payments import events

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def dispute(event_id: str) -> ProviderEvent:
    notice = DisputeNotice("stripe", event_id, f"dp_{event_id}", "pi_1", "needs_response", due_by=NOW)
    return ProviderEvent("stripe", event_id, "charge.dispute.created", "dispute", dispute=notice)


@pytest.fixture
def flaky() -> Iterator[set[str]]:
    """A dispute handler that writes an audit row, then fails for the event ids in the set — the
    only one for the test (the chargeback desk's own is set aside meanwhile)."""
    failing: set[str] = set()
    registered = events.HANDLERS.pop("dispute", [])

    def handle(session: Session, account: str, event: ProviderEvent, now: datetime) -> list[FollowUp]:
        audit.record(session, "test", "dispute.seen", "dispute", event.event_id)
        if event.event_id in failing:
            raise RuntimeError(f"cannot take {event.event_id} yet")
        return [FollowUp(Stage.DELIVER, (1,))]

    events.handler("dispute")(handle)
    try:
        yield failing
    finally:
        events.HANDLERS["dispute"] = registered


def test_a_failing_handler_keeps_its_event_for_later_and_the_others_go_through(db_session: Session,
                                                                              flaky: set[str]) -> None:
    ids = events.accept(db_session, "stripe-main", [dispute("evt_1"), dispute("evt_2"), dispute("evt_1")])
    assert ids[0] is not None and ids[1] is not None and ids[2] is None, "the repeated event is stored once"
    db_session.commit()
    flaky.add("evt_1")
    taken, follow_ups = events.apply_pending(db_session, "stripe-main", utcnow())
    db_session.commit()
    assert taken == 2 and follow_ups == [FollowUp(Stage.DELIVER, (1,))]
    rows = {row.dedupe_key: row for row in db_session.scalars(select(InboxEvent))}
    assert rows["stripe:evt_1"].state == "pending" and "cannot take evt_1 yet" in (rows["stripe:evt_1"].error or "")
    assert rows["stripe:evt_2"].state == "done"
    seen = db_session.scalars(select(AuditLog.subject_id).where(AuditLog.action == "dispute.seen")).all()
    assert seen == ["evt_2"], "the failed handler's writes rolled back"

    flaky.clear()
    taken, _ = events.apply_pending(db_session, "stripe-main", utcnow())
    db_session.commit()
    assert taken == 1 and db_session.get(InboxEvent, ids[0]).state == "done"  # type: ignore[union-attr]
    assert events.apply_pending(db_session, "stripe-main", utcnow())[0] == 0


def test_an_event_that_keeps_failing_is_set_aside(db_session: Session, flaky: set[str]) -> None:
    [event_id] = events.accept(db_session, "stripe-main", [dispute("evt_9")])
    db_session.commit()
    flaky.add("evt_9")
    for _ in range(events.MAX_ATTEMPTS):
        events.apply_pending(db_session, "stripe-main", utcnow())
        db_session.commit()
    row = db_session.get(InboxEvent, event_id)
    assert row is not None and (row.state, row.attempts) == ("failed", events.MAX_ATTEMPTS)
    assert events.stranded_accounts(db_session, utcnow(), timedelta(0)) == []
