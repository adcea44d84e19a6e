"""Two beats run every scheduled sweep twice, at the same moment: each effect still happens once.

The recommended deployment runs two beat processes (README, "Beats"), so every beat-scheduled
sweeper meets a twin running the same query in an overlapping transaction. The timers' and polls'
claims are covered in ``test_timers`` and ``test_polling``; here the sweeps whose guard is a
unique key or a ``SKIP LOCKED`` claim of their own: the daily digest, the vendor scorecard and
the closing of purchase-order windows. Each pair starts together at a barrier.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.core.business_config import ScorecardSchedule
from domain.core.db import get_sessionmaker
from domain.core.models import Alert, OutboxMessage, PurchaseOrder, Sku
from domain.purchasing import purchase_orders, scorecards
from domain.stock.digest import send_digest
from tests.integration.purchasing.test_purchasing import COTTON, NOW, OAK, _plan, _stock
from tests.integration.purchasing.test_scorecard_email import _po_with_a_receipt

T = TypeVar("T")


def twice_at_once(sweep: Callable[[Session], T]) -> list[T]:
    """Run ``sweep`` in two threads, each in its own transaction, released together."""
    barrier = threading.Barrier(2)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with get_sessionmaker()() as session, session.begin():
                barrier.wait()
                results.append(sweep(session))
        except BaseException as exc:  # noqa: BLE001  (reported below, in the test's thread)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [], errors
    return results


def test_two_digest_sweeps_queue_one_digest(db_session: Session, catalog: Any) -> None:
    db_session.execute(update(Sku).where(Sku.code == "MAT-HYB-KING").values(state="BACKORDER"))
    db_session.commit()
    routes = catalog.notifications.routes
    now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    queued = twice_at_once(lambda s: send_digest(s, now, "America/New_York", time(8, 0), routes))
    assert sorted(len(ids) for ids in queued)[0] == 0, "the second sweep finds the day's digest queued"
    assert db_session.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "digest.daily")) == 1
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == len(queued[0] or queued[1])


def test_two_scorecard_sweeps_queue_one_scorecard(db_session: Session, catalog: Any) -> None:
    _po_with_a_receipt(db_session)
    db_session.commit()
    routes = catalog.notifications.routes
    monday = datetime(2026, 12, 7, 13, 5, tzinfo=UTC)
    schedule = ScorecardSchedule("weekly", 0, time(8, 0))
    queued = twice_at_once(lambda s: scorecards.send_scorecard(s, monday, "America/New_York", schedule,
                                                               "Futon Loft", routes))
    assert sorted(len(ids) for ids in queued) == [0, 1]
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_two_window_sweeps_close_each_draft_once(db_session: Session, catalog: Any) -> None:
    for code in [*COTTON, OAK]:
        _stock(db_session, code, 1, NOW)
    _plan(db_session, [*COTTON, OAK], NOW, catalog.policy)
    db_session.commit()
    drafts = set(db_session.scalars(select(PurchaseOrder.id).where(PurchaseOrder.state == "draft")))
    assert len(drafts) >= 2
    closed = twice_at_once(lambda s: purchase_orders.close_due_windows(
        s, NOW + timedelta(minutes=31), catalog.policy, routes=catalog.notifications.routes))
    each = [po_id for result in closed for po_id in result.approved + result.awaiting_approval]
    assert sorted(each) == sorted(drafts), "every draft closed, none by both sweeps"
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(PurchaseOrder)
                             .where(PurchaseOrder.state == "draft")) == 0
    approvals = db_session.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "po.needs_approval"))
    assert approvals == sum(len(result.awaiting_approval) for result in closed)
