"""POST /webhooks/{store}: 401 bad signature, 400 malformed, 413 too large, 404 unknown store,
503 while PostgreSQL is unreachable, 200 for pings and duplicates — never 500."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import InboxEvent
from demo.scenario import PLATFORM_SECRETS

SECRET = PLATFORM_SECRETS["SHOPIFY_WEBHOOK_SECRET"]
LEVEL = {"inventory_item_id": 9007199254740993, "location_id": 655441491, "available": 0,
         "updated_at": "2026-11-25T10:00:00-05:00"}


@pytest.fixture
def client(db_session: Session, catalog: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for key, value in PLATFORM_SECRETS.items():
        monkeypatch.setenv(key, value)
    from workers import webhook_stores
    from workers.web import create_app

    webhook_stores.forget()
    yield TestClient(create_app(), raise_server_exceptions=False)
    webhook_stores.forget()


def _shopify(body: bytes, event_id: str = "evt-1", secret: str = SECRET) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-Shopify-Topic": "inventory_levels/update", "X-Shopify-Hmac-Sha256": digest,
            "X-Shopify-Event-Id": event_id, "X-Shopify-Webhook-Id": "w-1", "Content-Type": "application/json"}


def test_accepts_once_and_answers_duplicates(client: TestClient, db_session: Session) -> None:
    body = json.dumps(LEVEL).encode()
    first = client.post("/webhooks/shopify-main", content=body, headers=_shopify(body))
    again = client.post("/webhooks/shopify-main", content=body, headers=_shopify(body))
    assert (first.status_code, first.json()["status"]) == (200, "accepted")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert db_session.scalar(select(func.count()).select_from(InboxEvent)) == 1
    stored = db_session.scalar(select(InboxEvent))
    assert stored is not None and "9007199254740993" in stored.payload["body"], "the raw body is kept exactly"


def test_rejections(client: TestClient, db_session: Session) -> None:
    body = json.dumps(LEVEL).encode()
    flipped = body.replace(b'"available": 0', b'"available": 9')
    assert client.post("/webhooks/shopify-main", content=flipped, headers=_shopify(body)).status_code == 401
    assert client.post("/webhooks/shopify-main", content=body,
                       headers=_shopify(body, secret="wrong")).status_code == 401
    garbage = b"{not json"
    assert client.post("/webhooks/shopify-main", content=garbage, headers=_shopify(garbage)).status_code == 400
    assert client.post("/webhooks/nowhere", content=body, headers=_shopify(body)).status_code == 404
    huge = b"x" * (int(os.environ.get("WEBHOOK_MAX_BYTES", str(2 * 1024 * 1024))) + 1)
    assert client.post("/webhooks/shopify-main", content=huge, headers=_shopify(huge)).status_code == 413
    assert db_session.scalar(select(func.count()).select_from(InboxEvent)) == 0, "nothing stored"


def test_woocommerce_ping_gets_200(client: TestClient) -> None:
    response = client.post("/webhooks/woo-outlet", content=b"webhook_id=17",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and response.json()["status"] == "pong"


def test_database_down_is_503_not_500(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    from domain.core.db import reset_engine
    from domain.core.env_settings import get_settings
    from workers.embedded import free_port

    url = make_url(os.environ["DATABASE_URL"]).set(host="127.0.0.1", port=free_port())
    monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    reset_engine()
    try:
        body = json.dumps(LEVEL).encode()
        response = client.post("/webhooks/shopify-main", content=body, headers=_shopify(body, "evt-2"))
        assert response.status_code == 503 and response.headers["Retry-After"]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        reset_engine()


def test_fastapis_own_telemetry_is_on_only_when_the_deployment_turns_it_on(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.web import create_app

    off = client.app._telemetry  # type: ignore[attr-defined]
    assert (off["tracing"], off["metrics"], off["logs"]) == (False, False, False)
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    on = create_app()._telemetry
    assert (on["tracing"], on["metrics"], on["logs"], on["auto_configure"]) == (True, True, True, True)
