"""The drain detects in its own transaction: a stock-out webhook's alert is queued for delivery
by the drain itself (one task hop), and a detection that fails there falls back to the task."""
from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.types import StockRecord
from domain.core.business_config import BusinessConfig
from domain.core.models import InboxEvent, OutboxMessage, Sku, SkuTransition, Store
from domain.stock import webhook_inbox
from domain.stock.apply_events import stored_payload
from domain.stock.levels import learn_listings

ITEM = "424242"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """What the tasks queue after their commits, instead of the broker (nothing consumes it here)."""
    queued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr("tasks.base.send_all", lambda messages: queued.extend(
        (task.name, tuple(args)) for task, args, _options in messages))
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_test")
    monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", "unused")
    return queued


def _sold_out_webhook(session: Session, catalog: BusinessConfig) -> int:
    """A stock-out webhook for a SKU with a threshold, stored as the receiver stores it."""
    code = next(s.code for s in catalog.skus if s.threshold > 0)
    shop = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    learn_listings(session, shop, [StockRecord(external_id="v1", sku=code, inventory_item_id=ITEM)])  # type: ignore[arg-type]
    body = json.dumps({"inventory_item_id": int(ITEM), "location_id": 655441491, "available": 0,
                       "updated_at": "2026-11-25T10:00:00-05:00"}).encode()
    webhook_inbox.accept(session, source="shopify-main", dedupe_key="sold-out", kind="inventory_update",
                 topic="inventory_levels/update", occurred_at=None,
                 payload=stored_payload({"X-Shopify-Topic": "inventory_levels/update"}, body))
    session.commit()
    return int(session.scalar(select(Sku.id).where(Sku.code == code)))  # type: ignore[arg-type]


def test_the_drain_alerts_in_its_own_transaction(db_session: Session, catalog: BusinessConfig,
                                                 sent: list[tuple[str, tuple[Any, ...]]]) -> None:
    from tasks.inbound import drain

    sku_id = _sold_out_webhook(db_session, catalog)
    drain.apply(args=["shopify-main"], throw=True)
    db_session.expire_all()
    [transition] = db_session.scalars(select(SkuTransition)).all()
    assert (transition.sku_id, transition.to_state) == (sku_id, "BACKORDER")
    outbox_ids = db_session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
    assert outbox_ids, "the alert's messages are stored with the transition"
    names = [name for name, _ in sent]
    assert "tasks.stock.evaluate" not in names, "no separate detection hop"
    assert [args[0] for name, args in sent if name == "tasks.notify.deliver"] == list(outbox_ids)
    assert names.index("tasks.notify.deliver") < names.index("tasks.channels.push_store"), "staff hear first"
    assert db_session.scalar(select(InboxEvent.state)) == "done"


def test_a_detection_failing_in_the_drain_is_queued_as_the_task(db_session: Session, catalog: BusinessConfig,
                                                                sent: list[tuple[str, tuple[Any, ...]]],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks import inbound
    from tasks.stock import evaluate

    def broken(uow: Any, sku_ids: list[int]) -> int:
        uow.session.add(SkuTransition(sku_id=sku_ids[0], from_state="IN_STOCK", to_state="BROKEN"))
        uow.session.flush()
        uow.enqueue(evaluate, [0])
        raise RuntimeError("detection broke")

    monkeypatch.setattr(inbound, "detect", broken)
    sku_id = _sold_out_webhook(db_session, catalog)
    inbound.drain.apply(args=["shopify-main"], throw=True)
    db_session.expire_all()
    assert db_session.scalar(select(InboxEvent.state)) == "done", "the batch is applied all the same"
    assert db_session.scalar(select(func.count()).select_from(SkuTransition)) == 0, "the savepoint rolled back"
    assert sent == [("tasks.stock.evaluate", ([sku_id],))], "only the fallback task, not the failed step's"
    monkeypatch.undo()
    sent.clear()
    monkeypatch.setattr("tasks.base.send_all", lambda messages: sent.extend(
        (task.name, tuple(args)) for task, args, _options in messages))
    evaluate.apply(args=[[sku_id]], throw=True)
    db_session.expire_all()
    assert db_session.scalar(select(SkuTransition.to_state)) == "BACKORDER"
