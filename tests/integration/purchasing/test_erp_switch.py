"""The example's back office switched from NetSuite to SAP Business One, Business Central or QuickBooks Online, by
its file alone, as the comments beside the stores say: the chosen block uncommented, NetSuite's
commented out, the vendors' ``erp_store`` pointed at it. The file passes ``config check``, the
demo's scenario seeds the stand-in from it, its stock is polled per location and a purchase order
lands in the new back office. Real PostgreSQL, the stand-ins over HTTP."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo import scenario
from domain.core.business_config import BusinessConfig, load_config
from domain.core.env_settings import get_settings
from domain.core.models import Location, PurchaseOrder, StockLevel, Store, Vendor
from domain.stock.catalog import apply_config
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT
from tests.purchase_orders import SKUS, approved_po

EXAMPLE = REPO_ROOT / "examples" / "futon-store.toml"
#: ``demo_on(key, available)``: the demo set up on the file switched to the store ``key``.
Switch = Callable[[str, int], AbstractContextManager[tuple[BusinessConfig, str]]]


def switched(text: str, key: str) -> str:
    """What the example's comment asks: NetSuite's store commented out, the store ``key``'s block
    uncommented, the vendors' ``erp_store`` set to it."""
    start = text.index(f'# [[stores]]\n# key = "{key}"')
    end = text.index("\n\n", start)
    ns_start = text.index('[[stores]]\nkey = "netsuite-erp"')
    ns_end = text.index("\n\n", ns_start)
    assert ns_end < start
    netsuite = "\n".join(f"# {line}" for line in text[ns_start:ns_end].splitlines())
    block = "\n".join(line[2:] for line in text[start:end].splitlines())
    text = text[:ns_start] + netsuite + text[ns_end:start] + block + text[end:]
    return text.replace('erp_store = "netsuite-erp"', f'erp_store = "{key}"')


@pytest.mark.parametrize("key, platform, locations", [
    ("sap-erp", "sap_b1", {"01": "warehouse", "SHOW": "showroom"}),
    ("bc-erp", "business_central", {"MAIN": "warehouse", "SHOWROOM": "showroom"}),
    ("qbo-erp", "quickbooks", {"default": "warehouse"}),
    ("zoho-erp", "zoho_inventory", {"460000000038080": "warehouse", "460000000038099": "showroom"}),
    ("cin7-erp", "cin7_core", {"Main Warehouse": "warehouse", "Showroom": "showroom"}),
])
def test_the_switched_file_passes_config_check_with_one_back_office(
        tmp_path: Path, key: str, platform: str, locations: dict[str, str]) -> None:
    path = tmp_path / f"{key}.toml"
    path.write_text(switched(EXAMPLE.read_text(), key))
    config = load_config(path)  # what `backorders config check` runs
    back_offices = [(s.key, s.platform, s.sells) for s in config.stores if not s.sells]
    assert back_offices == [(key, platform, False)]
    assert {v.erp_store for v in config.vendors} == {key, None}
    store = next(s for s in config.stores if s.key == key)
    assert store.locations == locations


@pytest.mark.parametrize("key", ["zoho-erp", "cin7-erp"])
def test_zoho_and_cin7_keep_their_backorder_status_and_vendor_maps(tmp_path: Path, key: str) -> None:
    path = tmp_path / f"{key}.toml"
    path.write_text(switched(EXAMPLE.read_text(), key))
    config = load_config(path)
    store = next(s for s in config.stores if s.key == key)
    assert store.options["backorder_status"] is True
    assert set(store.options["vendor_ids"]) == {v.key for v in config.vendors}


def test_sap_keeps_its_backorder_status_option(tmp_path: Path) -> None:
    path = tmp_path / "sap.toml"
    path.write_text(switched(EXAMPLE.read_text(), "sap-erp"))
    sap = next(s for s in load_config(path).stores if s.key == "sap-erp")
    assert sap.options["backorder_status"] is True


@pytest.fixture
def demo_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_session: Session) -> Iterator[Switch]:
    """The demo's own set-up on the switched file: base URLs on the sandbox, stand-ins seeded with
    ``available`` units of every SKU at every mapped location."""
    @contextmanager
    def switch(key: str, available: int) -> Iterator[tuple[BusinessConfig, str]]:
        with SandboxServer() as server:
            source = tmp_path / "switched.toml"
            source.write_text(switched(EXAMPLE.read_text(), key))
            path = tmp_path / f"{key}.toml"
            path.write_text(scenario.sandbox_config_text(source, server.base_url, set(scenario.ALL_PLATFORMS)))
            env = scenario.sandbox_env(server.base_url)
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("BACKORDERS_CONFIG", str(path))
            get_settings.cache_clear()
            config = load_config(path)
            apply_config(db_session, config)
            db_session.commit()
            scenario.prepare(server.base_url, config, None, env, available=available)
            yield config, server.base_url
    yield switch
    get_settings.cache_clear()


def per_location(db_session: Session, store_id: int | None) -> dict[str, int]:
    return dict(db_session.execute(
        select(Location.key, func.sum(StockLevel.on_hand)).join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.store_id == store_id).group_by(Location.key)).tuples().all())


