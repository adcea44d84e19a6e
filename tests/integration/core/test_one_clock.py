"""One clock: a worker whose own clock is 11 minutes ahead (or behind) decides exactly as the
database's clock says — no timer or reminder early, no lease taken while another holds it, due
work on time.

freezegun plays the worker's wrong wall clock here (``clock.TRUST_FREEZEGUN = False``: it is not
the test's time, it is a fault), ticking, 6 or 11 minutes off PostgreSQL's real ``now()``. Each
test also shows the wrong clock *would* have decided otherwise, so it proves something.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import freezegun
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from domain.core import clock, timers
from domain.core.models import OutboxMessage, Store, Timer
from domain.journey import customer_journey
from domain.stock import poll_schedule
from tests.integration.journey.test_journey import SKU, _order, _stock
from tests.integration.core.test_timers import _note  # noqa: F401  (registers the test.note handler)

Skew = Callable[[float], AbstractContextManager[None]]


def db_now(session: Session) -> datetime:
    return session.scalar(select(func.clock_timestamp()))  # type: ignore[no-any-return]


@pytest.fixture
def skewed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Skew]:
    """``with skewed(+660):`` this process's wall clock runs 660 s ahead of the real time."""
    monkeypatch.setattr(clock, "TRUST_FREEZEGUN", False)

    @contextmanager
    def run(offset_s: float) -> Iterator[None]:
        clock.forget()  # read the database's clock afresh *under* the wrong wall clock
        with freezegun.freeze_time(datetime.now(UTC) + timedelta(seconds=offset_s), tick=True):
            assert abs((datetime.now(UTC) - db_now_direct()).total_seconds() - offset_s) < 5, "the skew is real"
            yield
        clock.forget()

    yield run
    clock.forget()


def db_now_direct() -> datetime:
    from domain.core.db import get_engine

    with get_engine().connect() as connection:
        return connection.execute(text("SELECT clock_timestamp()")).scalar_one()  # type: ignore[no-any-return]


@pytest.mark.parametrize("offset_s", [660, 360])
def test_a_worker_ahead_fires_no_timer_early(db_session: Session, skewed: Skew, offset_s: int) -> None:
    timers.schedule(db_session, "test.note", "order", 1, db_now(db_session) + timedelta(minutes=5))
    db_session.commit()
    with skewed(offset_s):
        assert abs((clock.utcnow() - db_now(db_session)).total_seconds()) < 2, "utcnow is the database's"
        assert timers.claim_due(db_session) == []
        assert len(timers.claim_due(db_session, now=datetime.now(UTC))) == 1, "the worker's clock would fire it"
        db_session.rollback()


def test_a_worker_behind_still_fires_due_timers_on_time(db_session: Session, skewed: Skew) -> None:
    timers.schedule(db_session, "test.note", "order", 2, db_now(db_session) - timedelta(seconds=1))
    db_session.commit()
    with skewed(-660):
        assert timers.claim_due(db_session, now=datetime.now(UTC)) == [], "the worker's clock would wait 11 minutes"
        due = timers.claim_due(db_session)
        assert [t.subject_id for t in due] == [2]
        timers.fire(db_session, due[0])
        db_session.commit()
    fired_at = db_session.scalar(select(Timer.fired_at).where(Timer.subject_id == 2))
    assert fired_at is not None and abs((fired_at - db_now(db_session)).total_seconds()) < 5


def test_a_worker_ahead_takes_no_lease_another_holds(db_session: Session, catalog: Any, skewed: Skew) -> None:
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    db_session.execute(update(Store).where(Store.id == store_id).values(
        lease_owner="worker-a", lease_expires_at=db_now(db_session) + timedelta(seconds=60)))
    db_session.commit()
    with skewed(360):
        assert not poll_schedule.acquire_lease(db_session, store_id, "worker-b")
        db_session.rollback()
        assert poll_schedule.acquire_lease(db_session, store_id, "worker-b", now=datetime.now(UTC)), \
            "the worker's own clock would have taken it"
        db_session.rollback()
    with skewed(-660):  # behind: an expired lease is still taken over on time
        db_session.execute(update(Store).where(Store.id == store_id).values(
            lease_expires_at=db_now(db_session) - timedelta(seconds=1)))
        assert poll_schedule.acquire_lease(db_session, store_id, "worker-b")
        leased_until = db_session.scalar(select(Store.lease_expires_at).where(Store.id == store_id))
        assert abs((leased_until - db_now(db_session) - poll_schedule.LEASE_TTL).total_seconds()) < 5
        db_session.rollback()


def test_a_worker_ahead_claims_no_poll_slot_early(db_session: Session, catalog: Any, skewed: Skew) -> None:
    db_session.execute(update(Store).values(next_poll_at=db_now(db_session) + timedelta(minutes=5)))
    db_session.commit()
    with skewed(660):
        assert poll_schedule.claim_due(db_session) == []
        db_session.rollback()


def test_a_worker_ahead_queues_no_reminder_early_and_behind_queues_it_on_time(
        db_session: Session, catalog: Any, skewed: Skew) -> None:
    from tasks.timers import fire_due

    settings = customer_journey.Settings(config=catalog, public_base_url="https://shop.example", secret_key="k" * 40)
    _stock(db_session, SKU, 0)
    [backorder_id] = _order(db_session, 9101)
    customer_journey.offer(db_session, backorder_id, settings)
    db_session.execute(update(Timer).where(Timer.kind == customer_journey.REMINDER)
                       .values(due_at=db_now(db_session) + timedelta(minutes=5)))
    db_session.commit()

    def reminders() -> int:
        db_session.rollback()
        return db_session.scalar(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.template == "backorder_reminder")) or 0

    with skewed(660):
        fire_due.run()  # the beat-driven sweep, in this (skewed) process
    assert reminders() == 0, "no reminder 5 minutes early"
    db_session.execute(update(Timer).where(Timer.kind == customer_journey.REMINDER)
                       .values(due_at=db_now(db_session) - timedelta(seconds=1)))
    db_session.commit()
    with skewed(-660):
        fire_due.run()
    assert reminders() > 0, "due, so queued now although this worker's clock says 11 minutes ago"
    assert db_session.scalar(select(Timer.state).where(Timer.kind == customer_journey.REMINDER)) == "fired"
