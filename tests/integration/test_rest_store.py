"""A ``rest`` store driven end to end from its TOML description alone, against the warehouse
stand-in over real HTTP: ``backorders config apply``, a full poll by the real worker, an
incremental poll that sends the saved cursor and survives a 429, the write-back reaching the
stand-in, and signed webhooks accepted (a badly signed one refused) by the product's web app."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import InboxEvent, Location, Sku, StockLevel, Store
from sandbox import control, warehouse
from sandbox.server import SandboxServer
from tests.conftest import wait_for
from workers.cli import main

TOKEN = "wh_sandbox_token"
SECRET = "wh-webhook-secret"

STORE_TOML = """
[business]
name = "Futon Loft"
timezone = "America/New_York"

[[locations]]
key = "warehouse"

[[locations]]
key = "showroom"

[[stores]]
key = "warehouse-app"
platform = "rest"
name = "Warehouse app"
base_url = "{base_url}"
credentials = {{ token = "WH_APP_TOKEN" }}
webhook_secret_env = "WH_APP_WEBHOOK_SECRET"
poll_interval = "1h"
locations = {{ "main" = "warehouse", "front" = "showroom" }}

[stores.options]
buffer_floor = 1

[stores.options.auth]
scheme = "bearer"
credential = "token"

[stores.options.stock]
path = "stock"
pagination = {{ style = "page_number", page_size = 2, total_pages_header = "X-Total-Pages" }}
cursor = {{ field = "updated_at", param = "updated_since" }}
fields = {{ external_id = "item_id", sku = "sku", location = "location.code", available = "quantity.available", on_hand = "quantity.on_hand" }}

[stores.options.write]
method = "PUT"
path = "items/{{external_id}}/stock"
body = {{ location = "{{location}}", quantity = "{{available}}", allow_backorder = "{{backorder}}" }}

[stores.options.webhooks]
signature_header = "X-Warehouse-Signature"
encoding = "hex"
prefix = "sha256="
topic_header = "X-Warehouse-Topic"
id_header = "X-Warehouse-Delivery"
records = "data"
topics = {{ "stock.updated" = "inventory_update" }}

[[skus]]
code = "FUT-A"
threshold = 2