def test_the_demo_polls_sap_stock_per_warehouse_and_sends_it_the_purchase_order(demo_on: Switch,
                                                                                db_session: Session) -> None:
    from tasks.po_send import send
    from tasks.polling import poll_store

    with demo_on("sap-erp", 4) as (config, _):
        store_id = db_session.scalar(select(Store.id).where(Store.key == "sap-erp"))
        poll_store.apply(args=[store_id, True], throw=True)
        assert per_location(db_session, store_id) == {"warehouse": 4 * len(config.skus),
                                                      "showroom": 4 * len(config.skus)}

        po_id = approved_po(db_session)  # Kyoto's ERP is SAP now, by the file
        assert send.apply(args=[po_id]).get() == "sent"
        base = next(s.base_url for s in config.stores if s.key == "sap-erp")
        [document] = requests.get(f"{base}/_admin/state/documents/PurchaseOrders", timeout=10).json()["documents"]
        assert document["NumAtCard"] == "PO-20250102-1" and document["CardCode"] == "kyoto-frames"


def test_the_demo_polls_business_central_per_location_and_sends_it_the_purchase_order(
        celery_app: object, demo_on: Switch, db_session: Session) -> None:
    from tasks.po_send import send
    from tasks.polling import poll_store

    with demo_on("bc-erp", 3) as (config, sandbox_url):
        store_id = db_session.scalar(select(Store.id).where(Store.key == "bc-erp"))
        assert poll_store.apply(args=[store_id, True], throw=True).get()
        assert per_location(db_session, store_id) == {"warehouse": 3 * len(config.skus),
                                                      "showroom": 3 * len(config.skus)}

        po_id = approved_po(db_session)
        assert db_session.scalar(select(Vendor.erp_store_key).where(Vendor.key == "kyoto-frames")) == "bc-erp"
        assert send.apply(args=[po_id]).get() == "sent"
        admin = f"{sandbox_url}/business_central/bc-erp/_admin"
        [order] = requests.get(f"{admin}/state/purchase_orders", timeout=10).json()["purchase_orders"]
        db_session.expire_all()
        po = db_session.get(PurchaseOrder, po_id)
        assert po is not None and po.erp_ref == order["id"] and order["number"] == po.number
        assert {(line["lineObjectNumber"], line["quantity"]) for line in order["purchaseOrderLines"]} == {
            (sku, quantity) for sku, (quantity, _) in SKUS.items()}


def test_the_demo_polls_quickbooks_and_sends_it_the_purchase_order_once(
        celery_app: object, demo_on: Switch, db_session: Session) -> None:
    from tasks.po_send import send
    from tasks.polling import poll_store

    with demo_on("qbo-erp", 5) as (config, sandbox_url):
        store_id = db_session.scalar(select(Store.id).where(Store.key == "qbo-erp"))
        assert poll_store.apply(args=[store_id, True], throw=True).get()
        assert per_location(db_session, store_id) == {"warehouse": 5 * len(config.skus)}, "one figure per item"

        po_id = approved_po(db_session)
        assert db_session.scalar(select(Vendor.erp_store_key).where(Vendor.key == "kyoto-frames")) == "qbo-erp"
        assert send.apply(args=[po_id]).get() == "sent"
        admin = f"{sandbox_url}/quickbooks/qbo-erp/_admin"
        [order] = requests.get(f"{admin}/state/purchase_orders", timeout=10).json()["purchase_orders"]
        db_session.expire_all()
        po = db_session.get(PurchaseOrder, po_id)
        assert po is not None and po.erp_ref == order["Id"] and order["DocNumber"] == po.number[:21]
        assert order["VendorRef"]["name"] == "Kyoto Frame Works"
@pytest.mark.parametrize("key, platform", [("zoho-erp", "zoho_inventory"), ("cin7-erp", "cin7_core")])
def test_the_demo_polls_zoho_or_cin7_per_location_and_sends_it_the_purchase_order(
        demo_on: Switch, db_session: Session, key: str, platform: str) -> None:
    from tasks.po_send import send
    from tasks.polling import poll_store

    with demo_on(key, 2) as (config, sandbox_url):
        store_id = db_session.scalar(select(Store.id).where(Store.key == key))
        poll_store.apply(args=[store_id, True], throw=True)
        assert per_location(db_session, store_id) == {"warehouse": 2 * len(config.skus),
                                                      "showroom": 2 * len(config.skus)}

        po_id = approved_po(db_session)
        assert send.apply(args=[po_id]).get() == "sent"
        [made] = requests.get(f"{sandbox_url}/{platform}/{key}/_admin/state/purchase_orders", timeout=10
                              ).json()["purchase_orders"]
        db_session.expire_all()
        po = db_session.get(PurchaseOrder, po_id)
        assert po is not None
        number = made.get("purchaseorder_number") or made.get("OrderNumber")
        assert number == po.number and po.erp_ref == (made.get("purchaseorder_id") or made.get("ID"))
