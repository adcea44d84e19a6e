"""Webhooks that name ids only (BigCommerce): a batch leaves them pending, they are fetched after
it commits, and the next claim applies what the store holds; a fetch refused for good quarantines
its event with the reason, a resource deleted since is applied as nothing."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import webhook_records
from connectors.bigcommerce import SECRET_HEADER
from connectors.registry import build_connector
from connectors.types import ConnectorConfig
from domain.core.models import InboxEvent, Sku, StockLevel, Store
from domain.stock import webhook_inbox
from domain.stock.apply_events import stored_payload
from flows.inbound import apply_events, fetch_named
from sandbox.server import SandboxServer

SKU = "FUT-FRM-OAK-FULL"
STORE = "bigcommerce-trade"


@pytest.fixture
def store(db_session: Session, catalog: object) -> Iterator[dict[str, Any]]:
    from fastapi import FastAPI

    import sandbox.bigcommerce
    import sandbox.control

    app = FastAPI()
    for module in (sandbox.control, sandbox.bigcommerce):
        module.install(app)
    with SandboxServer(app=app) as server:
        root = f"{server.base_url}/bigcommerce/thin"
        requests.post(f"{root}/_admin/seed", json={"items": [{"sku": SKU, "inventory_level": 7}]}, timeout=10
                      ).raise_for_status()
        requests.post(f"{root}/_admin/webhooks", json={"address": "http://127.0.0.1:9/unused", "headers": {
            SECRET_HEADER: "s"}, "topics": ["store/product/inventory/updated"]}, timeout=10).raise_for_status()
        yield {"root": root, "id": db_session.scalar(select(Store.id).where(Store.key == STORE))}


def connector(root: str, token: str = "bc_sandbox_token") -> Any:
    return build_connector("bigcommerce", ConnectorConfig(store_key=STORE, base_url=root, webhook_secret="s",
                                                          credentials={"access_token": token}))


def receive(db_session: Session, root: str, quantity: int) -> None:
    """A control-panel change, stored as the web edge stores its delivery."""
    [delivery] = requests.post(f"{root}/_admin/set_stock", json={"sku": SKU, "quantity": quantity}, timeout=10
                               ).json()["webhooks"]
    body = delivery["body"].encode()
    event = connector(root).parse_webhook(delivery["headers"], body)
    assert event.stock == [] and event.resource_ids, "ids only"
    payload = stored_payload(delivery["headers"], body)
    payload[webhook_records.PAYLOAD_KEY] = webhook_records.dump(event)
    webhook_inbox.accept(db_session, source=STORE, dedupe_key=event.dedupe_key, kind=event.kind, topic=event.topic,
                         payload=payload, occurred_at=event.occurred_at)


def figure(db_session: Session) -> int | None:
    db_session.expire_all()
    return db_session.scalar(select(StockLevel.available).join(Sku, Sku.id == StockLevel.sku_id)
                             .where(Sku.code == SKU, StockLevel.store_id == select(Store.id).where(
                                 Store.key == STORE).scalar_subquery()))


def test_thin_events_wait_for_their_fetch_and_apply_what_the_store_holds(db_session: Session,
                                                                         store: dict[str, Any]) -> None:
    root, conn = store["root"], connector(store["root"])
    receive(db_session, root, 3)
    receive(db_session, root, 0)
    db_session.commit()

    first = apply_events(db_session, store["id"], conn, webhook_inbox.claim_pending(db_session, STORE))
    db_session.commit()
    assert len(first.deferred) == 2 and first.done == 0 and figure(db_session) is None
    assert {e.state for e in db_session.scalars(select(InboxEvent))} == {"pending"}, "left as they were"

    fetched = fetch_named(conn, first.deferred)  # no transaction open: the platform is asked now
    second = apply_events(db_session, store["id"], conn, webhook_inbox.claim_pending(db_session, STORE), fetched)
    db_session.commit()

    assert second.done == 2 and second.deferred == [] and figure(db_session) == 0, "the store's figure now"
    assert {e.state for e in db_session.scalars(select(InboxEvent))} == {"done"}


def test_a_fetch_refused_for_good_quarantines_its_event_with_the_reason(db_session: Session,
                                                                       store: dict[str, Any]) -> None:
    root = store["root"]
    receive(db_session, root, 2)
    db_session.commit()
    revoked = connector(root, token="revoked")
    first = apply_events(db_session, store["id"], revoked, webhook_inbox.claim_pending(db_session, STORE))
    db_session.commit()

    fetched = fetch_named(revoked, first.deferred)
    result = apply_events(db_session, store["id"], revoked, webhook_inbox.claim_pending(db_session, STORE), fetched)
    db_session.commit()

    [(_, reason)] = result.quarantined
    assert "could not fetch product:" in reason and "401" in reason
    assert [e.state for e in db_session.scalars(select(InboxEvent))] == ["quarantined"]


def test_a_product_deleted_since_is_applied_as_nothing(db_session: Session, store: dict[str, Any]) -> None:
    root, conn = store["root"], connector(store["root"])
    receive(db_session, root, 5)
    db_session.commit()
    requests.post(f"{root}/_admin/seed", json={"items": []}, timeout=10).raise_for_status()  # the product is gone
    first = apply_events(db_session, store["id"], conn, webhook_inbox.claim_pending(db_session, STORE))
    db_session.commit()

    fetched = fetch_named(conn, first.deferred)
    result = apply_events(db_session, store["id"], conn, webhook_inbox.claim_pending(db_session, STORE), fetched)
    db_session.commit()

    gone = fetched[first.deferred[0].event.id]
    assert not isinstance(gone, str) and gone.stock == [] and gone.resource_ids[0].startswith("product:")
    assert result.done == 1 and result.quarantined == [] and figure(db_session) is None
