"""The embedded servers start once under a data dir, are found by later callers, and stop."""
from pathlib import Path

import psycopg
import redis

from workers import embedded


def test_start_find_and_stop(tmp_path: Path) -> None:
    root = tmp_path / "data"
    env: dict[str, str] = {"BACKORDERS_DATA_DIR": str(root)}
    state = embedded.ensure_env(env)
    try:
        assert state is not None
        assert env["DATABASE_URL"] == state.database_url and env["BROKER_URL"] == state.redis_url
        with psycopg.connect(state.database_url.replace("+psycopg", "")) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == ("backorders",)
        assert redis.Redis.from_url(state.redis_url).ping()
        assert len(env["SECRET_KEY"]) >= 32
        again: dict[str, str] = {"BACKORDERS_DATA_DIR": str(root)}
        assert embedded.ensure_env(again) == state, "a second process finds the same servers"
        assert again["SECRET_KEY"] == env["SECRET_KEY"]
        assert embedded.is_running(root)
    finally:
        assert embedded.stop(root)
    assert not embedded.is_running(root)


def test_nothing_embedded_starts_when_urls_are_set(tmp_path: Path) -> None:
    env = {"BACKORDERS_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgresql://u@db/x",
           "BROKER_URL": "redis://cache:6379/0", "REDIS_URL": "redis://cache:6379/1"}
    assert embedded.ensure_env(env) is None
    assert not (tmp_path / "embedded.json").exists()
