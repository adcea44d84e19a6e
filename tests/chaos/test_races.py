"""Scenarios 8 and 9: races decided by row locks, repeated many times on a private database.

8. The last unit of a SKU ordered on two channels at the same instant: exactly one allocation.
9. A customer's reply racing the auto-cancel at the deadline: exactly one outcome.

Both run the domain calls the tasks make, from two threads released by one barrier, each in
its own transaction, as two workers would.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from connectors.types import OrderLineRecord, OrderRecord
from domain.core import timers
from domain.core.business_config import load_config
from domain.core.db import get_sessionmaker, session_scope
from domain.core.models import AuditLog, Backorder, OrderLine, Sku, Store, Timer
from domain.journey import customer_journey
from domain.stock.orders import record_orders
from tests.chaos import report
from tests.chaos.conftest import size
from tests.chaos.harness import REPO_ROOT, private_database
from tests.integration.journey.test_journey import NOW, _order, _stock

LAST_UNIT_RACES = size(full=200, smoke=20)
REPLY_RACES = size(full=1000, smoke=50)


def _race(sides: tuple[Callable[[], None], Callable[[], None]], errors: list[BaseException]) -> None:
    """Run both sides in two threads released together; any exception is kept, never swallowed."""
    barrier = threading.Barrier(2)

    def run(side: Callable[[], None]) -> None:
        try:
            barrier.wait()
            side()
        except BaseException as exc:  # noqa: BLE001  (a deadlock or any error must fail the scenario)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(side,)) for side in sides]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _buy(store_id: int, code: str, number: str) -> None:
    with get_sessionmaker()() as session, session.begin():
        record_orders(session, store_id, [OrderRecord(
            external_id=number, number=number, placed_at=NOW, email="a@example.com", phone=None,
            customer_name="A", lines=[OrderLineRecord(external_id=f"{number}-1", sku=code, quantity=1)])])


def _reply(backorder_id: int, settings: customer_journey.Settings) -> None:
    with get_sessionmaker()() as session, session.begin():
        customer_journey.choose(session, backorder_id, "wait", settings, source="sms", now=NOW)


def _deadline(backorder_id: int, follow_ups: list[Any]) -> None:
    """The sweeper's claim, narrowed to this backorder's deadline so the race is on one row."""
    with get_sessionmaker()() as session, session.begin():
        for timer in session.scalars(select(Timer).where(
                Timer.subject_id == backorder_id, Timer.kind == customer_journey.DEADLINE,
                Timer.state == "pending").with_for_update(skip_locked=True)):
            follow_ups.extend(timers.fire(session, timer, now=NOW))


@pytest.mark.chaos_full
@pytest.mark.timeout(900)
def test_the_last_unit_on_two_channels_is_allocated_once(chaos_dir: Path) -> None:
    with private_database(chaos_dir):
        with session_scope() as session:
            stores = list(session.scalars(select(Store.id).where(Store.key.in_(("shopify-main", "woo-outlet")))))
            codes = list(session.scalars(select(Sku.code).order_by(Sku.code)))[:20]
        errors: list[BaseException] = []
        outcomes: list[int] = []
        for race in range(LAST_UNIT_RACES):
            code = codes[race % len(codes)]
            round_ = race // len(codes)
            with session_scope() as session:  # one more unit than every earlier round allocated
                _stock(session, code, round_ + 1, minutes=round_)
            first, second = (partial(_buy, store_id, code, f"{round_}-{code}-{store_id}") for store_id in stores)
            _race((first, second), errors)
            with session_scope() as session:
                outcomes.append(int(session.scalar(
                    select(func.coalesce(func.sum(OrderLine.allocated_qty), 0)).join(Sku, Sku.id == OrderLine.sku_id)
                    .where(Sku.code == code)) or 0) - round_)
        lost = sum(1 for n in outcomes if n < 1)
        doubled = sum(n - 1 for n in outcomes if n > 1)
        report.record("8 last unit, two channels", runs=LAST_UNIT_RACES, events_in=2 * LAST_UNIT_RACES,
                      effects=sum(outcomes), lost=lost, duplicates=doubled, detail=f"errors {len(errors)}")
        assert errors == []
        assert outcomes == [1] * LAST_UNIT_RACES, "one allocation per race"


@pytest.mark.chaos_full
@pytest.mark.timeout(900)
def test_a_reply_racing_the_auto_cancel_has_one_outcome(chaos_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with private_database(chaos_dir):
        settings = customer_journey.Settings(config=load_config(REPO_ROOT / "examples" / "futon-store.toml"),
                                    public_base_url="https://shop.example", secret_key="k" * 40)
        monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
        with session_scope() as session:
            session.execute(update(Sku).where(Sku.code == "MAT-HYB-KING").values(vendor_id=None))  # consent needed
            _stock(session, "MAT-HYB-KING", 0)
            ids = [b for n in range(REPLY_RACES) for b in _order(session, 50_000 + n, sku="MAT-HYB-KING", phone=None)]
            for backorder_id in ids:
                customer_journey.offer(session, backorder_id, settings, now=NOW)
            session.execute(update(Timer).values(due_at=NOW))
        errors: list[BaseException] = []
        follow_ups: list[Any] = []
        for backorder_id in ids:
            _race((partial(_reply, backorder_id, settings), partial(_deadline, backorder_id, follow_ups)), errors)
        with get_sessionmaker()() as session, session.begin():  # what the sweeper finds afterwards
            for timer in timers.claim_due(session, limit=10 * REPLY_RACES, now=NOW + timedelta(days=9)):
                follow_ups.extend(timers.fire(session, timer, now=NOW + timedelta(days=9)))
        with session_scope() as session:
            states = dict(session.execute(select(Backorder.state, func.count()).where(Backorder.id.in_(ids))
                                          .group_by(Backorder.state)).all())
            decisions = dict(session.execute(
                select(AuditLog.subject_id, func.count()).where(
                    AuditLog.action == "backorder.transition", AuditLog.data["from_state"].astext == "notified")
                .group_by(AuditLog.subject_id)).all())
        refunds = sum(1 for task, _ in follow_ups if task == customer_journey.REFUND)
        lost = len(ids) - len(decisions)
        doubled = sum(n - 1 for n in decisions.values() if n > 1)
        report.record("9 reply vs auto-cancel", runs=REPLY_RACES, events_in=2 * REPLY_RACES,
                      effects=len(decisions), lost=lost, duplicates=doubled,
                      detail=f"outcomes {states}; refunds {refunds}; errors {len(errors)}")
        assert errors == []
        assert sum(states.values()) == REPLY_RACES and set(states) <= {"accepted_wait", "auto_cancelled"}, states
        assert lost == 0 and doubled == 0, "exactly one outcome each"
        assert refunds == states.get("auto_cancelled", 0), "one refund per cancelled backorder"
