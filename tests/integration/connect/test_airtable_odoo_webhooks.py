"""Airtable and Odoo connected as back offices, over real HTTP to their stand-ins and our web app:
`stores connect` creates Airtable's webhook and keeps the MAC secret Airtable made; a person's edit
pings our receiver, stored once (a forged ping refused), and the drain reads the payloads and the
rows they name. Odoo's automation rule posts to the address with the store's secret as ``token``:
accepted once, refused without it, and the drain reads the named product's quants there."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox.airtable import DEFAULT_TOKEN
from sandbox.odoo import DEFAULTS as ODOO
from tests.integration.connect.back_office_kit import BUSINESS, SHOWROOM, configured, stand_ins_and_web

CONFIG = BUSINESS + SHOWROOM + """
[[stores]]
key = "at-erp"
platform = "airtable"
base_url = "{airtable}"
credentials = {{ token = "AT_TOKEN" }}
sells = false
locations = {{ "Warehouse" = "warehouse", "Showroom" = "showroom" }}
options = {{ base_id = "appSandboxBase001", table = "Inventory", fields = {{ sku = "SKU", quantity = "Quantity", location = "Location" }} }}

[[stores]]
key = "odoo-erp"
platform = "odoo"
base_url = "{odoo}"
credentials = {{ database = "ODOO_DB", login = "ODOO_LOGIN", api_key = "ODOO_KEY" }}
sells = false
webhook_secret_env = "ODOO_HOOK_SECRET"
locations = {{ "{wh}" = "warehouse", "{ax}" = "showroom" }}

