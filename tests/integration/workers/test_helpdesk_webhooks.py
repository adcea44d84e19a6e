"""``POST /webhooks/helpdesk/{key}``: deliveries made by the Zendesk, Gorgias and Intercom
stand-ins, verified by the helpdesk's connector and stored once in the inbox; forged ones refused."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import InboxEvent
from domain.helpdesks import inbox
from tests.integration.support import helpdesk_kit
from tests.integration.support.helpdesk_kit import NOWHERE, SECRET


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The stand-ins, with the store configured for them."""
    with helpdesk_kit.configured(tmp_path, monkeypatch) as base:
        yield base


@pytest.fixture
def client(sandbox: str, db_session: Session) -> TestClient:
    from workers.web import create_app

    return TestClient(create_app(), raise_server_exceptions=False)


def new_ticket(sandbox: str, platform: str, instance: str) -> dict[str, Any]:
    admin = f"{sandbox}/{platform}/{instance}/_admin"
    requests.post(f"{admin}/webhooks", json={"address": NOWHERE, "secret": SECRET}, timeout=10).raise_for_status()
    made = requests.post(f"{admin}/{'conversations' if platform == 'intercom' else 'tickets'}",
                         json={"email": "rui@example.com", "body": "Where is my futon?"}, timeout=10)
    made.raise_for_status()
    [delivery] = made.json()["webhooks"]
    return dict(delivery)


@pytest.mark.parametrize("platform,key", [("zendesk", "zd"), ("gorgias", "gg"), ("intercom", "ic")])
def test_a_delivery_is_stored_once_and_a_forged_one_refused(client: TestClient, sandbox: str, db_session: Session,
                                                            platform: str, key: str) -> None:
    delivery = new_ticket(sandbox, platform, key)
    body, headers = delivery["body"].encode(), delivery["headers"]
    first = client.post(f"/webhooks/helpdesk/{key}", content=body, headers=headers)
    assert first.status_code == 200 and first.json()["new"] is True
    again = client.post(f"/webhooks/helpdesk/{key}", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["new"] is False
    forged = client.post(f"/webhooks/helpdesk/{key}", content=body.replace(b"futon", b"sofa"),
                         headers={**headers, "X-Backorders-Token": "guess"} if platform == "gorgias" else headers)
    assert forged.status_code == 401
    db_session.expire_all()
    rows = db_session.scalars(select(InboxEvent).where(InboxEvent.source == f"helpdesk:{key}")).all()
    assert len(rows) == 1 and rows[0].kind == "helpdesk" and rows[0].state == "pending"
    [(row, ticket)] = inbox.pending(db_session, key)
    assert ticket is not None and ticket.source == platform and "Where is my futon?" in (ticket.body or ticket.subject)


def test_an_unknown_helpdesk_is_404_and_a_body_that_is_not_json_is_400(client: TestClient, sandbox: str) -> None:
    assert client.post("/webhooks/helpdesk/nope", content=b"{}").status_code == 404
    assert client.post("/webhooks/helpdesk/gg?token=" + SECRET, content=b"not json").status_code == 400
