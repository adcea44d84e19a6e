"""The customer's backorder journey on the real database, with an injected clock.

Each test drives the domain functions the tasks call (offer, choose, timers, change_eta, fill)
with explicit ``now`` values, so days of SLA pass in microseconds and nothing sleeps.
"""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core import timers
from domain.core.db import get_sessionmaker
from domain.core.models import AuditLog, Backorder, OutboxMessage, Sku, Store, Timer
from domain.core.stages import Stage
from domain.journey import customer_journey
from domain.messaging import contacts
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders
from flows.spine import task_name

OFFER_TASK = task_name(Stage.OFFER)
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 10:00 in New York: no quiet hours
SKU = "FUT-FRM-OAK-FULL"  # vendor kyoto-frames, lead time 21 days: a definite date within 30 days


@pytest.fixture
def settings(catalog: Any) -> customer_journey.Settings:
    return customer_journey.Settings(config=catalog, public_base_url="https://shop.example", secret_key="k" * 40)


def _stock(session: Session, sku: str, available: int, minutes: int = 0) -> None:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    record_batch(session, store_id, [StockRecord(  # type: ignore[arg-type]
        external_id=f"v-{sku}", sku=sku, location_external_id="655441491", available=available, on_hand=available,
        updated_at=NOW + timedelta(minutes=minutes))])


def _order(session: Session, number: int, sku: str = SKU, quantity: int = 1, phone: str | None = "+12015550123",
           minutes: int = 0) -> list[int]:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    recorded = record_orders(session, store_id, [OrderRecord(  # type: ignore[arg-type]
        external_id=str(number), number=f"#{number}", placed_at=NOW + timedelta(minutes=minutes),
        email=f"customer{number}@example.com", phone=phone, customer_name=f"Customer {number}",
        lines=[OrderLineRecord(external_id=f"{number}-1", sku=sku, quantity=quantity, title="Oak futon frame",
                               price_cents=64900)])])
    return recorded.backorder_ids


def _fire_due(session: Session, at: datetime) -> list[timers.FollowUp]:
    follow_ups: list[timers.FollowUp] = []
    for timer in timers.claim_due(session, now=at):
        follow_ups += timers.fire(session, timer, now=at)
    return follow_ups


def _messages(session: Session, backorder_id: int, template: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"backorder:{backorder_id}:%"))
    if template:
        query = query.where(OutboxMessage.template == template)
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def _state(session: Session, backorder_id: int) -> str:
    session.expire_all()
    return session.scalar(select(Backorder.state).where(Backorder.id == backorder_id))  # type: ignore[return-value]


def test_allocation_splits_a_partly_fillable_line(db_session: Session, catalog: Any) -> None:
    _stock(db_session, SKU, 2)
    [backorder_id] = _order(db_session, 1001, quantity=5)
    backorder = db_session.get(Backorder, backorder_id)
    assert backorder is not None and backorder.quantity == 3 and backorder.state == "open"


