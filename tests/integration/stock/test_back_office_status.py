"""The back office reflects the backorder status (seed §1.3): a SKU that goes into BACKORDER on
SAP Business One's own figures is marked in SAP's item field, and unmarked when it is restocked;
written once per change of status, not at every change of figures, and held back while the store
is read-only. Real PostgreSQL, the SAP stand-in over HTTP, the tasks applied in turn."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import AuditLog, BlockedWrite, ChannelPush, Location, Sku, Store, StoreLocation
from sandbox.sapb1 import DEFAULTS
from sandbox.server import SandboxServer

CODE = "FUT-FRM-OAK-FULL"
ENV = {"company_db": "SAP_COMPANY_DB", "username": "SAP_USERNAME", "password": "SAP_PASSWORD"}


@pytest.fixture
def sap(monkeypatch: pytest.MonkeyPatch, catalog: object, db_session: Session, celery_app: object
        ) -> Iterator[dict[str, Any]]:
    """An SAP company holding the SKU at 0 in warehouse 01 (our warehouse), keeping our status
    (``celery_app``: the product app, which sets up where the tasks keep their metrics)."""
    with SandboxServer() as server:
        for name, env in ENV.items():
            monkeypatch.setenv(env, DEFAULTS[name])
        root = f"{server.base_url}/sap_b1/futon"
        requests.post(f"{root}/_admin/seed", timeout=10, json={
            "items": [{"sku": CODE, "warehouses": {"01": {"in_stock": 0}}}],
            "item_fields": ["BackorderStatus"]}).raise_for_status()
        store = Store(key="sap-erp", platform="sap_b1", name="SAP Business One", base_url=root, sells=False,
                      credentials_env=ENV, options={"backorder_status": True})
        db_session.add(store)
        db_session.flush()
        warehouse = db_session.scalar(select(Location.id).where(Location.key == "warehouse"))
        db_session.add(StoreLocation(store_id=store.id, location_id=warehouse, external_id="01"))
        db_session.commit()
        yield {"root": root, "store_id": store.id,
               "sku_id": db_session.scalar(select(Sku.id).where(Sku.code == CODE))}


def poll_and_push(sap: dict[str, Any], full: bool) -> None:
    """What the workers run after a poll: detection for the SKU, then the store's due pushes."""
    from tasks.channels import push_store
    from tasks.polling import poll_store
    from tasks.stock import evaluate

    poll_store.apply(args=[sap["store_id"], full], throw=True)
    evaluate.apply(args=[[sap["sku_id"]]], throw=True)
    push_store.apply(args=[sap["store_id"]], throw=True)


def field(sap: dict[str, Any]) -> Any:
    return requests.get(f"{sap['root']}/_admin/state/items", params={"skus": CODE},
                        timeout=5).json()["items"][0]["U_BackorderStatus"]


def patches(sap: dict[str, Any]) -> list[dict[str, Any]]:
    return requests.get(f"{sap['root']}/_admin/requests", params={"method": "PATCH"}, timeout=5).json()["requests"]


def test_the_status_follows_the_sku_into_and_out_of_backorder(sap: dict[str, Any], db_session: Session,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSH_DEBOUNCE_S", "0")
    poll_and_push(sap, full=True)
    db_session.expire_all()
    assert db_session.get(Sku, sap["sku_id"]).state == "BACKORDER"
    assert field(sap) == "Y" and len(patches(sap)) == 1
    row = db_session.scalar(select(ChannelPush).where(ChannelPush.store_id == sap["store_id"]))
    assert row is not None and row.last_backorder is True and row.due_at is None
    written = db_session.scalar(select(AuditLog).where(AuditLog.action == "erp.backorder_status"))
    assert written is not None and written.data["request"] == {"U_BackorderStatus": "Y"}

    requests.post(f"{sap['root']}/_admin/set_stock", timeout=5,
                  json={"sku": CODE, "warehouse": "01", "in_stock": 1, "committed": 1}).raise_for_status()
    poll_and_push(sap, full=False)  # the figures moved, the status did not: nothing written
    assert len(patches(sap)) == 1

    requests.post(f"{sap['root']}/_admin/set_stock", timeout=5,
                  json={"sku": CODE, "warehouse": "01", "in_stock": 6}).raise_for_status()
    poll_and_push(sap, full=False)
    db_session.expire_all()
    assert db_session.get(Sku, sap["sku_id"]).state != "BACKORDER"
    assert field(sap) == "N" and len(patches(sap)) == 2


def test_a_read_only_back_office_is_not_written_until_it_is_switched_on(sap: dict[str, Any], db_session: Session,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSH_DEBOUNCE_S", "0")
    store = db_session.get(Store, sap["store_id"])
    store.read_only = True
    db_session.commit()
    poll_and_push(sap, full=True)
    db_session.expire_all()
    assert field(sap) is None and patches(sap) == []
    held = db_session.scalar(select(BlockedWrite).where(BlockedWrite.store_id == sap["store_id"]))
    assert held is not None and held.detail == {"backorder": True}
