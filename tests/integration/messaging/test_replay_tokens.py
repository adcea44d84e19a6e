"""Mailgun's one-use callback tokens live in PostgreSQL (``domain.messaging.replay``), not only in Redis."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.messaging.mailgun import sign as mailgun_sign
from domain.core.env_settings import get_settings
from domain.core.models import ReplayToken
from domain.messaging import replay
from workers.callbacks import router

KEY = "replay-test-signing-key"


def signed_event(token: str) -> dict[str, object]:
    stamp = str(int(time.time()))
    return {"signature": {"timestamp": stamp, "token": token, "signature": mailgun_sign(KEY, stamp, token)},
            "event-data": {"event": "delivered", "message": {"headers": {"message-id": f"<{token}@mg.test>"}}}}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, db_session: Session) -> TestClient:
    monkeypatch.setenv("MAILGUN_WEBHOOK_SIGNING_KEY", KEY)
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_a_replayed_callback_is_refused_and_its_token_is_a_database_row_not_a_redis_key(
        client: TestClient, db_session: Session) -> None:
    token = uuid.uuid4().hex + uuid.uuid4().hex[:18]
    body = signed_event(token)
    assert client.post("/callbacks/mailgun", json=body).status_code == 200
    assert client.post("/callbacks/mailgun", json=body).status_code == 401
    assert db_session.scalar(select(func.count()).select_from(ReplayToken).where(ReplayToken.token == token)) == 1
    broker = redis.Redis.from_url(get_settings().redis_url)
    try:  # nothing about the token is left in Redis: flushing it cannot let the replay in
        assert not [key for key in broker.scan_iter(f"*{token}*", count=1000)]
    finally:
        broker.close()


def test_a_claim_is_one_use_until_it_expires_and_a_rolled_back_claim_is_released(db_session: Session) -> None:
    window = timedelta(seconds=900)
    assert replay.claim(db_session, "mailgun", "tok-a", window) is True
    db_session.rollback()  # the apply failed: the claim goes with its transaction
    assert replay.claim(db_session, "mailgun", "tok-a", window) is True
    assert replay.claim(db_session, "mailgun", "tok-a", window) is False
    assert replay.claim(db_session, "sendgrid", "tok-a", window) is True, "tokens are per source"
    assert replay.claim(db_session, "mailgun", "tok-old", timedelta(seconds=-1)) is True  # already expired
    db_session.commit()
    assert replay.seen(db_session, "mailgun", "tok-a") and not replay.seen(db_session, "mailgun", "tok-old")
    assert replay.purge_expired(db_session) == 1
    assert replay.claim(db_session, "mailgun", "tok-old", window) is True, "a purged token is new again"
    db_session.commit()
    assert {t for t, in db_session.execute(select(ReplayToken.token))} == {"tok-a", "tok-old"}
