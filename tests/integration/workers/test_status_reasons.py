"""``backorders status`` says how each store's last poll went (and why it failed) and why each
waiting message waits: quiet hours until when, a provider circuit, a retry after an error."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import Backorder, Order, OrderLine, Sku, Store
from domain.messaging import outbox
from workers.cli import main


def test_status_shows_each_stores_last_poll_and_its_error(sandboxed: str, db_session: Session,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.polling import poll_store

    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    runner = CliRunner()
    assert "shopify-main  last polled never" in runner.invoke(main, ["status"]).output

    poll_store.apply(args=[store_id, True], throw=True)
    text = runner.invoke(main, ["status"]).output
    assert "shopify-main  last polled " in text and " ok 30 records (full, " in text, text

    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_revoked")
    failed = poll_store.apply(args=[store_id, False])
    assert failed.failed()
    text = runner.invoke(main, ["status"]).output
    [line] = [ln for ln in text.splitlines() if "shopify-main  last poll" in ln]
    assert "last poll failed " in line and "401" in line, line
    data = json.loads(runner.invoke(main, ["status", "--json"]).output)
    [store] = [s for s in data["stores"] if s["key"] == "shopify-main"]
    assert store["last_poll"]["ok"] is False and store["last_poll"]["status_code"] == 401
    assert store["last_polled_at"] is not None, "the good poll before it is still the last success"


def test_status_explains_waiting_messages(sandboxed: str, db_session: Session) -> None:
    from domain.messaging import delivery_rules

    now = utcnow()
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == "FUT-FRM-OAK-FULL"))
    order = Order(store_id=store_id, external_id="1", number="#1", placed_at=now, customer_timezone="America/Chicago")
    db_session.add(order)
    db_session.flush()
    line = OrderLine(order_id=order.id, sku_id=sku_id, external_id="1-1", quantity=1, backordered_qty=1)
    db_session.add(line)
    db_session.flush()
    backorder = Backorder(order_line_id=line.id, sku_id=sku_id, quantity=1, ordered_at=now)
    db_session.add(backorder)
    db_session.flush()
    morning = (now + timedelta(days=1)).astimezone(ZoneInfo("America/Chicago")).replace(
        hour=8, minute=0, second=0, microsecond=0)
    for n in range(2):
        outbox.enqueue(db_session, idempotency_key=f"backorder:{backorder.id}:backorder_notice:{n}:sms",
                       channel="sms", template="backorder_notice", recipient="+12015550123", context={},
                       not_before=morning)
    circuit = outbox.enqueue(db_session, idempotency_key="alert:1:email:ops@example.com", channel="email",
                             template="stock_alert", recipient="ops@example.com", context={})
    retry = outbox.enqueue(db_session, idempotency_key="alert:1:slack:SLACK_WEBHOOK_OPS", channel="slack",
                           template="stock_alert", recipient="SLACK_WEBHOOK_OPS", context={})
    assert circuit is not None and retry is not None
    delivery_rules.defer(db_session, circuit, now + timedelta(seconds=30),
                         "mailgun circuit open: not attempted, deferred 30.0s")
    delivery_rules.claim_for_sending(db_session, retry, now)
    delivery_rules.release_for_retry(db_session, retry, "slack: HTTP 503 service unavailable",
                                     retry_at=now + timedelta(seconds=20))
    db_session.commit()

    text = CliRunner().invoke(main, ["status"]).output
    assert "Outbox waiting 4:" in text, text
    assert "  2 held for quiet hours until 08:00 America/Chicago time (sms)" in text
    assert "  1 waiting for provider circuit (mailgun circuit open) until " in text
    assert "  1 retrying after error: slack: HTTP 503 service unavailable; next try at " in text
    data = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)["outbox_waiting"]
    assert data["total"] == 4 and {g["reason"] for g in data["groups"]} == {"quiet_hours", "circuit", "retrying"}
    held = [r["until"] for r in data["rows"] if r["reason"] == "quiet_hours"]
    assert [datetime.fromisoformat(u) for u in held] == [morning] * 2
