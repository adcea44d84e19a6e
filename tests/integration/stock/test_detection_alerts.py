"""Detection's alerts as staff receive them: the oversell-risk and per-location alerts reach the
Slack and Mailgun stand-ins over HTTP with the orders or the location named; Lightspeed's reorder
points are imported and the TOML file overrides them; each store's ATP drift tolerance is its own.

Real PostgreSQL, the real detection task (``tasks.stock.evaluate``) and delivery task
(``tasks.notify.deliver``, run in this process), the stand-ins served by a real HTTP server.
"""
from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.registry import build_connector
from connectors.types import ConnectorConfig, OrderLineRecord, OrderRecord, StockRecord
from domain.core.business_config import load_config
from domain.core.env_settings import get_settings
from domain.core.models import Alert, LocationThreshold, Location, Sku, SkuTransition, Store
from domain.stock.catalog import apply_config
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders
from demo import scenario
from sandbox.lightspeed import DEFAULT_TOKEN
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WAREHOUSE, SHOWROOM = "655441491", "655441492"  # the Shopify store's locations in the example
OUTLET = "0a1b2c3d-4e5f-11ef-9a6b-0242ac120002"  # the showroom POS outlet in the example
ROUTES = """
[[notifications.routes]]
event = "stock.location_out"
slack_webhook_env = "SLACK_WEBHOOK_OPS"
emails = ["showroom@futonloft.example"]

[[notifications.routes]]
event = "stock.location_low"
slack_webhook_env = "SLACK_WEBHOOK_OPS"
emails = ["showroom@futonloft.example"]
"""


def config_text(showroom_threshold: int | None) -> str:
    """The example file with routes for the location events, woo-outlet's own drift tolerance
    (0.5 against the business's 0.05), and a showroom threshold for MAT-MEM-TWIN when given."""
    text = (REPO_ROOT / "examples" / "futon-store.toml").read_text()
    policy = '[[store_policies]]\nstore = "woo-outlet"\n'
    assert policy in text
    text = text.replace(policy, policy + "atp_drift_tolerance = 0.5\n")
    if showroom_threshold is not None:
        text = text.replace('code = "MAT-MEM-TWIN"\n',
                            f'code = "MAT-MEM-TWIN"\nlocation_thresholds = {{ showroom = {showroom_threshold} }}\n')
    return text + ROUTES


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    app = FastAPI()
    for name in ("sandbox.control", "sandbox.messaging", "sandbox.mailgun", "sandbox.slack", "sandbox.lightspeed"):
        importlib.import_module(name).install(app)
    with SandboxServer(app=app) as server:
        yield server