[[skus]]
code = "FUT-B"
threshold = 2
"""


@pytest.fixture
def stand_in() -> Iterator[str]:
    app = FastAPI()
    control.install(app)
    warehouse.install(app)
    with SandboxServer(app=app) as server:
        yield f"{server.base_url}/warehouse/wh-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def web(services: dict[str, str]) -> Iterator[str]:
    from workers import webhook_stores
    from workers.web import create_app

    webhook_stores.forget()
    with SandboxServer(app=create_app(), health_path="/readyz") as server:
        yield server.base_url
    webhook_stores.forget()


def _admin(root: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = (requests.post(f"{root}/_admin/{path}", json=body, timeout=10) if body is not None
                else requests.get(f"{root}/_admin/{path}", timeout=10))
    response.raise_for_status()
    return response.json()


def _levels(session: Session) -> dict[tuple[str, str], int]:
    session.expire_all()
    rows = session.execute(select(Sku.code, Location.key, StockLevel.available)
                           .join(Sku, Sku.id == StockLevel.sku_id).join(Location, Location.id == StockLevel.location_id))
    return {(code, location): available for code, location, available in rows}


def test_a_rest_store_polls_writes_back_and_takes_webhooks_from_toml_alone(
        stand_in: str, web: str, db_session: Session, celery_worker: object, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.core.env_settings import get_settings
    from tasks.polling import poll_store

    path = tmp_path / "warehouse.toml"
    path.write_text(STORE_TOML.format(base_url=f"{stand_in}/api/v1"))
    for key, value in {"WH_APP_TOKEN": TOKEN, "WH_APP_WEBHOOK_SECRET": SECRET, "BACKORDERS_CONFIG": str(path)}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    applied = CliRunner().invoke(main, ["config", "apply", str(path)])
    assert applied.exit_code == 0, applied.output
    store = db_session.scalars(select(Store).where(Store.key == "warehouse-app")).one()

    _admin(stand_in, "seed", {"locations": ["main", "front"], "items": [
        {"sku": "FUT-A", "levels": {"main": 10, "front": 0}}, {"sku": "FUT-B", "levels": {"main": 6, "front": 3}}]})
    _admin(stand_in, "webhooks", {"address": f"{web}/webhooks/warehouse-app", "secret": SECRET,
                                  "topics": ["stock.updated"]})

    # a full poll by the real worker: every item × location stored, the cursor saved
    poll_store.delay(store.id, True)
    wait_for(lambda: db_session.scalar(select(Store.last_full_sync_at).where(Store.id == store.id)) or
             db_session.expire_all(), timeout_s=60)
    assert _levels(db_session) == {("FUT-A", "warehouse"): 10, ("FUT-A", "showroom"): 0,
                                   ("FUT-B", "warehouse"): 6, ("FUT-B", "showroom"): 3}
    db_session.expire_all()
    cursor = db_session.scalar(select(Store.stock_cursor).where(Store.id == store.id))
    assert cursor and [r["query"].get("page") for r in _admin(stand_in, "requests")["requests"]
                       if r["method"] == "GET" and r["path"].endswith("/stock")] == ["1", "2"]

    # the write-back: detection after the poll schedules pushes, and the push task writes each
    # figure less the store's one unit of buffer floor (taken at its fullest location) to the stand-in
    def written(sku: str) -> list[dict[str, Any]]:
        return [w["body"] for w in _admin(stand_in, "writes")["writes"] if w["sku"] == sku]

    wait_for(lambda: {"location": "main", "quantity": 9, "allow_backorder": False} in written("FUT-A")
             and {"location": "main", "quantity": 5, "allow_backorder": False} in written("FUT-B"), timeout_s=30)

    # an incremental poll: the saved cursor travels as updated_since, a 429 is waited out
    _admin(stand_in, "clock", {"advance_s": 120})
    _admin(stand_in, "set_stock", {"sku": "FUT-B", "location": "main", "available": 1, "notify": False})
    _admin(stand_in, "faults", {"status": 429, "retry_after": "1", "path_contains": "/stock", "count": 1})
    seen = len(_admin(stand_in, "requests")["requests"])
    poll_store.delay(store.id, False)
    # a store we write to counts down from our figure: its 1 is 1 + the unit we withheld there
    wait_for(lambda: _levels(db_session).get(("FUT-B", "warehouse")) == 2, timeout_s=60)
    polls = [r for r in _admin(stand_in, "requests")["requests"][seen:] if r["method"] == "GET"]
    assert [(r["status"], r["query"].get("updated_since")) for r in polls][:2] == [(429, cursor), (200, cursor)]
    wait_for(lambda: (db_session.expire_all() or
                      db_session.scalar(select(Store.stock_cursor).where(Store.id == store.id))) > cursor)

    # webhooks: the stand-in's signed delivery is accepted and applied; one signed with another
    # secret is refused with 401 and stores nothing
    _admin(stand_in, "webhooks", {"address": f"{web}/webhooks/warehouse-app", "secret": "not-the-secret",
                                  "topics": ["stock.updated"]})
    before = db_session.scalar(select(InboxEvent.id).order_by(InboxEvent.id.desc()).limit(1)) or 0
    sale = _admin(stand_in, "set_stock", {"sku": "FUT-A", "location": "front", "available": 4})
    assert [hook["status"] for hook in sale["webhooks"]] == [200, 401]
    wait_for(lambda: _levels(db_session).get(("FUT-A", "showroom")) == 4, timeout_s=30)
    db_session.expire_all()
    new_events = db_session.scalars(select(InboxEvent).where(InboxEvent.id > before)).all()
    assert [e.source for e in new_events if e.topic == "stock.updated"] and all(
        e.source == "warehouse-app" for e in new_events)
    assert len({e.dedupe_key for e in new_events}) == len(new_events)
