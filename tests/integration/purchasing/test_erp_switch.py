"""The example store's ERP switched to Business Central by its configuration alone, as the example
file's comment says: the NetSuite store out, the Business Central block uncommented, the vendors
pointed at it. The demo's scenario seeds it, the poll reads its stock per location and a purchase
order is sent to it. Real PostgreSQL; every stand-in over HTTP."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from demo import scenario
from domain.core.business_config import load_config
from domain.core.env_settings import get_settings
from domain.core.models import Location, PurchaseOrder, Sku, StockLevel, Store, Vendor
from domain.stock.catalog import apply_config
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT
from tests.purchase_orders import SKUS, approved_po


def switched(text: str) -> str:
    """The documented switch, done to the example's text."""
    text = re.sub(r'(?ms)^\[\[stores\]\]\nkey = "netsuite-erp"\n.*?\n\n', "", text)
    block = re.search(r"(?ms)^# \[\[stores\]\]\n# key = \"bc-erp\"\n.*?^# options = .*?\n", text)
    assert block is not None, "the example keeps a commented Business Central store"
    text = text.replace(block.group(0), re.sub(r"(?m)^# ", "", block.group(0)))
    return text.replace('erp_store = "netsuite-erp"', 'erp_store = "bc-erp"')


def test_the_erp_switches_to_business_central_by_configuration_alone(
        celery_app: object, db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.po_send import send
    from tasks.polling import poll_store

    example = tmp_path / "futon-bc.toml"
    example.write_text(switched((REPO_ROOT / "examples" / "futon-store.toml").read_text()))
    with SandboxServer() as sandbox:
        env = scenario.sandbox_env(sandbox.base_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        path = tmp_path / "store.toml"
        path.write_text(scenario.sandbox_config_text(example, sandbox.base_url, set(scenario.ALL_PLATFORMS)))
        monkeypatch.setenv("BACKORDERS_CONFIG", str(path))
        get_settings.cache_clear()
        config = load_config(path)  # what `backorders config check` runs
        assert {s.key: s.platform for s in config.stores if not s.sells} == {"bc-erp": "business_central"}
        apply_config(db_session, config)
        db_session.commit()
        scenario.prepare(sandbox.base_url, config, None, env, available=3)
        bc = db_session.scalar(select(Store).where(Store.key == "bc-erp"))
        assert bc is not None

        assert poll_store.apply(args=[bc.id, True]).get()
        figures = dict(db_session.execute(
            select(Location.key, StockLevel.available).join(Location, Location.id == StockLevel.location_id)
            .join(Sku, Sku.id == StockLevel.sku_id).where(StockLevel.store_id == bc.id,
                                                          Sku.code == "FUT-FRM-OAK-FULL")).all())
        assert figures == {"warehouse": 3, "showroom": 3}

        po_id = approved_po(db_session)
        assert db_session.scalar(select(Vendor.erp_store_key).where(Vendor.key == "kyoto-frames")) == "bc-erp"
        assert send.apply(args=[po_id]).get() == "sent"
        admin = f"{sandbox.base_url}/business_central/bc-erp/_admin"
        [order] = requests.get(f"{admin}/state/purchase_orders", timeout=10).json()["purchase_orders"]
        db_session.expire_all()
        po = db_session.get(PurchaseOrder, po_id)
        assert po is not None and po.erp_ref == order["id"] and order["number"] == po.number
        assert {(li["lineObjectNumber"], li["quantity"]) for li in order["purchaseOrderLines"]} == {
            (sku, quantity) for sku, (quantity, _) in SKUS.items()}
    get_settings.cache_clear()