@pytest.fixture
def setup(sandbox: SandboxServer, db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[dict[str, Any]]:
    """The example set-up with the extras above, loaded; the env pointed at the stand-ins; tasks
    queued after commit collected here instead of the broker (this test runs them itself)."""
    sandbox.app.state.messaging.reset()
    path = tmp_path / "futon.toml"
    path.write_text(config_text(showroom_threshold=2))
    for name, value in scenario.sandbox_env(sandbox.base_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BACKORDERS_CONFIG", str(path))
    monkeypatch.setenv("RATE_LIMIT_SLACK_PER_S", "50")  # Slack's 1 a second would pace back-to-back alerts
    get_settings.cache_clear()
    queued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr("tasks.base.send_all", lambda messages: queued.extend(
        (task.name, tuple(args)) for task, args, _options in messages))
    config = load_config(path)
    apply_config(db_session, config)
    db_session.commit()
    yield {"path": path, "config": config, "queued": queued, "sandbox": sandbox}
    get_settings.cache_clear()


def store_id(session: Session, key: str) -> int:
    return int(session.scalar(select(Store.id).where(Store.key == key)))  # type: ignore[arg-type]


def sku_id(session: Session, code: str) -> int:
    return int(session.scalar(select(Sku.id).where(Sku.code == code)))  # type: ignore[arg-type]


def stock(session: Session, store: str, code: str, location: str, figure: int, minute: int) -> None:
    record_batch(session, store_id(session, store), [StockRecord(
        external_id=f"{store}-{code}", sku=code, location_external_id=location, available=figure, on_hand=figure,
        updated_at=T0 + timedelta(minutes=minute))])
    session.commit()


def order(session: Session, store: str, number: str, code: str, quantity: int, status: str = "open") -> None:
    record_orders(session, store_id(session, store), [OrderRecord(
        external_id=number.strip("#"), number=number, placed_at=T0, email="c@example.com", phone=None,
        customer_name="C", status=status, lines=[OrderLineRecord(external_id=f"{number}-1", sku=code,
                                                                 quantity=quantity)])])
    session.commit()


def detect_and_deliver(setup: dict[str, Any], session: Session, code: str) -> list[str]:
    """Run the detection task for one SKU, then deliver every message it queued; returns the
    delivery outcomes (the broker is not used: the queued task calls are run here)."""
    from tasks.notify import deliver
    from tasks.stock import evaluate

    setup["queued"].clear()
    evaluate.apply(args=[[sku_id(session, code)]], throw=True)
    outbox_ids = [args[0] for name, args in list(setup["queued"]) if name == "tasks.notify.deliver"]
    return [deliver.apply(args=[outbox_id], throw=True).get() for outbox_id in outbox_ids]


def received(setup: dict[str, Any], provider: str) -> list[dict[str, Any]]:
    base = setup["sandbox"].base_url
    return requests.get(f"{base}/_sandbox/messaging/messages", params={"provider": provider},
                        timeout=5).json()["messages"]


def alerts(session: Session, kind: str) -> list[Alert]:
    session.expire_all()
    return list(session.scalars(select(Alert).where(Alert.kind == kind).order_by(Alert.id)))


def test_oversell_risk_alert_names_the_orders_in_slack_and_email(setup: dict[str, Any], db_session: Session) -> None:
    """6 on hand; orders for 2 then 4 units: 6 open unfulfilled ≥ 6 on hand. Both orders are fully
    allocated (no backorder), which is exactly when the risk is easy to miss."""
    stock(db_session, "shopify-main", "MAT-MEM-FULL", WAREHOUSE, 6, 0)
    order(db_session, "shopify-main", "#1001", "MAT-MEM-FULL", 2)
    assert detect_and_deliver(setup, db_session, "MAT-MEM-FULL") == [], "2 on order < 6 on hand"
    order(db_session, "woo-outlet", "#W-77", "MAT-MEM-FULL", 4)
    assert detect_and_deliver(setup, db_session, "MAT-MEM-FULL") == ["sent", "sent"], "Slack and ops email"

    [mail] = received(setup, "mailgun")
    assert mail["to"] == ["ops@futonloft.example"] and "oversell risk" in mail["subject"]
    for text in ("#1001 on futonloft.com (Shopify): 2", "#W-77 on Futon Loft Outlet (WooCommerce): 4",
                 "Units on open orders: 6", "On hand to fill them: 6"):
        assert text in mail["text"], text
    [slack] = received(setup, "slack")
    blocks = " ".join(str(block) for block in slack["blocks"])
    assert "#1001 on futonloft.com (Shopify): 2" in blocks and "#W-77 on Futon Loft Outlet (WooCommerce): 4" in blocks
    [alert] = alerts(db_session, "stock.oversell_risk")
    assert [(o["number"], o["store_key"], o["quantity"]) for o in alert.data["orders"]] == [
        ("#1001", "shopify-main", 2), ("#W-77", "woo-outlet", 4)]
    assert "#1001 (futonloft.com (Shopify)) × 2" in alert.message and ">= 6 on hand" in alert.message
    stored = db_session.scalar(select(SkuTransition.numbers).where(SkuTransition.to_state == "OVERSELL_RISK"))
    assert stored["open_demand"] == 6 and stored["on_hand"] == 6 and stored["orders_total"] == 2

    assert detect_and_deliver(setup, db_session, "MAT-MEM-FULL") == [], "once per rise"
    order(db_session, "woo-outlet", "#W-77", "MAT-MEM-FULL", 4, status="cancelled")
    assert detect_and_deliver(setup, db_session, "MAT-MEM-FULL") == [], "falling edge: cleared, no alert"
    assert db_session.scalar(select(Sku.oversell_risk).where(Sku.code == "MAT-MEM-FULL")) is False
    order(db_session, "shopify-main", "#1002", "MAT-MEM-FULL", 5)
    assert detect_and_deliver(setup, db_session, "MAT-MEM-FULL") == ["sent", "sent"], "a later rise alerts again"
    second = alerts(db_session, "stock.oversell_risk")[1]
    assert [o["number"] for o in second.data["orders"]] == ["#1001", "#1002"], "the cancelled order is gone"
    assert "#1002 on futonloft.com (Shopify): 5" in received(setup, "mailgun")[1]["text"]


def test_a_showroom_at_zero_alerts_for_the_showroom_while_the_warehouse_has_plenty(
        setup: dict[str, Any], db_session: Session) -> None:
    stock(db_session, "shopify-main", "MAT-MEM-TWIN", WAREHOUSE, 40, 0)
    stock(db_session, "shopify-main", "MAT-MEM-TWIN", SHOWROOM, 5, 0)
    assert detect_and_deliver(setup, db_session, "MAT-MEM-TWIN") == []
    stock(db_session, "showroom-pos", "MAT-MEM-TWIN", OUTLET, 0, 1)
    assert detect_and_deliver(setup, db_session, "MAT-MEM-TWIN") == ["sent", "sent"]

    [mail] = received(setup, "mailgun")
    assert mail["to"] == ["showroom@futonloft.example"]
    assert mail["subject"].endswith("is out of stock at one location: Brooklyn showroom")
    assert "At Brooklyn showroom" in mail["text"] and "Threshold: 2 (from config file)" in mail["text"]
    [slack] = received(setup, "slack")
    assert "Brooklyn showroom: 0" in slack["text"]
    [out] = alerts(db_session, "stock.location_out")
    assert out.data["location"]["key"] == "showroom" and out.data["available"] == 40, "the SKU total is fine"
    assert db_session.scalar(select(Sku.state).where(Sku.code == "MAT-MEM-TWIN")) == "IN_STOCK"

    assert detect_and_deliver(setup, db_session, "MAT-MEM-TWIN") == [], "once per crossing"
    stock(db_session, "showroom-pos", "MAT-MEM-TWIN", OUTLET, 1, 2)
    assert detect_and_deliver(setup, db_session, "MAT-MEM-TWIN") == [], "recovering to LOW says nothing"
    stock(db_session, "showroom-pos", "MAT-MEM-TWIN", OUTLET, 3, 3)
    assert detect_and_deliver(setup, db_session, "MAT-MEM-TWIN") == [], "inside the hysteresis band: still LOW"
    stock(db_session, "showroom-pos", "MAT-MEM-TWIN", OUTLET, 2, 4)
    assert detect_and_deliver(setup, db_session, "MAT-MEM-TWIN") == [], "bouncing 3 ↔ 2 does not re-alert"
    stock(db_session, "showroom-pos", "MAT-MEM-TWIN", OUTLET, 8, 5)
    stock(db_session, "showroom-pos", "MAT-MEM-TWIN", OUTLET, 2, 6)
    detect_and_deliver(setup, db_session, "MAT-MEM-TWIN")  # 2 only: the 8 was never evaluated
    assert alerts(db_session, "stock.location_low") == [], "8 was not seen: the location never left LOW"
    stock(db_session, "showroom-pos", "MAT-MEM-TWIN", OUTLET, 8, 7)
    assert detect_and_deliver(setup, db_session, "MAT-MEM-TWIN") == []
    stock(db_session, "showroom-pos", "MAT-MEM-TWIN", OUTLET, 2, 8)
    assert len(detect_and_deliver(setup, db_session, "MAT-MEM-TWIN")) == 2, "a new crossing alerts again"
    [low] = alerts(db_session, "stock.location_low")
    assert low.data["location"]["from_state"] == "OK" and low.data["location"]["to_state"] == "LOW"


def test_lightspeed_reorder_points_are_imported_and_the_file_overrides_them(
        setup: dict[str, Any], db_session: Session) -> None:
    """MAT-MEM-TWIN has showroom = 2 in the file; MAT-MEM-FULL has none. Lightspeed holds reorder
    points 5 and 3 at the showroom outlet."""
    stock(db_session, "shopify-main", "MAT-MEM-FULL", WAREHOUSE, 20, 0)  # the SKU total stays well above 3
    instance = f"ls-{uuid.uuid4().hex[:8]}"
    root = f"{setup['sandbox'].base_url}/lightspeed/{instance}"
    requests.post(f"{root}/_admin/seed", timeout=10, json={"outlet_ids": [OUTLET], "items": [
        {"sku": "MAT-MEM-TWIN", "current_amount": 4, "reorder_point": 5},
        {"sku": "MAT-MEM-FULL", "current_amount": 6, "reorder_point": 3}]}).raise_for_status()
    connector = build_connector("lightspeed", ConnectorConfig(
        store_key="showroom-pos", base_url=root, credentials={"access_token": DEFAULT_TOKEN}, timeout_s=5.0))
    showroom_pos = store_id(db_session, "showroom-pos")
    cursor = None
    for page in connector.fetch_stock(None):
        record_batch(db_session, showroom_pos, page.records)
        cursor = page.cursor
    db_session.commit()

    showroom = db_session.scalar(select(Location.id).where(Location.key == "showroom"))
    rows = {db_session.get(Sku, row.sku_id).code: row for row in db_session.scalars(  # type: ignore[union-attr]
        select(LocationThreshold).where(LocationThreshold.location_id == showroom))}
    assert (rows["MAT-MEM-FULL"].imported_threshold, rows["MAT-MEM-FULL"].config_threshold) == (3, None)
    assert rows["MAT-MEM-FULL"].imported_from_store_id == showroom_pos
    assert (rows["MAT-MEM-TWIN"].imported_threshold, rows["MAT-MEM-TWIN"].config_threshold) == (5, 2), "both kept"

    assert detect_and_deliver(setup, db_session, "MAT-MEM-TWIN") == [], "4 > the file's 2, though ≤ Lightspeed's 5"
    requests.post(f"{root}/_admin/set_stock", json={"sku": "MAT-MEM-FULL", "current_amount": 3},
                  timeout=10).raise_for_status()
    for page in connector.fetch_stock(cursor):
        record_batch(db_session, showroom_pos, page.records)
    db_session.commit()
    assert len(detect_and_deliver(setup, db_session, "MAT-MEM-FULL")) == 2, "3 ≤ Lightspeed's reorder point 3"
    [low] = alerts(db_session, "stock.location_low")
    assert low.data["location"]["threshold"] == 3
    assert low.data["location"]["threshold_source"] == "showroom-pos reorder point"

    setup["path"].write_text(config_text(showroom_threshold=None))
    apply_config(db_session, load_config(setup["path"]))
    db_session.commit()
    db_session.expire_all()
    twin = db_session.scalar(select(LocationThreshold).where(
        LocationThreshold.sku_id == sku_id(db_session, "MAT-MEM-TWIN"), LocationThreshold.location_id == showroom))
    assert (twin.imported_threshold, twin.config_threshold) == (5, None), "the file's figure cleared, Lightspeed's kept"
    assert len(detect_and_deliver(setup, db_session, "MAT-MEM-TWIN")) == 2, "now 4 ≤ Lightspeed's 5"
    assert alerts(db_session, "stock.location_low")[-1].data["location"]["threshold"] == 5

    requests.post(f"{root}/_admin/set_stock", json={"sku": "MAT-MEM-TWIN", "reorder_point": 0},
                  timeout=10).raise_for_status()
    for page in connector.fetch_stock(cursor):
        record_batch(db_session, showroom_pos, page.records)
    db_session.commit()
    db_session.expire_all()
    assert (twin.imported_threshold, twin.state) == (None, "OK"), "no threshold left: nothing watched, state reset"


def test_each_store_is_held_to_its_own_atp_drift_tolerance(setup: dict[str, Any], db_session: Session) -> None:
    """The ERP holds 100 at the warehouse; WooCommerce shows 70 (30 % off) there. The file gives
    woo-outlet a tolerance of 0.5, the business 0.05: no drift for WooCommerce, drift for Shopify."""
    stock(db_session, "netsuite-erp", "MAT-LATEX-KING", "1", 100, 0)
    stock(db_session, "woo-outlet", "MAT-LATEX-KING", "default", 70, 1)
    detect_and_deliver(setup, db_session, "MAT-LATEX-KING")
    assert db_session.scalar(select(Sku.atp_drift).where(Sku.code == "MAT-LATEX-KING")) is False
    stock(db_session, "shopify-main", "MAT-LATEX-KING", WAREHOUSE, 70, 2)
    detect_and_deliver(setup, db_session, "MAT-LATEX-KING")
    db_session.expire_all()
    assert db_session.scalar(select(Sku.atp_drift).where(Sku.code == "MAT-LATEX-KING")) is True
    numbers = db_session.scalar(select(SkuTransition.numbers).where(SkuTransition.to_state == "ATP_DRIFT"))
    assert numbers["drift_tolerances"] == {str(store_id(db_session, "woo-outlet")): "0.5",
                                           str(store_id(db_session, "shopify-main")): "0.05"}