def test_a_wait_chosen_by_link_is_never_auto_cancelled(db_session: Session, settings: customer_journey.Settings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _stock(db_session, SKU, 0)
    [backorder_id] = _order(db_session, 1002)
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    customer_journey.offer(db_session, backorder_id, settings, now=NOW)
    eta = db_session.get(Backorder, backorder_id).eta  # type: ignore[union-attr]
    outcome, _ = customer_journey.choose(db_session, backorder_id, "wait", settings, source="link", now=NOW + timedelta(hours=2))
    assert outcome.result == "applied"
    assert _fire_due(db_session, NOW + timedelta(days=10)) == []
    assert _state(db_session, backorder_id) == "accepted_wait"
    assert db_session.get(Backorder, backorder_id).eta == eta  # type: ignore[union-attr]


def test_silence_on_a_first_definite_notice_means_wait_after_one_reminder(
        db_session: Session, settings: customer_journey.Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _stock(db_session, SKU, 0)
    [backorder_id] = _order(db_session, 1003)
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    customer_journey.offer(db_session, backorder_id, settings, now=NOW)
    backorder = db_session.get(Backorder, backorder_id)
    assert backorder is not None and not backorder.consent_required
    assert backorder.eta == date(2026, 12, 16), "today + the vendor's 21-day lead time"
    _fire_due(db_session, NOW + timedelta(hours=25))
    _fire_due(db_session, NOW + timedelta(hours=73))
    _fire_due(db_session, NOW + timedelta(days=6))
    assert _state(db_session, backorder_id) == "accepted_wait"
    reminders = _messages(db_session, backorder_id, "backorder_reminder")
    assert sorted(m.channel for m in reminders) == ["email", "sms"], "one reminder, on each channel"


def test_renewed_delay_and_silence_cancel_with_one_refund(db_session: Session, settings: customer_journey.Settings,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _stock(db_session, SKU, 0)
    [backorder_id] = _order(db_session, 1004)
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    customer_journey.offer(db_session, backorder_id, settings, now=NOW)
    customer_journey.choose(db_session, backorder_id, "wait", settings, source="link", now=NOW + timedelta(hours=1))
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))
    customer_journey.change_eta(db_session, sku_id, date(2026, 12, 30), settings, now=NOW + timedelta(days=2))  # type: ignore[arg-type]
    backorder = db_session.get(Backorder, backorder_id)
    assert backorder is not None and backorder.state == "notified" and backorder.consent_required
    assert len(_messages(db_session, backorder_id, "backorder_renewed_notice")) == 2
    follow_ups = _fire_due(db_session, NOW + timedelta(days=6))
    assert _state(db_session, backorder_id) == "auto_cancelled"
    assert follow_ups.count((customer_journey.REFUND, (backorder_id,))) == 1
    assert _fire_due(db_session, NOW + timedelta(days=9)) == [], "nothing fires twice"
    assert db_session.get(Backorder, backorder_id).resolution == "refund"  # type: ignore[union-attr]


def test_reply_racing_the_auto_cancel_has_one_outcome(db_session: Session, settings: customer_journey.Settings,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    db_session.execute(update(Sku).where(Sku.code == "MAT-HYB-KING").values(vendor_id=None))  # no date: consent
    _stock(db_session, "MAT-HYB-KING", 0)
    ids = [b for n in range(200) for b in _order(db_session, 5000 + n, sku="MAT-HYB-KING", phone=None)]
    for backorder_id in ids:
        customer_journey.offer(db_session, backorder_id, settings, now=NOW)
    db_session.execute(update(Timer).values(due_at=NOW))
    db_session.commit()
    errors: list[BaseException] = []

    def guarded(work: Any) -> Any:
        def run(*args: Any) -> None:
            try:
                work(*args)
            except BaseException as exc:  # a deadlock or any error must fail the test, not vanish
                errors.append(exc)
        return run

    @guarded
    def reply(backorder_id: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        with get_sessionmaker()() as session, session.begin():
            customer_journey.choose(session, backorder_id, "wait", settings, source="sms", now=NOW)

    @guarded
    def sweep(backorder_id: int, barrier: threading.Barrier) -> None:
        """The sweeper's claim, narrowed to this backorder's deadline so the race is on one row."""
        barrier.wait()
        with get_sessionmaker()() as session, session.begin():
            for timer in session.scalars(select(Timer).where(
                    Timer.subject_id == backorder_id, Timer.kind == customer_journey.DEADLINE, Timer.state == "pending")
                    .with_for_update(skip_locked=True)):
                timers.fire(session, timer, now=NOW)

    for backorder_id in ids:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=reply, args=(backorder_id, barrier)),
                   threading.Thread(target=sweep, args=(backorder_id, barrier))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    with get_sessionmaker()() as session, session.begin():
        for timer in timers.claim_due(session, limit=1000, now=NOW):
            timers.fire(session, timer, now=NOW)
    db_session.expire_all()
    states = dict(db_session.execute(select(Backorder.state, func.count()).where(Backorder.id.in_(ids))
                                     .group_by(Backorder.state)).all())
    assert sum(states.values()) == 200 and set(states) <= {"accepted_wait", "auto_cancelled"}
    decisions = db_session.execute(
        select(AuditLog.subject_id, func.count()).where(AuditLog.action == "backorder.transition",
                                                        AuditLog.data["from_state"].astext == "notified")
        .group_by(AuditLog.subject_id)).all()
    assert len(decisions) == 200 and all(count == 1 for _, count in decisions), "exactly one outcome each"


def test_restock_fills_the_oldest_first(db_session: Session, settings: customer_journey.Settings,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    _stock(db_session, SKU, 0)
    ids = [b for n in range(5) for b in _order(db_session, 2000 + n, minutes=n)]
    for backorder_id in ids:
        customer_journey.offer(db_session, backorder_id, settings, now=NOW)
    _stock(db_session, SKU, 3, minutes=30)
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))
    customer_journey.fill(db_session, sku_id, settings, now=NOW + timedelta(hours=1))  # type: ignore[arg-type]
    assert [_state(db_session, b) for b in ids] == ["filled"] * 3 + ["notified"] * 2
    assert all(len(_messages(db_session, b, "backorder_ships")) == 2 for b in ids[:3])
    assert db_session.scalar(select(func.count()).select_from(Timer).where(
        Timer.subject_id.in_(ids[:3]), Timer.state == "pending")) == 0, "their timers are cancelled"


def test_an_eta_slip_tells_each_customer_once(db_session: Session, settings: customer_journey.Settings,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    _stock(db_session, SKU, 0)
    ids = [b for n in range(3) for b in _order(db_session, 3000 + n, phone=None)]
    db_session.execute(update(Sku).where(Sku.code == SKU).values(eta=date(2026, 12, 20)))
    for backorder_id in ids:
        customer_journey.offer(db_session, backorder_id, settings, now=NOW)
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))
    for _ in range(2):  # the same change applied twice is still one notice
        customer_journey.change_eta(db_session, sku_id, date(2026, 12, 25), settings, now=NOW + timedelta(days=1))  # type: ignore[arg-type]
    for backorder_id in ids:
        notices = [m for m in _messages(db_session, backorder_id) if m.template != "backorder_notice"]
        assert len(notices) == 1, notices
        assert notices[0].context["eta"] == "2026-12-25"


