"""``domain.core.clock``: the database's time carried by the monotonic clock; freezegun wins in tests.

The database read is replaced here by a function returning a chosen time, so the arithmetic is
checked without a server; ``tests/integration/core/test_one_clock.py`` runs it against PostgreSQL.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import freezegun
import pytest

from domain.core import clock

DB_TIME = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_clock() -> Iterator[None]:
    clock.forget()
    yield
    clock.forget()


def _database_at(when: datetime, reads: list[int]) -> object:
    def read() -> clock.Anchor:
        reads.append(1)
        return clock.Anchor(when, clock._MONOTONIC[0]())
    return read


def test_utcnow_is_the_database_time_advanced_by_the_monotonic_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    monkeypatch.setattr(clock, "read_database_clock", _database_at(DB_TIME, reads))
    first = clock.utcnow()
    second = clock.utcnow()
    assert DB_TIME <= first <= second < DB_TIME + timedelta(seconds=5)
    assert abs((datetime.now(UTC) - first).total_seconds()) > 3600, "not this process's clock"
    assert reads == [1], "read once, then carried by the monotonic clock"


def test_the_database_is_asked_again_after_the_resync_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    monkeypatch.setattr(clock, "read_database_clock", _database_at(DB_TIME, reads))
    monkeypatch.setattr(clock, "RESYNC_S", 0.0)
    clock.utcnow()
    clock.utcnow()  # stale at once: re-read in the background while the old anchor answers
    deadline = time.monotonic() + 5
    while len(reads) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(reads) == 2


def test_without_a_database_the_process_clock_stands_in_and_is_retried_later(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[int] = []

    def down() -> clock.Anchor:
        attempts.append(1)
        raise ConnectionError("database down")

    monkeypatch.setattr(clock, "read_database_clock", down)
    assert abs((clock.utcnow() - datetime.now(UTC)).total_seconds()) < 1
    clock.utcnow()
    assert attempts == [1], f"not asked again within RETRY_S ({clock.RETRY_S}s)"
    monkeypatch.setattr(clock, "read_database_clock", _database_at(DB_TIME, []))
    clock.forget()  # the retry wait is over: the next read asks the database
    assert clock.utcnow() < DB_TIME + timedelta(seconds=5), "the database's clock once it answers"


def test_an_anchor_that_cannot_be_refreshed_keeps_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "read_database_clock", _database_at(DB_TIME, []))
    clock.utcnow()

    def down() -> clock.Anchor:
        raise ConnectionError("database down")

    monkeypatch.setattr(clock, "read_database_clock", down)
    monkeypatch.setattr(clock, "RESYNC_S", 0.0)
    assert DB_TIME <= clock.utcnow() < DB_TIME + timedelta(seconds=5)


def test_freezegun_decides_in_tests_unless_it_plays_a_wrong_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "read_database_clock", _database_at(DB_TIME, []))
    with freezegun.freeze_time("2021-06-01 09:00:00"):
        assert clock.utcnow() == datetime(2021, 6, 1, 9, 0, tzinfo=UTC)
        monkeypatch.setattr(clock, "TRUST_FREEZEGUN", False)
        assert DB_TIME <= clock.utcnow() < DB_TIME + timedelta(seconds=5)
