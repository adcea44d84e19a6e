"""A customer's journey end to end on a real worker: order by webhook → backorder → notice by
email and SMS → renewed delay → silence → auto-cancel → one refund on Shopify → one message."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import Backorder, Order, RefundDecision, Store, Timer
from tests.conftest import wait_for
from tests.stack import running_stack

SKU = "FUT-FRM-OAK-FULL"


def _messages(sandbox: str) -> list[dict[str, Any]]:
    return requests.get(f"{sandbox}/_sandbox/messaging/messages", timeout=5).json()["messages"]


def _customer_messages(sandbox: str, email: str, phone: str) -> list[dict[str, Any]]:
    return [m for m in _messages(sandbox) if email in m.get("to", []) or phone in m.get("to", [])]


def test_order_to_refund(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch,
                         tmp_path: Path, celery_worker: object) -> None:
    from tasks.polling import poll_store
    from tasks.timers import fire_due
    from workers.cli import main

    # Quiet hours would hold the SMS until 08:00 when this runs in the evening (their own test is
    # in test_journey.py); "00:00-00:00" is an empty window.
    no_quiet_hours = lambda text: text.replace('quiet_hours = "21:00-08:00"', 'quiet_hours = "00:00-00:00"')  # noqa: E731
    with running_stack(db_session, monkeypatch, tmp_path, {"shopify"}, available=5, edit=no_quiet_hours) as stack:
        store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
        poll_store.delay(store_id, True)
        wait_for(lambda: db_session.scalar(select(Store.last_full_sync_at).where(Store.id == store_id))
                 or db_session.expire_all())
        shop = f"{stack.sandbox}/shopify/shopify-main/_admin"
        requests.post(f"{shop}/set_stock", json={"sku": SKU, "available": 0}, timeout=10).raise_for_status()
        email, phone = "jamie@example.com", "+12015550123"
        created = requests.post(f"{shop}/create_order", timeout=10, json={
            "lines": [{"sku": SKU, "quantity": 1, "price": "649.00"}], "email": email, "phone": phone,
            "customer": {"first_name": "Jamie <b>", "last_name": "Doe"}}).json()
        assert all(hook["status"] == 200 for hook in created["webhooks"])

        def backorder() -> Backorder | None:
            db_session.expire_all()
            return db_session.scalar(select(Backorder).where(Backorder.state == "notified"))

        notified = wait_for(backorder)
        assert isinstance(notified, Backorder) and not notified.consent_required
        wait_for(lambda: len(_customer_messages(stack.sandbox, email, phone)) == 2)
        notice = {m["provider"]: m for m in _customer_messages(stack.sandbox, email, phone)}
        assert set(notice) == {"mailgun", "twilio"}
        order_number = db_session.scalar(select(Order.number))
        assert order_number and order_number in notice["twilio"]["body"]
        assert "Jamie &lt;b&gt;" in notice["mailgun"]["html"] and "Jamie <b>" not in notice["mailgun"]["html"]

        new_eta = (utcnow() + timedelta(days=60)).date()
        from click.testing import CliRunner

        result = CliRunner().invoke(main, ["eta", "set", SKU, new_eta.isoformat()])
        assert result.exit_code == 0, result.output
        wait_for(lambda: len(_customer_messages(stack.sandbox, email, phone)) == 4)
        db_session.expire_all()
        renewed = db_session.get(Backorder, notified.id)
        assert renewed is not None and renewed.consent_required and renewed.promised_date == new_eta

        db_session.execute(update(Timer).where(Timer.state == "pending").values(due_at=utcnow()))
        db_session.commit()
        fire_due.delay()
        wait_for(lambda: (db_session.expire_all() or
                          db_session.scalar(select(Backorder.resolution_ref).where(Backorder.id == notified.id))))
        assert db_session.scalar(select(Backorder.state).where(Backorder.id == notified.id)) == "auto_cancelled"
        order_id = created["order"]["id"]
        refunds = requests.get(f"{shop}/state/orders/{order_id}", timeout=5).json()["refunds"]
        assert len(refunds) == 1 and refunds[0]["transactions"][0]["amount"] == "649.00"
        decisions = db_session.execute(select(RefundDecision.request_id, RefundDecision.decision,
                                              RefundDecision.amount_approved_cents, RefundDecision.rule_name)).all()
        assert decisions == [(f"backorder-{notified.id}", "approve", 64900, "backorder auto-cancel")]
        wait_for(lambda: len(_customer_messages(stack.sandbox, email, phone)) == 6)
        fire_due.delay()  # a second sweep changes nothing
        wait_for(lambda: (db_session.expire_all() or db_session.scalar(
            select(Timer.id).where(Timer.state == "pending")) is None))
        assert len(requests.get(f"{shop}/state/orders/{order_id}", timeout=5).json()["refunds"]) == 1
        cancelled = [m["provider"] for m in _customer_messages(stack.sandbox, email, phone)
                     if "cancelled" in (m.get("subject") or m.get("body") or "")]
        assert sorted(cancelled) == ["mailgun", "twilio"], "one cancellation message, by email and by SMS"
    assert date.today() <= new_eta
