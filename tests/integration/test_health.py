"""/healthz answers 200 when PostgreSQL and the broker answer, 503 with the reason when not."""
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(services: dict[str, str]) -> Iterator[TestClient]:
    from workers.web import create_app

    yield TestClient(create_app())


def _point_at(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    from domain.db import reset_engine
    from domain.settings import get_settings

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    reset_engine()


@pytest.fixture
def restore_settings() -> Iterator[None]:
    yield
    from domain.db import reset_engine
    from domain.settings import get_settings

    get_settings.cache_clear()
    reset_engine()


def test_healthy(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["ok"] is True
    assert response.json()["checks"]["broker"]["ok"] is True


def test_database_down_is_503_with_reason(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                          restore_settings: None) -> None:
    from sqlalchemy.engine import make_url

    from workers.embedded import _free_port

    url = make_url(os.environ["DATABASE_URL"])
    _point_at(monkeypatch, DATABASE_URL=url.set(host="127.0.0.1", port=_free_port())
              .render_as_string(hide_password=False))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False
    assert "OperationalError" in body["checks"]["database"]["detail"]
    assert body["checks"]["broker"]["ok"] is True


def test_broker_down_is_503_with_reason(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                        restore_settings: None) -> None:
    from workers.embedded import _free_port

    _point_at(monkeypatch, BROKER_URL=f"redis://127.0.0.1:{_free_port()}/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
