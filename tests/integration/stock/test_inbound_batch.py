"""A drained batch: all stock figures in one statement; an unknown item quarantines only its event."""
from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.registry import build_connector
from connectors.types import ConnectorConfig, StockRecord
from domain.stock import webhook_inbox
from domain.stock.apply_events import stored_payload
from flows.inbound import apply_events
from domain.core.models import InboxEvent, StockLevel, Store
from domain.stock.levels import learn_listings


def test_batch_applies_known_events_and_quarantines_the_unknown(db_session: Session, catalog: object) -> None:
    shop = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    learn_listings(db_session, shop, [StockRecord(external_id="v1", sku="MAT-HYB-KING", inventory_item_id="111"),  # type: ignore[arg-type]
                                      StockRecord(external_id="v2", sku="MAT-HYB-QUEEN", inventory_item_id="222")])
    for n, item in enumerate(["111", "222", "999"]):
        body = json.dumps({"inventory_item_id": int(item), "location_id": 655441491, "available": n,
                           "updated_at": "2026-11-25T10:00:00-05:00"}).encode()
        webhook_inbox.accept(db_session, source="shopify-main", dedupe_key=f"e{n}", kind="inventory_update",
                     topic="inventory_levels/update", occurred_at=None,
                     payload=stored_payload({"X-Shopify-Topic": "inventory_levels/update"}, body))
    connector = build_connector("shopify", ConnectorConfig(store_key="shopify-main", base_url="http://unused",
                                                           webhook_secret="unused"))
    events = webhook_inbox.claim_pending(db_session, "shopify-main")
    result = apply_events(db_session, shop, connector, events)  # type: ignore[arg-type]
    db_session.expire_all()
    states = dict(db_session.execute(select(InboxEvent.dedupe_key, InboxEvent.state)).all())
    assert states == {"e0": "done", "e1": "done", "e2": "quarantined"}
    assert result.done == 2 and len(result.changed_sku_ids) == 2
    assert "999" in result.quarantined[0][1]
    assert sorted(db_session.scalars(select(StockLevel.available))) == [0, 1]
