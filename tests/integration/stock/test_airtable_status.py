"""Airtable as the back office that reflects the backorder status (seed §1.3): a SKU at 0 in the
inventory table goes into BACKORDER and its rows' status column says so; restocked, it says so
too; written once per change of status. Real PostgreSQL, the Airtable stand-in over HTTP."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Location, Sku, Store, StoreLocation
from sandbox.airtable import DEFAULT_TOKEN
from sandbox.server import SandboxServer

CODE = "FUT-FRM-OAK-FULL"
OPTIONS = {"base_id": "appSandboxBase001", "table": "Inventory", "backorder_status": True,
           "backorder_on": "Backordered", "backorder_off": "In stock",
           "fields": {"sku": "SKU", "quantity": "Quantity", "location": "Location",
                      "backorder_status": "Backorder status"}}


@pytest.fixture
def airtable(monkeypatch: pytest.MonkeyPatch, catalog: object, db_session: Session, celery_app: object
             ) -> Iterator[dict[str, Any]]:
    with SandboxServer() as server:
        monkeypatch.setenv("AT_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("PUSH_DEBOUNCE_S", "0")
        root = f"{server.base_url}/airtable/futon"
        requests.post(f"{root}/_admin/seed", timeout=10, json={"rows": [
            {"SKU": CODE, "Quantity": 0, "Location": "Newark"}]}).raise_for_status()
        # the tasks run back to back faster than a real base allows: the per-base limit is lifted so
        # the test does not sit out a 30-second penalty (tests/connectors/test_airtable.py tests it)
        requests.post(f"{root}/_admin/config", timeout=10, json={"per_second": 1000}).raise_for_status()
        store = Store(key="at-erp", platform="airtable", name="Airtable", base_url=root, sells=False,
                      credentials_env={"token": "AT_TOKEN"}, options=OPTIONS)
        db_session.add(store)
        db_session.flush()
        warehouse = db_session.scalar(select(Location.id).where(Location.key == "warehouse"))
        db_session.add(StoreLocation(store_id=store.id, location_id=warehouse, external_id="Newark"))
        db_session.commit()
        yield {"root": root, "store_id": store.id, "sku_id": db_session.scalar(select(Sku.id).where(Sku.code == CODE))}


def poll_and_push(env: dict[str, Any], full: bool) -> None:
    from tasks.channels import push_store
    from tasks.polling import poll_store
    from tasks.stock import evaluate

    poll_store.apply(args=[env["store_id"], full], throw=True)
    evaluate.apply(args=[[env["sku_id"]]], throw=True)
    push_store.apply(args=[env["store_id"]], throw=True)


def status(env: dict[str, Any]) -> Any:
    [row] = requests.get(f"{env['root']}/_admin/state/rows", timeout=5).json()["rows"]
    return row["fields"].get("Backorder status")


def patches(env: dict[str, Any]) -> list[dict[str, Any]]:
    return requests.get(f"{env['root']}/_admin/requests", params={"method": "PATCH"}, timeout=5).json()["requests"]


def test_the_status_column_follows_the_sku_into_and_out_of_backorder(airtable: dict[str, Any],
                                                                    db_session: Session) -> None:
    poll_and_push(airtable, full=True)
    db_session.expire_all()
    assert db_session.get(Sku, airtable["sku_id"]).state == "BACKORDER"
    assert status(airtable) == "Backordered" and len(patches(airtable)) == 1

    requests.post(f"{airtable['root']}/_admin/rows", timeout=5, json={"edits": [
        {"match": {"SKU": CODE}, "fields": {"Quantity": 6}}]}).raise_for_status()
    poll_and_push(airtable, full=True)
    db_session.expire_all()
    assert db_session.get(Sku, airtable["sku_id"]).state != "BACKORDER"
    assert status(airtable) == "In stock" and len(patches(airtable)) == 2
    poll_and_push(airtable, full=True)  # nothing moved: nothing written
    assert len(patches(airtable)) == 2
