"""Under a real worker, the drain's inline stages reach the event stream Flower reads."""
from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import StockRecord
from domain.core.business_config import BusinessConfig
from domain.core.models import InboxEvent, Store
from domain.stock import webhook_inbox
from domain.stock.apply_events import stored_payload
from domain.stock.levels import learn_listings
from tests.conftest import wait_for

ITEM = "424243"


def _sold_out_webhook(session: Session, catalog: BusinessConfig) -> None:
    code = next(s.code for s in catalog.skus if s.threshold > 0)
    shop = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    learn_listings(session, shop, [StockRecord(external_id="v1", sku=code, inventory_item_id=ITEM)])  # type: ignore[arg-type]
    body = json.dumps({"inventory_item_id": int(ITEM), "location_id": 655441491, "available": 0,
                       "updated_at": "2026-11-25T10:00:00-05:00"}).encode()
    webhook_inbox.accept(session, source="shopify-main", dedupe_key="stage-events", kind="inventory_update",
                 topic="inventory_levels/update", occurred_at=None,
                 payload=stored_payload({"X-Shopify-Topic": "inventory_levels/update"}, body))
    session.commit()


def test_the_drain_announces_detection_as_a_task_stage_event(celery_app: Any, celery_worker: Any, db_session: Session,
                                                             catalog: BusinessConfig,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.inbound import drain

    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_test")
    monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", "unused")
    seen: list[dict[str, Any]] = []
    listening = threading.Event()

    receivers: list[Any] = []

    def listen() -> None:
        with celery_app.connection_for_read() as connection:
            receiver = celery_app.events.Receiver(connection, handlers={"task-stage": seen.append})
            receiver.on_iteration = listening.set  # called once the event queue is bound: nothing sent is missed
            receivers.append(receiver)
            with contextlib.suppress(TimeoutError):  # the test stops the receiver; 30 s is only a bound
                receiver.capture(limit=None, timeout=30, wakeup=False)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert listening.wait(10)
    _sold_out_webhook(db_session, catalog)
    result = drain.delay("shopify-main")
    wait_for(lambda: [e for e in seen if e.get("uuid") == result.id], timeout_s=30)
    [event] = [e for e in seen if e.get("uuid") == result.id]
    assert (event["stage"], event["stage_task"], event["outcome"], event["count"]) == (
        "evaluate", "tasks.stock.evaluate", "done", 1)
    def inbox_state() -> str | None:  # the stage's event is sent inside the drain, before it commits
        db_session.expire_all()
        db_session.rollback()
        return db_session.scalar(select(InboxEvent.state))
    assert wait_for(lambda: inbox_state() == "done", timeout_s=30)
    receivers[0].should_stop = True
    thread.join(5)
