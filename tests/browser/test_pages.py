"""The ops console, its case queues and a customer reply page in a real browser, at desktop and
phone sizes.

The product's web app is served by uvicorn over real HTTP on the test database; the rows are
written as the product writes them (the offer through ``customer_journey.offer``, the failed poll
through ``sync_results.record_failure``, a fraud hold through ``domain.fraud.scoring``, cases
through ``domain.cases.lifecycle``) or as the table holds them (a dead letter, a held webhook, a PO
awaiting approval). Each page is screenshotted into the artefacts directory.
"""
from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.clock import utcnow
from domain.core.env_settings import get_settings
from domain.core.models import (
    Backorder,
    DeadLetter,
    InboxEvent,
    Order,
    OrderLine,
    OutboxMessage,
    PurchaseOrder,
    PurchaseOrderLine,
    Sku,
    Store,
    StoreSyncLag,
    Timer,
    Vendor,
)
from connectors.types import OrderRecord, PaymentRisk
from domain.cases import lifecycle
from domain.fraud import scoring
from domain.journey import customer_journey
from domain.stock import sync_results
from domain.stock.orders import record_orders
from sandbox.server import SandboxServer
from tests.browser.conftest import DESKTOP, PHONE

USER, PASSWORD = "ops", "console-test-password"
SIZES = {"desktop": DESKTOP, "phone": PHONE}
AGES_DAYS = (0.2, 2, 2.5, 10, 40)  # the chart's columns: <1 day 1, 1–3 days 2, 1–2 weeks 1, 4+ weeks 1


@pytest.fixture(scope="module")
def web(services: dict[str, str]) -> Iterator[SandboxServer]:
    """The product's web app (``workers.web.create_app``) under uvicorn, with the console's credentials."""
    saved = os.environ.get("FLOWER_BASIC_AUTH")
    os.environ["FLOWER_BASIC_AUTH"] = f"{USER}:{PASSWORD}"
    get_settings.cache_clear()
    from workers.web import create_app

    try:
        with SandboxServer(app=create_app(), health_path="/readyz") as server:
            yield server
    finally:
        if saved is None:
            os.environ.pop("FLOWER_BASIC_AUTH", None)
        else:
            os.environ["FLOWER_BASIC_AUTH"] = saved
        get_settings.cache_clear()