[[skus]]
code = "FUT-OAK"
title = "Oak futon frame"
threshold = 2
"""


@pytest.fixture
def env(db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with stand_ins_and_web() as (sandbox, web):
        airtable, odoo = f"{sandbox}/airtable/futon-at", f"{sandbox}/odoo/futon-odoo"
        requests.post(f"{airtable}/_admin/seed", timeout=10, json={"rows": [
            {"SKU": "FUT-OAK", "Quantity": 5, "Location": "Warehouse"},
            {"SKU": "FUT-OAK", "Quantity": 2, "Location": "Showroom"}]}).raise_for_status()
        requests.post(f"{airtable}/_admin/config", timeout=10, json={"per_second": 1000}).raise_for_status()
        seeded = requests.post(f"{odoo}/_admin/seed", timeout=10, json={
            "warehouses": [{"name": "Main", "code": "WH"}, {"name": "Annex", "code": "AX"}],
            "products": [{"default_code": "FUT-OAK", "name": "Oak"}]}).json()
        wh, ax = (str(w["lot_stock_id"]) for w in seeded["warehouses"])
        requests.post(f"{odoo}/_admin/quants", timeout=10, json={"quants": [
            {"default_code": "FUT-OAK", "location": "WH/Stock", "quantity": 3}]}).raise_for_status()
        with configured(tmp_path, monkeypatch, CONFIG.format(airtable=airtable, odoo=odoo, wh=wh, ax=ax),
                        {"AT_TOKEN": DEFAULT_TOKEN, "ODOO_DB": ODOO["database"], "ODOO_LOGIN": ODOO["login"],
                         "ODOO_KEY": ODOO["api_key"], "ODOO_HOOK_SECRET": "odoo-secret-1", "PUBLIC_BASE_URL": web},
                        ["stores", "connect", "at-erp"], unset=["AT_ERP_WEBHOOK_SECRET"]) as output:
            yield {"airtable": airtable, "odoo": odoo, "web": web, "output": output, "ax": ax}


def levels(session: Session) -> dict[tuple[str, str, str], int]:
    from domain.core.models import Location, Sku, StockLevel, Store

    session.expire_all()
    rows = session.execute(select(Store.key, Sku.code, Location.key, StockLevel.available)
                           .join(Sku, Sku.id == StockLevel.sku_id).join(Location, Location.id == StockLevel.location_id)
                           .join(Store, Store.id == StockLevel.store_id))
    return {(store, code, key): available for store, code, key, available in rows}


def test_airtable_webhook_made_at_connect_then_a_ping_stored_once_and_resolved(env: dict[str, Any],
                                                                              db_session: Session) -> None:
    from domain.core.models import InboxEvent
    from tasks.inbound import drain

    [hook] = requests.get(f"{env['airtable']}/_admin/state/webhooks", timeout=10).json()["webhooks"]
    assert hook["notificationUrl"] == f"{env['web']}/webhooks/at-erp"
    assert "made by the platform" in env["output"]
    assert levels(db_session)[("at-erp", "FUT-OAK", "showroom")] == 2
    pinged = requests.post(f"{env['airtable']}/_admin/rows", timeout=10, json={
        "edits": [{"match": {"SKU": "FUT-OAK", "Location": "Showroom"}, "fields": {"Quantity": 0}}]}).json()
    assert pinged["pings"] == [200]
    sent = requests.get(f"{env['airtable']}/_admin/state/deliveries", timeout=10).json()["deliveries"][-1]
    again = requests.post(sent["address"], data=sent["body"], headers=sent["headers"], timeout=10)
    forged = requests.post(sent["address"], data=sent["body"],
                           headers={**sent["headers"], "X-Airtable-Content-MAC": "hmac-sha256=00"}, timeout=10)
    assert again.json()["status"] == "duplicate" and forged.status_code == 401
    assert db_session.scalar(select(func.count()).select_from(InboxEvent)) == 1
    drain.apply(args=["at-erp"]).get()
    assert levels(db_session)[("at-erp", "FUT-OAK", "showroom")] == 0


def test_odoo_automation_webhook_with_the_token_is_accepted_once_and_resolved(env: dict[str, Any],
                                                                             db_session: Session) -> None:
    from domain.core.models import InboxEvent, Store
    from tasks.inbound import drain

    import os

    from domain.core.business_config import load_config
    from domain.core.db import session_scope
    from domain.stock.catalog import apply_config

    with session_scope() as session:
        apply_config(session, load_config(Path(os.environ["BACKORDERS_CONFIG"])))
    address = f"{env['web']}/webhooks/odoo-erp"
    requests.post(f"{env['odoo']}/_admin/automation", timeout=10, json={
        "url": f"{address}?token=odoo-secret-1", "fields": ["product_id", "location_id", "quantity"]}).raise_for_status()
    sent = requests.post(f"{env['odoo']}/_admin/quants", timeout=10, json={"quants": [
        {"default_code": "FUT-OAK", "location": "AX/Stock", "quantity": 6}]}).json()
    assert sent["deliveries"] == [200]
    store = db_session.scalar(select(Store).where(Store.key == "odoo-erp"))
    assert store is not None
    [event] = db_session.scalars(select(InboxEvent).where(InboxEvent.source == "odoo-erp")).all()
    raw = event.payload["body"].encode()
    again = requests.post(f"{address}?token=odoo-secret-1", data=raw, headers={"Content-Type": "application/json"},
                          timeout=10)
    unsigned = requests.post(address, data=raw, headers={"Content-Type": "application/json"}, timeout=10)
    wrong = requests.post(f"{address}?token=guess", data=raw, headers={"Content-Type": "application/json"}, timeout=10)
    assert again.json()["status"] == "duplicate" and unsigned.status_code == 401 and wrong.status_code == 401
    assert "token" not in str(event.payload["headers"]), "the secret in the address is not stored"
    drain.apply(args=["odoo-erp"]).get()
    assert levels(db_session)[("odoo-erp", "FUT-OAK", "showroom")] == 6


def test_airtable_webhook_is_refreshed_by_its_renewal_timer(env: dict[str, Any], db_session: Session) -> None:
    from domain.core.models import Timer
    from tasks.subscriptions import renew

    timer = db_session.scalar(select(Timer).where(Timer.kind == "subscriptions.renew"))
    [hook] = requests.get(f"{env['airtable']}/_admin/state/webhooks", timeout=10).json()["webhooks"]
    assert timer is not None and timer.state == "pending", "a day before the seven days run out"
    assert renew.apply(args=[timer.subject_id]).get() == "renewed:1"
    refreshed = requests.get(f"{env['airtable']}/_admin/requests", params={"path_contains": "/refresh"},
                             timeout=10).json()["requests"]
    assert [r["status"] for r in refreshed] == [200] and hook["id"] in refreshed[0]["path"]
