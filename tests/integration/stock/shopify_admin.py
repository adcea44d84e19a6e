"""The Shopify stand-in's admin, as the Shopify webhook tests drive it on a running stack: its
``_admin`` calls (make an order, fulfil, redeliver, list what it sent) and the check that a
delivery is stored once and a tampered copy refused."""
from __future__ import annotations

from typing import Any

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import InboxEvent
from tests.conftest import wait_for
from tests.stack import Stack

STORE = "shopify-main"


def admin(stack: Stack, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST ``body`` to the stand-in's ``_admin/{path}`` (GET without one); its JSON answer."""
    url = f"{stack.sandbox}/shopify/{STORE}/_admin/{path}"
    response = requests.post(url, json=body, timeout=10) if body is not None else requests.get(url, timeout=10)
    response.raise_for_status()
    return response.json()


def stored(session: Session, topic: str) -> int:
    """How many of the store's inbox events have ``topic``."""
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.source == STORE, InboxEvent.topic == topic)) or 0


def once_and_untampered(stack: Stack, session: Session, topic: str, change: tuple[str, str]) -> None:
    """The last delivery of ``topic`` is stored once however often Shopify retries it (same
    ``X-Shopify-Webhook-Id``), and a copy with ``change`` made to its body is refused with 401 and
    stores nothing."""
    delivery = next(d for d in reversed(admin(stack, "webhooks")["deliveries"]) if d["topic"] == topic)
    assert delivery["status"] == 200, delivery
    wait_for(lambda: stored(session, topic) == 1)
    index = admin(stack, "webhooks")["deliveries"].index(delivery)
    assert admin(stack, "redeliver", {"index": index, "times": 2})["statuses"] == [200, 200]
    tampered = delivery["body"].replace(*change)
    assert tampered != delivery["body"]
    refused = requests.post(f"{stack.web}/webhooks/{STORE}", data=tampered.encode(), headers=delivery["headers"],
                            timeout=10)
    assert refused.status_code == 401
    assert stored(session, topic) == 1