def test_sms_stop_then_a_notice_goes_by_email_only(db_session: Session, settings: customer_journey.Settings,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    contacts.opt_out(db_session, "sms", "+12015550123", "STOP")
    _stock(db_session, SKU, 0)
    [backorder_id] = _order(db_session, 4001)
    follow_ups = customer_journey.offer(db_session, backorder_id, settings, now=NOW)
    rows = {m.channel: m for m in _messages(db_session, backorder_id)}
    assert rows["email"].state == "pending" and rows["sms"].state == "suppressed"
    assert "opted out" in (rows["sms"].last_error or "")
    assert [f for f in follow_ups if f[0] == customer_journey.DELIVER] == [(customer_journey.DELIVER, (rows["email"].id,))]


def test_sms_in_quiet_hours_waits_for_the_morning(db_session: Session, settings: customer_journey.Settings,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    _stock(db_session, SKU, 0)
    [backorder_id] = _order(db_session, 4002)
    late = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)  # 22:30 in New York
    customer_journey.offer(db_session, backorder_id, settings, now=late)
    sms = next(m for m in _messages(db_session, backorder_id) if m.channel == "sms")
    assert sms.not_before == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


def test_only_what_is_left_after_backorders_is_sellable(db_session: Session, settings: customer_journey.Settings,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.stock.propagation import plan

    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    _stock(db_session, SKU, 0)
    ids = [b for n in range(2) for b in _order(db_session, 6000 + n, minutes=n)]
    for backorder_id in ids:
        customer_journey.offer(db_session, backorder_id, settings, now=NOW)
    _stock(db_session, SKU, 5, minutes=30)
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))
    shop = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    from domain.stock.levels import learn_listings

    learn_listings(db_session, shop, [StockRecord(external_id="v1", sku=SKU, inventory_item_id="i1")])  # type: ignore[arg-type]
    follow_ups = customer_journey.fill(db_session, sku_id, settings, now=NOW + timedelta(hours=1))  # type: ignore[arg-type]
    assert (customer_journey.PUSH_DUE, (sku_id, shop)) in follow_ups
    assert db_session.scalar(text("SELECT due_at FROM channel_pushes WHERE sku_id = :sku AND store_id = :shop"),
                             {"sku": sku_id, "shop": shop}) is not None, "the push is a row in the fill's transaction"
    [push] = plan(db_session, sku_id, shop)  # type: ignore[arg-type]
    assert push.available == 3, "5 arrived, 2 went to the waiting customers"


