"""A substitute end to end on a real worker: order by webhook → backorder → notice → the customer
opens the substitute link (sees the difference) and confirms → the worker orders it on the Shopify
stand-in as a completed draft order → the new order comes back by webhook."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Backorder, Order, OutboxMessage, Store, SubstituteOrder
from tests.conftest import wait_for
from tests.stack import running_stack

ORIGINAL, SUBSTITUTE = "FUT-FRM-OAK-FULL", "FUT-FRM-OAK-QUEEN"  # 649.00 and 729.00 in the example store


def test_substitute_chosen_by_link_is_ordered_on_shopify(services: dict[str, str], db_session: Session,
                                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        celery_worker: object) -> None:
    from tasks.polling import poll_store

    no_quiet_hours = lambda text: text.replace('quiet_hours = "21:00-08:00"', 'quiet_hours = "00:00-00:00"')  # noqa: E731
    with running_stack(db_session, monkeypatch, tmp_path, {"shopify"}, available=5, edit=no_quiet_hours) as stack:
        store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
        poll_store.delay(store_id, True)
        wait_for(lambda: db_session.scalar(select(Store.last_full_sync_at).where(Store.id == store_id))
                 or db_session.expire_all())
        shop = f"{stack.sandbox}/shopify/shopify-main/_admin"
        requests.post(f"{shop}/set_stock", json={"sku": ORIGINAL, "available": 0}, timeout=10).raise_for_status()
        requests.post(f"{shop}/set_price", json={"sku": SUBSTITUTE, "price": "729.00"}, timeout=10).raise_for_status()
        created = requests.post(f"{shop}/create_order", timeout=10, json={
            "lines": [{"sku": ORIGINAL, "quantity": 1, "price": "649.00"}], "email": "robin@example.com"}).json()

        def notice() -> OutboxMessage | None:
            db_session.expire_all()
            return db_session.scalar(select(OutboxMessage).where(OutboxMessage.template == "backorder_notice",
                                                                 OutboxMessage.channel == "email"))

        sent = wait_for(notice)
        assert isinstance(sent, OutboxMessage)
        [offered] = [s for s in sent.context["substitutes"] if s["sku"] == SUBSTITUTE]
        page = requests.get(offered["link"], timeout=10)
        assert page.status_code == 200
        assert "$80.00 more than the $649.00 you paid: the difference of $80.00 is due" in page.text

        confirmed = requests.post(offered["link"], timeout=10)
        assert confirmed.status_code == 200 and "your choice is saved" in confirmed.text

        def settled() -> SubstituteOrder | None:
            db_session.expire_all()
            return db_session.scalar(select(SubstituteOrder).where(SubstituteOrder.state == "settled"))

        row = wait_for(settled)
        assert isinstance(row, SubstituteOrder) and row.due_cents == 8000
        placed: dict[str, Any] = requests.get(f"{shop}/state/orders/{row.external_id}", timeout=5).json()
        assert placed["financial_status"] == "pending" and placed["total_price"] == "80.00"
        assert [line["sku"] for line in placed["line_items"]] == [SUBSTITUTE]
        assert str(placed["customer"]["id"]) == str(created["order"]["customer"]["id"])
        wait_for(lambda: db_session.expire_all() or db_session.scalar(
            select(Order.id).where(Order.external_id == row.external_id)))
        backorder = db_session.get(Backorder, row.backorder_id)
        assert backorder is not None and backorder.state == "substituted"
