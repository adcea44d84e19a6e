"""Side effects of a decision are rows (``domain.core.effects``): detection after a poll or a receipt,
the restock fill and purchase planning survive a message the broker lost, the sweeper finds
them, and running one twice changes nothing. Real PostgreSQL; the broker is cut off by replacing
the after-commit send, exactly where a lost message is lost."""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

import tasks.base
import tasks.channels  # noqa: F401  (the tasks the swept messages name are registered)
import tasks.followups  # noqa: F401
import tasks.purchasing  # noqa: F401
from domain.core import effects
from domain.purchasing import purchase_orders
from flows import poll as sync
from domain.core.clock import utcnow
from domain.core.db import get_sessionmaker
from domain.core.models import AuditLog, Backorder, OrderLine, OutboxMessage, PurchaseOrderLine, Sku, Store
from sandbox.server import SandboxServer
from tests.integration.journey.test_journey import SKU, _order, _stock
from tests.purchase_orders import approved_po

Messages = list[tuple[Any, tuple[Any, ...], dict[str, Any]]]


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Messages:
    """Messages sent after commit are kept here and never reach a broker: run them by hand."""
    sent: Messages = []
    monkeypatch.setattr(tasks.base, "send_all", lambda messages: sent.extend(messages))
    return sent


def _rows(session: Session) -> list[tuple[str, int]]:
    session.expire_all()
    return [tuple(row) for row in session.execute(  # type: ignore[misc]
        text("SELECT kind, sku_id FROM pending_effects ORDER BY kind, sku_id")).all()]


def _waiting_then_restocked(session: Session) -> tuple[int, int]:
    """A customer waits for the SKU at zero; then one unit arrives. Returns (SKU id, backorder id)."""
    _stock(session, SKU, 0)
    [backorder_id] = _order(session, 5001)
    _stock(session, SKU, 1, minutes=10)
    session.commit()
    return session.scalar(select(Sku.id).where(Sku.code == SKU)), backorder_id  # type: ignore[return-value]


def test_a_fill_and_planning_whose_messages_were_lost_are_swept_and_done_once(
        db_session: Session, catalog: Any, broker: Messages, monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.effects import sweep
    from tasks.stock import evaluate

    sku_id, backorder_id = _waiting_then_restocked(db_session)
    evaluate.apply(args=[[sku_id]], throw=True)
    assert _rows(db_session) == [("fill", sku_id), ("plan", sku_id)], "recorded with the detection"
    lost = [task.name for task, _args, _options in broker]
    assert "tasks.followups.fill" in lost and "tasks.purchasing.plan_for_skus" in lost
    broker.clear()  # the broker restarts empty: both messages are gone
    assert db_session.get(Backorder, backorder_id).state == "open"  # type: ignore[union-attr]
    from domain.status import snapshot

    assert snapshot(db_session)["pending_effects"] == {"fill": {"due": 1, "in_flight": 0, "failing": 0},
                                                       "plan": {"due": 1, "in_flight": 0, "failing": 0}}

    assert sweep.apply().get() == 0, "nothing is stranded before EFFECT_SWEEP_AFTER_S"
    monkeypatch.setenv("EFFECT_SWEEP_AFTER_S", "0")
    assert sweep.apply().get() == 2
    resent = list(broker)
    assert sorted(task.name for task, _a, _o in resent) == ["tasks.followups.fill", "tasks.purchasing.plan_for_skus"]
    broker.clear()
    for task, args, _options in resent + resent:  # the sweeper's copy, then the original delivered late
        task.apply(args=args, throw=True)

    assert _rows(db_session) == [], "deleted by the runs that did the work"
    backorder = db_session.get(Backorder, backorder_id)
    assert backorder is not None and backorder.state == "filled"
    line = db_session.get(OrderLine, backorder.order_line_id)
    assert line is not None and (line.allocated_qty, line.backordered_qty) == (1, 0), "filled once"
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "backorder.transition", AuditLog.subject_id == str(backorder_id),
        AuditLog.data["to_state"].astext == "filled")) == 1
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template == "backorder_ships", OutboxMessage.channel == "email")) == 1
    assert db_session.scalar(select(func.count()).select_from(PurchaseOrderLine).where(
        PurchaseOrderLine.sku_id == sku_id)) == 1, "planned once"
    pushes_due = db_session.execute(text("SELECT count(*) FROM channel_pushes WHERE sku_id = :sku AND due_at IS NOT NULL"),
                                    {"sku": sku_id}).scalar_one()
    assert pushes_due >= 1, "the fill's pushes are rows of the fill's transaction"
    assert [task.name for task, _a, _o in broker].count("tasks.channels.push_due") == pushes_due


