"""The receiver's fast path: batch insert, group commit across concurrent requests, the per-process
store cache, and one drain wake-up per committed batch — against real PostgreSQL and Redis."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import redis
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.core import coalesce
from domain.core.db import get_engine
from domain.core.env_settings import get_settings, redis_key
from domain.core.models import InboxEvent, Store
from domain.stock import webhook_inbox
from demo.scenario import PLATFORM_SECRETS

SECRET_ENV = "SHOPIFY_WEBHOOK_SECRET"
STORE = "shopify-main"


@pytest.fixture
def app(db_session: Session, catalog: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    for key, value in PLATFORM_SECRETS.items():
        monkeypatch.setenv(key, value)
    from workers import webhook_stores
    from workers.web import create_app

    webhook_stores.forget()
    coalesce.clear(STORE)
    yield create_app()
    webhook_stores.forget()
    coalesce.clear(STORE)


def _level(n: int) -> bytes:
    return json.dumps({"inventory_item_id": 9007199254740993, "location_id": 655441491, "available": n,
                       "updated_at": "2026-11-25T10:00:00-05:00"}).encode()


def _signed(body: bytes, event_id: str, secret: str | None = None) -> dict[str, str]:
    key = (secret or PLATFORM_SECRETS[SECRET_ENV]).encode()
    digest = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    return {"X-Shopify-Topic": "inventory_levels/update", "X-Shopify-Hmac-Sha256": digest,
            "X-Shopify-Event-Id": event_id, "Content-Type": "application/json"}


async def _post_all(app: FastAPI, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[httpx.Response]:
    """All deliveries at once, on one event loop, as concurrent platform requests would arrive."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        return list(await asyncio.gather(*(client.post(f"/webhooks/{STORE}", content=body, headers=headers)
                                           for body, headers in deliveries)))


