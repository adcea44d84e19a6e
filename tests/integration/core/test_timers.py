"""Durable timers: one pending timer per subject, claimed once even by concurrent sweepers."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core import timers
from domain.core.clock import utcnow
from domain.core.db import get_sessionmaker
from domain.core.models import AuditLog, Timer


@timers.handler("test.note")
def _note(session: Session, timer: Timer) -> list[timers.FollowUp]:
    session.add(AuditLog(actor="timer", action="fired", subject_type=timer.subject_type,
                         subject_id=str(timer.subject_id)))
    return []


def test_schedule_moves_the_pending_timer_and_cancel_stops_it(db_session: Session) -> None:
    now = utcnow()
    first = timers.schedule(db_session, "test.note", "backorder", 7, now + timedelta(hours=1))
    second = timers.schedule(db_session, "test.note", "backorder", 7, now + timedelta(hours=2))
    db_session.commit()
    assert first == second
    assert db_session.scalar(select(Timer.due_at).where(Timer.id == first)) == now + timedelta(hours=2)
    assert timers.cancel(db_session, "backorder", 7) == 1
    assert timers.claim_due(db_session, now=now + timedelta(days=1)) == []


def test_concurrent_sweepers_fire_each_timer_once(db_session: Session) -> None:
    due = utcnow() - timedelta(seconds=1)
    for subject in range(300):
        timers.schedule(db_session, "test.note", "order", subject, due)
    db_session.commit()
    barrier = threading.Barrier(4)

    def sweep() -> None:
        barrier.wait()
        while True:
            with get_sessionmaker()() as session, session.begin():
                claimed = timers.claim_due(session, limit=25)
                if not claimed:
                    return
                for timer in claimed:
                    timers.fire(session, timer)

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fired = db_session.scalars(select(AuditLog.subject_id).where(AuditLog.action == "fired")).all()
    assert len(fired) == 300 and len(set(fired)) == 300
    assert db_session.scalars(select(Timer.state).distinct()).all() == ["fired"]