def test_rows_coalesce_and_a_change_during_a_run_sends_one_more(db_session: Session, catalog: Any) -> None:
    ids = list(db_session.scalars(select(Sku.id).order_by(Sku.id).limit(3)))
    now = utcnow()
    effects.record(db_session, effects.PLAN, ids, now)
    effects.record(db_session, effects.PLAN, ids[:2], now + timedelta(seconds=5))
    db_session.commit()
    assert _rows(db_session) == [("plan", sku_id) for sku_id in ids], "one row per kind × SKU"

    first = effects.claim(db_session, effects.PLAN, ids, now)
    db_session.commit()
    assert first.sku_ids == ids and first.unrecorded == []
    second = effects.claim(db_session, effects.PLAN, ids + [999_999], now)
    assert second.work == [999_999], "rows in flight are left to their run; an id without a row is the caller's"
    db_session.rollback()

    effects.record(db_session, effects.PLAN, [ids[0]], now)  # a decision while the run works
    db_session.commit()
    assert effects.done(db_session, first) == [ids[0]], "the changed SKU is run once more"
    db_session.commit()
    assert _rows(db_session) == [("plan", ids[0])]

    again = effects.claim(db_session, effects.PLAN, [ids[0]], now)
    db_session.commit()
    effects.release(db_session, again, now, "RuntimeError: boom")
    db_session.commit()
    assert effects.claim(db_session, effects.PLAN, [ids[0]], now).sku_ids == [ids[0]], "a failed run gives it back"
    db_session.commit()
    assert effects.stranded(db_session, now + timedelta(seconds=1)) == {}, "its lease still holds"
    assert effects.stranded(db_session, now + effects.LEASE + timedelta(seconds=1)) == {"plan": [ids[0]]}, \
        "a run that died holding its lease is swept"


def test_a_receipt_records_its_detection_in_its_own_transaction(db_session: Session, catalog: Any,
                                                                broker: Messages) -> None:
    from tasks.stock import evaluate

    po_id = approved_po(db_session)
    db_session.execute(text("UPDATE purchase_orders SET state = 'sent' WHERE id = :id"), {"id": po_id})
    db_session.commit()
    result = purchase_orders.receive(db_session, po_id, None, utcnow())
    db_session.commit()
    assert _rows(db_session) == [("evaluate", sku_id) for sku_id in sorted(result.sku_ids)]
    evaluate.apply(args=[sorted(result.sku_ids)], throw=True)
    assert {kind for kind, _sku in _rows(db_session)} == {"plan"}, "detection done; planning owed in its place"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


def test_a_poll_records_detection_with_each_stored_page(db_session: Session, catalog: Any,
                                                        sandbox: SandboxServer, broker: Messages) -> None:
    from connectors.registry import build_connector
    from connectors.types import ConnectorConfig
    from tasks.stock import evaluate

    codes = list(db_session.scalars(select(Sku.code).order_by(Sku.code)))
    base = f"{sandbox.base_url}/shopify/effects-{time.monotonic_ns()}"
    requests.post(f"{base}/_admin/seed", json={"reset": True, "items": [
        {"sku": code, "available": 7} for code in codes]}, timeout=10).raise_for_status()
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    db_session.execute(update(Store).where(Store.id == store_id).values(base_url=base))
    db_session.commit()
    connector = build_connector("shopify", ConnectorConfig(
        store_key="shopify-main", base_url=base, credentials={"access_token": "shpat_sandbox"},
        options={"page_size": 4, "location_ids": ["655441491"]}))
    report = sync.poll(get_sessionmaker(), connector, store_id, "test-owner", full=True,  # type: ignore[arg-type]
                       stock_cursor=None, order_cursor=None, on_changed=lambda _ids: None)  # every message lost
    changed = sorted(report.changed_sku_ids)
    assert len(changed) == len(codes)
    assert _rows(db_session) == [("evaluate", sku_id) for sku_id in changed]
    evaluate.apply(args=[changed], throw=True)
    assert {kind for kind, _sku in _rows(db_session)} == {"plan"}
