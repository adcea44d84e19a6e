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
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT
from tests.connectors.conftest import sandbox_app

SECRET = "helpdesk-secret-for-tests"
NOWHERE = "http://127.0.0.1:9/hooks"  # the delivery fails; its record keeps the body and headers
ENV = {"ZD_EMAIL": "agent@futon.example", "ZD_TOKEN": "zd_token_sandbox", "GG_EMAIL": "agent@futon.example",
       "GG_KEY": "gorgias_key_sandbox", "IC_TOKEN": "intercom_token_sandbox", "HELPDESK_SECRET": SECRET}


def helpdesks(base: str) -> str:
    return f'''
[[helpdesks]]
key = "zd"
platform = "zendesk"
base_url = "{base}/zendesk/zd"
credentials = {{ email = "ZD_EMAIL", api_token = "ZD_TOKEN" }}
webhook_secret_env = "HELPDESK_SECRET"

[[helpdesks]]
key = "gg"
platform = "gorgias"
base_url = "{base}/gorgias/gg"
credentials = {{ email = "GG_EMAIL", api_key = "GG_KEY" }}
webhook_secret_env = "HELPDESK_SECRET"

[[helpdesks]]
key = "ic"
platform = "intercom"
base_url = "{base}/intercom/ic"
credentials = {{ access_token = "IC_TOKEN" }}
webhook_secret_env = "HELPDESK_SECRET"
options = {{ admin_id = "814860" }}
'''


@pytest.fixture
def sandbox() -> Iterator[str]:
    server = SandboxServer(app=sandbox_app("sandbox.zendesk", "sandbox.gorgias", "sandbox.intercom")).start()
    yield server.base_url
    server.stop()


@pytest.fixture
def client(db_session: Session, sandbox: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from domain.core.env_settings import get_settings
    from workers.web import create_app

    path = tmp_path / "store.toml"
    path.write_text((REPO_ROOT / "examples" / "futon-store.toml").read_text() + helpdesks(sandbox))
    for key, value in {**ENV, "BACKORDERS_CONFIG": str(path)}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield TestClient(create_app(), raise_server_exceptions=False)
    get_settings.cache_clear()


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