def _post(app: FastAPI, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[httpx.Response]:
    return asyncio.run(_post_all(app, deliveries))


def _rows(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def _event(key: str, n: int = 0) -> webhook_inbox.NewEvent:
    return webhook_inbox.NewEvent(source=STORE, dedupe_key=key, kind="inventory_update", topic="inventory_levels/update",
                          payload={"headers": {"x-n": str(n)}, "body": _level(n).decode()},
                          occurred_at=datetime(2026, 11, 25, 15, 0, tzinfo=UTC))


def test_accept_batch_stores_each_key_once_and_tells_new_from_duplicate(db_session: Session) -> None:
    earlier = webhook_inbox.accept(db_session, source=STORE, dedupe_key="shopify:old", kind="inventory_update",
                           topic="inventory_levels/update", payload={"body": "{}"}, occurred_at=None)
    db_session.commit()
    with get_engine().begin() as connection:
        ids = webhook_inbox.accept_batch(connection, [_event("shopify:b", 1), _event("shopify:old", 2),
                                              _event("shopify:a", 3), _event("shopify:b", 4)])
    assert ids[1] is None and ids[3] is None, "a stored key and a repeat within the batch are duplicates"
    assert ids[0] is not None and ids[2] is not None and ids[0] != ids[2] and earlier not in ids
    assert _rows(db_session) == 3
    stored = db_session.get(InboxEvent, ids[0])
    assert stored is not None and stored.payload == _event("shopify:b", 1).payload, "the first occurrence is kept"
    assert stored.occurred_at == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert (stored.state, stored.kind, stored.topic) == ("pending", "inventory_update", "inventory_levels/update")


def test_a_batch_keeps_non_ascii_text_and_integers_past_64_bits_as_sent(db_session: Session) -> None:
    """The batch is serialised by orjson, which writes non-ASCII as it is and refuses integers past
    64 bits: those rows go through ``json.dumps`` instead, and both read back exactly as sent."""
    accented = webhook_inbox.NewEvent(source=STORE, dedupe_key="shopify:é", kind="inventory_update",
                                      topic="inventory_levels/update", occurred_at=None,
                                      payload={"body": '{"title": "Crème brûlée ☕"}', "records": {"name": "Zoë \u2028"}})
    huge = webhook_inbox.NewEvent(source=STORE, dedupe_key="shopify:huge", kind="inventory_update",
                                  topic="inventory_levels/update", occurred_at=None,
                                  payload={"body": "{}", "records": {"id": 2**70, "n": -(2**65)}})
    assert json.loads(webhook_inbox.rows_json([{"payload": huge.payload}])) == [{"payload": huge.payload}]
    with get_engine().begin() as connection:
        first = webhook_inbox.accept_batch(connection, [accented])
        second = webhook_inbox.accept_batch(connection, [huge])
    assert None not in first + second
    stored = [db_session.get(InboxEvent, row_id) for row_id in first + second]
    assert [row.payload for row in stored if row is not None] == [accented.payload, huge.payload]
    assert stored[0] is not None and stored[0].dedupe_key == "shopify:é"


def test_concurrent_deliveries_share_commits_and_a_repeated_event_is_stored_once(
        app: FastAPI, db_session: Session) -> None:
    repeated = _level(7)
    deliveries = [(repeated, _signed(repeated, "evt-repeated")) for _ in range(6)]
    deliveries += [(_level(n), _signed(_level(n), f"evt-{n}")) for n in range(20)]
    responses = _post(app, deliveries)
    assert [r.status_code for r in responses] == [200] * len(deliveries)
    statuses = [r.json()["status"] for r in responses]
    assert sorted(statuses[:6]) == ["accepted"] + ["duplicate"] * 5, "one delivery of the repeat is stored"
    assert statuses[6:] == ["accepted"] * 20
    ids = [r.json()["id"] for r in responses if r.json()["status"] == "accepted"]
    assert len(set(ids)) == 21
    assert _rows(db_session) == 21, "every 200 'accepted' is a committed row, and nothing more"
    db_session.expire_all()
    assert sorted(db_session.scalars(select(InboxEvent.id))) == sorted(ids)


def test_database_down_answers_503_to_every_waiting_request_and_the_writer_recovers(
        app: FastAPI, db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    from domain.core.db import reset_engine
    from workers.embedded import free_port

    warm = _post(app, [(_level(1), _signed(_level(1), "evt-warm"))])  # the store is now cached
    assert warm[0].json()["status"] == "accepted"
    url = make_url(os.environ["DATABASE_URL"]).set(host="127.0.0.1", port=free_port())
    monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    reset_engine()
    try:
        down = _post(app, [(_level(n), _signed(_level(n), f"evt-down-{n}")) for n in range(8)])
        assert [r.status_code for r in down] == [503] * 8
        assert all(r.headers["Retry-After"] for r in down)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        reset_engine()
    for key, value in PLATFORM_SECRETS.items():
        monkeypatch.setenv(key, value)
    again = _post(app, [(_level(2), _signed(_level(2), "evt-down-0"))])
    assert (again[0].status_code, again[0].json()["status"]) == (200, "accepted"), "the 503 stored nothing"
    assert _rows(db_session) == 2


def test_store_cache_keeps_the_row_for_its_ttl_but_follows_a_new_secret_at_once(
        app: FastAPI, db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from workers import webhook_stores

    assert _post(app, [(_level(1), _signed(_level(1), "evt-a"))])[0].status_code == 200
    db_session.execute(update(Store).where(Store.key == STORE).values(enabled=False))
    db_session.commit()
    cached = _post(app, [(_level(2), _signed(_level(2), "evt-b"))])[0]
    assert cached.status_code == 200, "within STORE_TTL_S the process still knows the store"
    webhook_stores.forget()
    assert _post(app, [(_level(3), _signed(_level(3), "evt-c"))])[0].status_code == 404
    assert _post(app, [(_level(3), _signed(_level(3), "evt-c"))])[0].status_code == 404, "remembered unknown"

    db_session.execute(update(Store).where(Store.key == STORE).values(enabled=True))
    db_session.commit()
    webhook_stores.forget()
    assert _post(app, [(_level(4), _signed(_level(4), "evt-d"))])[0].status_code == 200
    monkeypatch.setenv(SECRET_ENV, "rotated-secret")
    old = _post(app, [(_level(5), _signed(_level(5), "evt-e"))])[0]
    new = _post(app, [(_level(5), _signed(_level(5), "evt-e", secret="rotated-secret"))])[0]
    assert (old.status_code, new.status_code) == (401, 200), "a rotated secret is used by the next request"


def test_a_committed_batch_wakes_one_drain_and_a_cleared_flag_wakes_the_next(
        app: FastAPI, db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted where the writer publishes, not in the broker's queue: any worker left running by
    an earlier test would consume a queued drain and make the count meaningless."""
    from workers import ingest_writer

    woken: list[str] = []
    correlated: list[str | None] = []
    monkeypatch.setattr(ingest_writer, "enqueue_drain",
                        lambda source, correlation_id=None: (woken.append(source), correlated.append(correlation_id)))
    burst = _post(app, [(_level(n), _signed(_level(n), f"evt-burst-{n}")) for n in range(10)])
    assert [r.json()["status"] for r in burst] == ["accepted"] * 10
    client = redis.Redis.from_url(get_settings().redis_url)
    try:
        assert client.exists(redis_key("drain-wanted", STORE)), "the flag stands once the rows are committed"
    finally:
        client.close()
    assert woken == [STORE], "ten deliveries, one drain"
    assert correlated[0] and len(correlated[0]) == 16, "the drain carries the chain's correlation id"

    duplicate = _post(app, [(_level(0), _signed(_level(0), "evt-burst-0"))])
    assert duplicate[0].json()["status"] == "duplicate"
    assert woken == [STORE]

    coalesce.clear(STORE)  # what a drain does when it starts
    late = _post(app, [(_level(11), _signed(_level(11), "evt-late"))])
    assert late[0].json()["status"] == "accepted"
    assert woken == [STORE, STORE], "a row committed after the drain started wakes another"


def test_should_wake_many_sets_each_flag_once(services: dict[str, str]) -> None:
    sources = ["wake-test-a", "wake-test-b"]
    for source in sources:
        coalesce.clear(source)
    try:
        assert coalesce.should_wake_many(["wake-test-a", "wake-test-b", "wake-test-a"]) == sources
        assert coalesce.should_wake_many(sources) == []
        coalesce.clear("wake-test-b")
        assert coalesce.should_wake_many(sources) == ["wake-test-b"]
        assert coalesce.should_wake_many([]) == []
    finally:
        for source in sources:
            coalesce.clear(source)


def test_a_writer_connection_killed_between_batches_costs_no_503(
        db_session: Session, caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy import text

    from workers.ingest_writer import HeldConnection, InboxWriter

    def kill_writer_backends() -> int:
        with get_engine().connect() as connection:
            killed = connection.execute(text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = :name"),
                {"name": HeldConnection.APPLICATION_NAME}).scalar_one()
        return int(killed)

    async def scenario() -> list[object]:
        writer = InboxWriter(asyncio.get_running_loop(), slots=1)
        first = await writer.submit(_event("shopify:before-kill", 1))
        assert kill_writer_backends() == 1, "the writer keeps one connection between batches"
        second = await writer.submit(_event("shopify:after-kill", 2))
        return [first, second]

    with caplog.at_level("WARNING", logger="workers.ingest_writer"):
        first, second = asyncio.run(scenario())
    assert first.event_id is not None and second.event_id is not None  # type: ignore[attr-defined]
    assert second.error is None, "the batch was retried on a new connection, not answered 503"  # type: ignore[attr-defined]
    assert any("retrying the batch" in record.message for record in caplog.records)
    assert _rows(db_session) == 2
