"""The example's back office switched from NetSuite to SAP Business One by its file alone, as the
comment beside the stores says: the SAP block uncommented, NetSuite's commented out, the vendors'
``erp_store`` pointed at it. The file passes ``config check``, the demo's scenario seeds the SAP
stand-in from it, its stock is polled per warehouse and a purchase order lands in SAP. Real
PostgreSQL, the stand-ins over HTTP."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo import scenario
from domain.core.business_config import BusinessConfig, load_config
from domain.core.env_settings import get_settings
from domain.core.models import Location, StockLevel, Store
from domain.stock.catalog import apply_config
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT
from tests.purchase_orders import approved_po

EXAMPLE = REPO_ROOT / "examples" / "futon-store.toml"


def switched(text: str) -> str:
    """What the example's comment asks: NetSuite's store commented out, SAP's uncommented, the
    vendors' ``erp_store`` set to it."""
    sap_start = text.index('# [[stores]]\n# key = "sap-erp"')
    sap_end = text.index("\n\n", sap_start)
    ns_start = text.index('[[stores]]\nkey = "netsuite-erp"')
    ns_end = text.index("\n\n", ns_start)
    assert ns_end < sap_start
    netsuite = "\n".join(f"# {line}" for line in text[ns_start:ns_end].splitlines())
    sap = "\n".join(line[2:] for line in text[sap_start:sap_end].splitlines())
    text = text[:ns_start] + netsuite + text[ns_end:sap_start] + sap + text[sap_end:]
    return text.replace('erp_store = "netsuite-erp"', 'erp_store = "sap-erp"')


def test_the_switched_file_passes_config_check_with_sap_as_the_only_back_office(tmp_path: Path) -> None:
    path = tmp_path / "sap.toml"
    path.write_text(switched(EXAMPLE.read_text()))
    config = load_config(path)
    back_offices = [(s.key, s.platform, s.sells) for s in config.stores if not s.sells]
    assert back_offices == [("sap-erp", "sap_b1", False)]
    assert {v.erp_store for v in config.vendors} == {"sap-erp", None}
    sap = next(s for s in config.stores if s.key == "sap-erp")
    assert sap.locations == {"01": "warehouse", "SHOW": "showroom"} and sap.options["backorder_status"] is True


@pytest.fixture
def sap_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_session: Session) -> Iterator[BusinessConfig]:
    """The demo's own set-up on the switched file: base URLs on the sandbox, stand-ins seeded."""
    with SandboxServer() as server:
        source = tmp_path / "switched.toml"
        source.write_text(switched(EXAMPLE.read_text()))
        path = tmp_path / "sap.toml"
        path.write_text(scenario.sandbox_config_text(source, server.base_url, set(scenario.ALL_PLATFORMS)))
        env = scenario.sandbox_env(server.base_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("BACKORDERS_CONFIG", str(path))
        get_settings.cache_clear()
        config = load_config(path)
        apply_config(db_session, config)
        db_session.commit()
        scenario.prepare(server.base_url, config, None, env, available=4)
        yield config
    get_settings.cache_clear()


def test_the_demo_polls_sap_stock_per_warehouse_and_sends_it_the_purchase_order(sap_demo: BusinessConfig,
                                                                                db_session: Session) -> None:
    from tasks.po_send import send
    from tasks.polling import poll_store

    store_id = db_session.scalar(select(Store.id).where(Store.key == "sap-erp"))
    poll_store.apply(args=[store_id, True], throw=True)
    per_location = dict(db_session.execute(
        select(Location.key, func.sum(StockLevel.on_hand)).join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.store_id == store_id).group_by(Location.key)).tuples().all())
    assert per_location == {"warehouse": 4 * len(sap_demo.skus), "showroom": 4 * len(sap_demo.skus)}

    po_id = approved_po(db_session)  # Kyoto's ERP is SAP now, by the file
    assert send.apply(args=[po_id]).get() == "sent"
    base = next(s.base_url for s in sap_demo.stores if s.key == "sap-erp")
    [document] = requests.get(f"{base}/_admin/state/documents/PurchaseOrders", timeout=10).json()["documents"]
    assert document["NumAtCard"] == "PO-20250102-1" and document["CardCode"] == "kyoto-frames"
