"""Zoho Inventory and Cin7 Core reflect the backorder status (seed §1.3) as SAP Business One does: a
SKU that goes into BACKORDER on the back office's own figures is marked — Zoho's item check box,
Cin7's product attribute — and unmarked once it is restocked, written once per change of status.
Real PostgreSQL, the stand-ins over HTTP, the tasks applied in turn."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.oauth2 import RefreshTokenGrant
from domain.core.models import Location, Sku, Store, StoreLocation
from sandbox.server import SandboxServer

CODE = "FUT-FRM-OAK-FULL"
ROOMY = {"bucket_size": 1000, "leak_rate": 1000}  # the stand-ins' limits are tested elsewhere


@dataclass
class BackOffice:
    root: str
    store_id: int
    sku_id: int
    restock: Callable[[int], None]
    status: Callable[[], Any]
    writes: Callable[[], int]


def zoho(root: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, str, Callable[[int], None], Callable[[], Any],
                                                                   Callable[[], int]]:
    from sandbox.zoho_inventory import DEFAULTS

    env = {"client_id": "Z_ID", "client_secret": "Z_SECRET", "refresh_token": "Z_REFRESH"}
    for name, var in env.items():
        monkeypatch.setenv(var, DEFAULTS[name])
    requests.post(f"{root}/_admin/seed", timeout=10, json={
        "locations": [{"id": "L1", "name": "Newark"}], "custom_fields": ["Backorder Status"],
        "items": [{"sku": CODE, "stock": {"L1": {"on_hand": 0}}}]}).raise_for_status()
    store = Store(key="zoho-erp", platform="zoho_inventory", name="Zoho Inventory", base_url=root, sells=False,
                  credentials_env=env, options={"backorder_status": True, "organization_id": DEFAULTS["organization_id"],
                                                "accounts_host": f"{root}/accounts", **ROOMY})

    def restock(on_hand: int) -> None:
        requests.post(f"{root}/_admin/set_stock", timeout=5, json={"sku": CODE, "location": "L1", "on_hand": on_hand}
                      ).raise_for_status()

    def status() -> Any:
        item = requests.get(f"{root}/_admin/state/items", params={"skus": CODE}, timeout=5).json()["items"][0]
        return item["custom_fields"][0]["value"]

    def writes() -> int:
        return len(requests.get(f"{root}/_admin/requests", params={"method": "PUT"}, timeout=5).json()["requests"])
    return store, "L1", restock, status, writes


def cin7(root: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, str, Callable[[int], None], Callable[[], Any],
                                                                   Callable[[], int]]:
    from sandbox.cin7_core import DEFAULTS

    env = {"account_id": "C_ACCOUNT", "application_key": "C_KEY"}
    for name, var in env.items():
        monkeypatch.setenv(var, DEFAULTS[name])
    requests.post(f"{root}/_admin/seed", timeout=10, json={"locations": ["Main Warehouse"], "products": [{"sku": CODE}]}
                  ).raise_for_status()
    store = Store(key="cin7-erp", platform="cin7_core", name="Cin7 Core", base_url=root, sells=False,
                  credentials_env=env, options={"backorder_status": True,
                                                "backorder_status_attribute": "AdditionalAttribute10", **ROOMY})

    def restock(on_hand: int) -> None:
        requests.post(f"{root}/_admin/set_stock", timeout=5, json={"sku": CODE, "location": "Main Warehouse",
                                                                   "on_hand": on_hand}).raise_for_status()

    def status() -> Any:
        return requests.get(f"{root}/_admin/state/items", params={"skus": CODE}, timeout=5
                            ).json()["items"][0]["AdditionalAttribute10"]

    def writes() -> int:
        return len(requests.get(f"{root}/_admin/requests", params={"method": "PUT"}, timeout=5).json()["requests"])
    return store, "Main Warehouse", restock, status, writes


@pytest.fixture(params=[("zoho_inventory", zoho, True, False), ("cin7_core", cin7, "Backordered", "")],
                ids=["zoho", "cin7"])
def office(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, catalog: object, db_session: Session,
           celery_app: object) -> Iterator[tuple[BackOffice, Any, Any]]:
    platform, make, marked, unmarked = request.param
    RefreshTokenGrant._kept.clear()
    with SandboxServer() as server:
        store, place, restock, status, writes = make(f"{server.base_url}/{platform}/futon", monkeypatch)
        db_session.add(store)
        db_session.flush()
        warehouse = db_session.scalar(select(Location.id).where(Location.key == "warehouse"))
        db_session.add(StoreLocation(store_id=store.id, location_id=warehouse, external_id=place))
        db_session.commit()
        yield (BackOffice(store.base_url, store.id, db_session.scalar(select(Sku.id).where(Sku.code == CODE)),
                          restock, status, writes), marked, unmarked)


def poll_and_push(office: BackOffice, full: bool) -> None:
    from tasks.channels import push_store
    from tasks.polling import poll_store
    from tasks.stock import evaluate

    poll_store.apply(args=[office.store_id, full], throw=True)
    evaluate.apply(args=[[office.sku_id]], throw=True)
    push_store.apply(args=[office.store_id], throw=True)


def test_the_status_follows_the_sku_into_and_out_of_backorder(office: tuple[BackOffice, Any, Any], db_session: Session,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    back_office, marked, unmarked = office
    monkeypatch.setenv("PUSH_DEBOUNCE_S", "0")
    poll_and_push(back_office, full=True)
    db_session.expire_all()
    assert db_session.get(Sku, back_office.sku_id).state == "BACKORDER"
    assert back_office.status() == marked and back_office.writes() == 1

    poll_and_push(back_office, full=True)  # nothing changed: nothing written
    assert back_office.writes() == 1

    back_office.restock(6)
    poll_and_push(back_office, full=True)
    db_session.expire_all()
    assert db_session.get(Sku, back_office.sku_id).state != "BACKORDER"
    assert back_office.status() == unmarked and back_office.writes() == 2