@pytest.fixture
def settings(catalog: Any, web: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> customer_journey.Settings:
    """The journey's settings with links pointing at the running web app."""
    from workers import replies

    journey = customer_journey.Settings(catalog, web.base_url, os.environ["SECRET_KEY"])
    monkeypatch.setattr(replies, "current_settings", lambda: journey)
    return journey


def _order(session: Session, number: int, sku: Sku, days_ago: float, quantity: int = 1) -> Backorder:
    store = session.scalar(select(Store).where(Store.key == "shopify-main"))
    assert store is not None
    at = utcnow() - timedelta(days=days_ago)
    order = Order(store_id=store.id, external_id=str(number), number=f"#{number}", customer_name="Ada Lovelace",
                  email=f"ada{number}@example.com", placed_at=at)
    session.add(order)
    session.flush()
    line = OrderLine(order_id=order.id, sku_id=sku.id, external_id=f"L{number}", quantity=quantity,
                     backordered_qty=quantity, price_cents=sku.price_cents, title=sku.title)
    session.add(line)
    session.flush()
    backorder = Backorder(order_line_id=line.id, sku_id=sku.id, quantity=quantity, ordered_at=at)
    session.add(backorder)
    session.flush()
    return backorder


def seed(session: Session, settings: customer_journey.Settings) -> dict[str, Any]:
    """SKUs in several states, waiting backorders of five ages (the newest offered to its customer),
    a late timer, a held text, a PO awaiting approval, a dead letter, a quarantined webhook and a
    store whose last poll failed."""
    now = utcnow()
    skus = list(session.scalars(select(Sku).order_by(Sku.code)))
    assert len(skus) >= 4, "the example catalogue"
    for sku, state in zip(skus, ("OUT", "OUT", "LOW", "BACKORDER")):
        sku.state = state
    backorders = [_order(session, 1001 + i, skus[0], days) for i, days in enumerate(AGES_DAYS)]
    customer_journey.offer(session, backorders[0].id, settings, now=now)
    session.add(Timer(kind="po.ack_due", subject_type="purchase_order", subject_id=77,
                      due_at=now - timedelta(minutes=12)))
    session.add(OutboxMessage(idempotency_key="console-test:held", channel="sms", template="backorder_notice",
                              recipient="+12125550147", state="pending", not_before=now + timedelta(hours=9)))
    vendor = session.scalar(select(Vendor).order_by(Vendor.id))
    assert vendor is not None
    po = PurchaseOrder(number="PO-7001", vendor_id=vendor.id, state="awaiting_approval", total_cents=1_234_500)
    session.add(po)
    session.flush()
    session.add(PurchaseOrderLine(purchase_order_id=po.id, sku_id=skus[0].id, quantity=24, unit_cost_cents=51_437,
                                  reason={"velocity": 1.2, "lead_time_days": 21, "lead_time_demand": 26,
                                          "safety_stock": 4, "reorder_point": 30, "position": 0, "configured_reorder_point": 5,
                                          "on_hand": 0, "on_order": 0, "open_backorders": 5, "need": 35,
                                          "reorder_qty": 12, "case_pack": 12, "quantity": 24,
                                          "demand": {"source": "order_lines", "window_days": 28, "units": 34}}))
    dead = DeadLetter(task_name="tasks.sync.poll_store", task_id=uuid.uuid4().hex, args=[2],
                      error="403 orders.json: [API] This action requires merchant approval for read_orders scope.")
    held = InboxEvent(source="shopify-main", dedupe_key="console-test-1", kind="webhook",
                      topic="inventory_levels/update", payload={}, state="quarantined",
                      error="unknown SKU NOPE-404 (inventory item 998877) <script>document.title='x'</script>")
    session.add_all([dead, held])
    woo = session.scalar(select(Store).where(Store.key == "woo-outlet"))
    shopify = session.scalar(select(Store).where(Store.key == "shopify-main"))
    assert woo is not None and shopify is not None
    shopify.last_polled_at = now - timedelta(seconds=40)
    session.add(StoreSyncLag(store_id=shopify.id, delay_s=3.25, last_s=2.5, samples=4))
    audit.record(session, "sync", "poll", "store", shopify.id, owner="test", full=False, records=280, pages=2,
                 changed=3, orders=5)

    class Refused(Exception):
        status_code = 401

    sync_results.record_failure(session, woo.id, "test", False, Refused("woocommerce_rest_cannot_view: invalid key"))
    session.commit()
    return {"dead_letter": dead.id, "inbox": held.id, "offered": backorders[0].id}


def open_console(browser: Any, base_url: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, http_credentials={"username": USER, "password": PASSWORD})
    page = context.new_page()
    response = page.goto(f"{base_url}/console")
    assert response is not None and response.status == 200
    return page


def no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: content {widths[0]}px in a {widths[1]}px viewport"


def test_console_refuses_without_or_with_wrong_credentials(web: SandboxServer, db_session: Session) -> None:
    bare = requests.get(f"{web.base_url}/console", timeout=10)
    wrong = requests.get(f"{web.base_url}/console", auth=(USER, "not-the-password"), timeout=10)
    right = requests.get(f"{web.base_url}/console", auth=(USER, PASSWORD), timeout=10)
    assert bare.status_code == 401 and wrong.status_code == 401, (bare.status_code, wrong.status_code)
    assert bare.headers["WWW-Authenticate"].startswith("Basic") and "Backorders" not in bare.text
    assert right.status_code == 200 and "ops console" in right.text
    assert "http://" not in right.text.split("</head>")[0] and "<script" not in right.text, "nothing fetched"


def test_console_without_configured_credentials_stays_closed(web: SandboxServer, db_session: Session,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No FLOWER_BASIC_AUTH and no embedded set-up: nobody gets in, and the answer says what to set."""
    monkeypatch.delenv("FLOWER_BASIC_AUTH")
    monkeypatch.setenv("BACKORDERS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        for auth in (None, (USER, PASSWORD)):
            answer = requests.get(f"{web.base_url}/console", auth=auth, timeout=10)
            assert answer.status_code == 401 and "set FLOWER_BASIC_AUTH" in answer.text, answer.text
    finally:
        monkeypatch.setenv("FLOWER_BASIC_AUTH", f"{USER}:{PASSWORD}")
        get_settings.cache_clear()
    assert requests.get(f"{web.base_url}/console", auth=(USER, PASSWORD), timeout=10).status_code == 200


@pytest.mark.parametrize("size", SIZES)
def test_console_shows_every_section(size: str, browser: Any, web: SandboxServer, db_session: Session,
                                     settings: customer_journey.Settings, artifacts_dir: Path) -> None:
    ids = seed(db_session, settings)
    page = open_console(browser, web.base_url, SIZES[size])
    try:
        page.screenshot(path=str(artifacts_dir / f"console-{size}.png"), full_page=True)
        assert page.locator("#skus [data-state=OUT] b").inner_text() == "2"
        assert page.locator("#skus [data-state=LOW] b").inner_text() == "1"
        assert page.locator("#skus [data-state=BACKORDER] b").inner_text() == "1"

        columns = page.locator("#backorders svg g.column")
        assert columns.count() == 6
        values = {columns.nth(i).get_attribute("data-label"): int(columns.nth(i).get_attribute("data-value") or -1)
                  for i in range(6)}
        assert values == {"< 1 day": 1, "1–3 days": 2, "3–7 days": 0, "1–2 weeks": 1, "2–4 weeks": 0,
                          "4+ weeks": 1}, values
        heights = [float(page.locator("#backorders svg rect.bar").nth(i).get_attribute("height") or 0)
                   for i in range(6)]
        assert heights[1] > heights[0] > heights[2] > 0, heights  # the tallest bar is the largest count
        assert page.locator("#backorders svg rect.bar").first.is_visible()
        assert "oldest 40.0 days" in page.locator("#backorders h2").inner_text()

        timers = page.locator("#timers").inner_text()
        assert "po.ack_due" in timers and re.search(r"\b1[23]m late\b", timers), timers
        assert page.locator("#timers tr.late").count() == 1

        outbox = page.locator("#outbox").inner_text()
        assert "held for quiet hours until" in outbox, outbox

        po = page.locator("#purchase-orders [data-po=PO-7001]").inner_text()
        assert "24" in po and "reorder point 30" in po and "need = reorder point 30" in po, po
        assert "backorders po approve PO-7001" in po

        dead = page.locator(f"#stopped [data-dead-letter='{ids['dead_letter']}']")
        assert "read_orders" in dead.inner_text()
        assert dead.locator("code.cmd").inner_text() == f"backorders redrive {ids['dead_letter']}"
        held = page.locator(f"#stopped [data-inbox='{ids['inbox']}']")
        assert "NOPE-404" in held.inner_text() and "<script>document.title" in held.inner_text(), "shown as text"
        assert page.locator("script").count() == 0 and page.title() == "Backorders — ops console"
        assert held.locator("code.cmd").inner_text() == f"backorders redrive --inbox {ids['inbox']}"

        woo = page.locator("#stores [data-store=woo-outlet]").inner_text()
        assert "failed" in woo and "401 woocommerce_rest_cannot_view" in woo, woo
        shopify = page.locator("#stores [data-store=shopify-main]").inner_text()
        assert "3.2s" in shopify and re.search(r"\b4\ds\b", shopify) and "ok" in shopify and "280 records" in shopify, shopify
        assert "never polled" in page.locator("#stores [data-store=showroom-pos]").inner_text()
        no_sideways_scroll(page)
        for section in ("#skus", "#backorders", "#timers", "#outbox", "#stores"):
            box = page.locator(section).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= SIZES[size]["width"] + 1, \
                (section, box)
    finally:
        page.context.close()


def test_console_of_an_empty_deployment_says_so(browser: Any, web: SandboxServer, db_session: Session,
                                                artifacts_dir: Path) -> None:
    page = open_console(browser, web.base_url, PHONE)
    try:
        page.screenshot(path=str(artifacts_dir / "console-empty-phone.png"), full_page=True)
        assert "No store configured yet" in page.locator("#stores").inner_text()
        assert "Nothing stopped" in page.locator("#stopped").inner_text()
        assert "No timer is due" in page.locator("#timers").inner_text()
        assert page.locator("#backorders svg rect.bar").count() == 6  # the axis and stubs, every column
        no_sideways_scroll(page)
    finally:
        page.context.close()


def seed_cases(session: Session, config: Any) -> dict[str, int]:
    """A fraud hold opened by scoring an order whose card checks failed (risk queue), a backorder
    case past its SLA (fulfilment) and a refund request (the default queue)."""
    now = utcnow()
    store = session.scalar(select(Store).where(Store.key == "shopify-main"))
    sku = session.scalars(select(Sku).order_by(Sku.code)).first()
    assert store is not None and sku is not None
    failed = PaymentRisk(customer_ip="203.0.113.9", avs_result="N", cvv_result="N", billing_country="US",
                         shipping_country="US")
    for number, hours in (("#3001", 300), ("#3002", 1)):
        record_orders(session, store.id, [OrderRecord(f"x{number}", number, now - timedelta(hours=hours),
                                                      "eve@example.com", None, "Eve Adams", [], total_cents=42_000,
                                                      risk=failed)])
    order_id = session.scalar(select(Order.id).where(Order.number == "#3002"))
    assert order_id is not None
    scored = scoring.score_order(session, order_id, config)
    assert scored is not None and scored.case is not None
    late = lifecycle.open_case(session, lifecycle.NewCase(
        kind="backorder", subject_type="test", subject_id=1, summary=f"order #3003: 1 × {sku.code} backordered",
        store_id=store.id, sku_ids=(sku.id,)), config, actor="journey")
    late.sla_due_at = now - timedelta(hours=1)
    refund = lifecycle.open_case(session, lifecycle.NewCase(
        kind="refund_request", subject_type="test", subject_id=2, summary="refund asked on order #3004",
        store_id=store.id), config, actor="care")
    session.commit()
    return {"fraud": scored.case.id, "late": late.id, "refund": refund.id}


@pytest.mark.parametrize("size", SIZES)
def test_case_queues_and_a_case_page(size: str, browser: Any, web: SandboxServer, db_session: Session,
                                     catalog: Any, artifacts_dir: Path) -> None:
    ids = seed_cases(db_session, catalog)
    page = open_console(browser, web.base_url, SIZES[size])
    try:
        assert page.locator("#cases [data-state=late] b").inner_text() == "1"
        assert page.locator("#cases [data-queue]").count() == 3
        with page.expect_navigation():
            page.locator("header nav a", has_text="Cases").click()
        assert page.url.endswith("/console/cases") and page.title() == "Backorders — case queues"
        page.screenshot(path=str(artifacts_dir / f"console-cases-{size}.png"), full_page=True)
        risk = page.locator("#queues [data-queue=risk]")
        assert risk.get_attribute("data-total") == "1" and risk.locator("[data-count=urgent]").inner_text() == "1"
        fulfilment = page.locator("#queues [data-queue=fulfilment]")
        assert fulfilment.locator("[data-count=late]").inner_text() == "1"
        assert fulfilment.locator("[data-count=open]").inner_text() == "1"
        assert page.locator("#queues [data-queue=ops] [data-count=normal]").inner_text() == "1"
        rows = page.locator("#open-cases tr[data-case]")
        assert rows.count() == 3 and rows.first.get_attribute("data-case") == str(ids["fraud"]), "urgent first"
        assert page.locator(f"#open-cases tr[data-case='{ids['late']}']").get_attribute("class") == "late"
        assert "late" in page.locator(f"#open-cases tr[data-case='{ids['late']}'] td[data-label=Due]").inner_text()
        no_sideways_scroll(page)

        with page.expect_navigation():
            page.locator(f"#open-cases tr[data-case='{ids['fraud']}'] a").click()
        assert page.url.endswith(f"/console/cases/{ids['fraud']}")
        page.screenshot(path=str(artifacts_dir / f"console-case-{size}.png"), full_page=True)
        assert page.locator("#case [data-fact=queue]").inner_text() == "risk"
        assert page.locator("#case [data-fact=order]").inner_text() == "#3002 on shopify-main"
        reasons = page.locator("#reasons li")
        assert [reasons.nth(i).inner_text() for i in range(reasons.count())] == [
            "AVS N: street and postal code do not match (+30)", "CVV N: security code does not match (+30)"]
        steps = page.locator("#playbook ol.steps li")
        assert steps.count() == 3 and steps.first.inner_text() == "Review the fraud signals and the customer's prior orders"
        assert page.locator("#history tr[data-action=opened] td[data-label=Who]").inner_text() == "fraud"
        assert page.locator("script").count() == 0 and page.locator("form").count() == 0
        no_sideways_scroll(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("choice", ["wait", "cancel", "credit"])
def test_reply_page_choices_fit_a_phone_and_one_is_submitted(choice: str, browser: Any, web: SandboxServer,
                                                             db_session: Session,
                                                             settings: customer_journey.Settings,
                                                             artifacts_dir: Path) -> None:
    """The links the offer email carries, opened at 390×844: the question and its button are on
    screen, the button is a comfortable tap target inside the viewport, nothing scrolls sideways,
    and tapping it decides the backorder."""
    sku = db_session.scalars(select(Sku).order_by(Sku.code)).first()
    assert sku is not None
    backorder = _order(db_session, 2001, sku, 0.1)
    customer_journey.offer(db_session, backorder.id, settings, now=utcnow())
    db_session.commit()
    email = db_session.scalar(select(OutboxMessage).where(
        OutboxMessage.channel == "email", OutboxMessage.idempotency_key.like(f"backorder:{backorder.id}:%")))
    assert email is not None
    links = email.context["links"]
    assert set(links) >= {"wait", "cancel", "credit"} and all(u.startswith(web.base_url) for u in links.values())

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        response = page.goto(links[choice])
        assert response is not None and response.status == 200
        page.screenshot(path=str(artifacts_dir / f"reply-{choice}-phone.png"), full_page=True)
        assert sku.title in page.locator("h1").inner_text()
        button = page.locator("form button[type=submit]")
        assert button.is_visible() and button.is_enabled()
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] >= 0 \
            and box["x"] + box["width"] <= PHONE["width"], box
        assert box["y"] + box["height"] <= PHONE["height"], "the button is on the first screen"
        no_sideways_scroll(page)
        with page.expect_navigation() as navigation:
            button.tap()
        assert navigation.value is not None and navigation.value.status == 200
        assert "your choice is saved" in page.locator("h1").inner_text()
        page.screenshot(path=str(artifacts_dir / f"reply-{choice}-done-phone.png"), full_page=True)
        no_sideways_scroll(page)
    finally:
        context.close()
    db_session.expire_all()
    state = db_session.get(Backorder, backorder.id)
    assert state is not None
    assert state.state == ("accepted_wait" if choice == "wait" else "cancelled_by_customer")