def test_two_channels_never_both_get_the_last_unit(db_session: Session, catalog: Any) -> None:
    """Orders for the last unit from two stores at the same instant, many times: one allocation each."""
    shop = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    woo = db_session.scalar(select(Store.id).where(Store.key == "woo-outlet"))
    codes = list(db_session.scalars(select(Sku.code).order_by(Sku.code)))[:20]
    for code in codes:
        _stock(db_session, code, 1)
    db_session.commit()
    errors: list[BaseException] = []

    def buy(store_id: int, code: str, number: str, barrier: threading.Barrier) -> None:
        try:
            barrier.wait()
            with get_sessionmaker()() as session, session.begin():
                record_orders(session, store_id, [OrderRecord(
                    external_id=number, number=number, placed_at=NOW, email="a@example.com", phone=None,
                    customer_name="A", lines=[OrderLineRecord(external_id=f"{number}-1", sku=code, quantity=1)])])
        except BaseException as exc:
            errors.append(exc)

    for round_ in range(5):
        for code in codes:
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=buy, args=(store, code, f"{round_}-{code}-{store}", barrier))
                       for store in (shop, woo)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        db_session.expire_all()
    assert errors == []
    from domain.core.models import OrderLine

    allocated = dict(db_session.execute(select(Sku.code, func.sum(OrderLine.allocated_qty))
                                        .join(OrderLine, OrderLine.sku_id == Sku.id).group_by(Sku.code)).all())
    assert all(allocated[code] == 1 for code in codes), allocated


def test_a_backorder_whose_offer_was_lost_is_found_by_the_sweeper(db_session: Session, settings: customer_journey.Settings,
                                                                   catalog: Any) -> None:
    from domain.core.models import DeadLetter

    _stock(db_session, SKU, 0)
    [lost] = _order(db_session, 8101)
    [dead] = _order(db_session, 8102)
    [offered] = _order(db_session, 8103)
    db_session.add(DeadLetter(task_name="tasks.followups.offer", task_id="t-8102", args=[dead], error="boom"))
    customer_journey.offer(db_session, offered, settings)
    db_session.commit()
    now = db_session.get(Backorder, lost).created_at
    assert customer_journey.unoffered(db_session, now + timedelta(minutes=1), timedelta(minutes=2), offer_task=OFFER_TASK) == []
    # Two minutes on: the open one is found; the offered one is not; the dead-lettered one waits for redrive.
    assert customer_journey.unoffered(db_session, now + timedelta(minutes=3), timedelta(minutes=2), offer_task=OFFER_TASK) == [lost]
    customer_journey.offer(db_session, lost, settings)
    assert customer_journey.unoffered(db_session, now + timedelta(minutes=3), timedelta(minutes=2), offer_task=OFFER_TASK) == []
    assert customer_journey.offer(db_session, lost, settings) == [], "offer twice: the second does nothing"


def test_a_deadline_that_beats_its_overdue_reminder_sends_the_reminder_and_moves_itself(
        db_session: Session, settings: customer_journey.Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every process was down past both timers and a sweeper took the deadline first: silence
    cannot count yet, so the reminder goes now and the deadline moves; nothing goes twice."""
    _stock(db_session, SKU, 0)
    [backorder_id] = _order(db_session, 1031)
    monkeypatch.setattr("domain.core.env_settings.current", lambda: settings)
    customer_journey.offer(db_session, backorder_id, settings, now=NOW)
    due = timers.claim_due(db_session, now=NOW + timedelta(days=6))
    deadline = next(t for t in due if t.kind == customer_journey.DEADLINE)
    reminder = next(t for t in due if t.kind == customer_journey.REMINDER)
    timers.fire(db_session, deadline, now=NOW + timedelta(days=6))
    backorder = db_session.get(Backorder, backorder_id)
    assert backorder.state == "notified" and backorder.reminded_at is not None, "not accepted on silence yet"
    assert backorder.deadline_at > backorder.reminded_at
    timers.fire(db_session, reminder, now=NOW + timedelta(days=6))  # the other sweeper's copy: nothing
    reminders = _messages(db_session, backorder_id, "backorder_reminder")
    assert sorted(m.channel for m in reminders) == ["email", "sms"], "one reminder, on each channel"
    db_session.commit()
    later = backorder.deadline_at + timedelta(seconds=1)
    _fire_due(db_session, later)
    assert _state(db_session, backorder_id) == "accepted_wait"
    assert len(_messages(db_session, backorder_id, "backorder_reminder")) == 2
