from pathlib import Path

import pytest

from domain.core.env_settings import SettingsError, load_settings, normalize_database_url

GOOD = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/backorders",
    "BROKER_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": "k" * 40,
}


def test_valid_environment_is_normalised() -> None:
    settings = load_settings(GOOD)
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1:5432/backorders"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.visibility_timeout_s == 3600
    assert settings.data_dir == Path(".data").resolve()


def test_each_bad_variable_is_named() -> None:
    env = {"DATABASE_URL": "mysql://x@h/db", "BROKER_URL": "kafka://h", "SECRET_KEY": "short",
           "FLOWER_BASIC_AUTH": "no-colon", "VISIBILITY_TIMEOUT_S": "soon", "LOG_LEVEL": "LOUD"}
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    names = [p.split(":", 1)[0] for p in caught.value.problems]
    assert names == ["REDIS_URL", "DATABASE_URL", "BROKER_URL", "FLOWER_BASIC_AUTH", "SECRET_KEY",
                     "VISIBILITY_TIMEOUT_S", "LOG_LEVEL"]
    assert "mysql" in str(caught.value)


def test_missing_urls_are_reported_not_guessed() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"SECRET_KEY": "k" * 40})
    assert any(p.startswith("DATABASE_URL: not set") for p in caught.value.problems)


def test_amqp_broker_with_separate_redis() -> None:
    settings = load_settings(dict(GOOD, BROKER_URL="amqp://guest:guest@127.0.0.1:5672//",
                                  REDIS_URL="redis://127.0.0.1:6379/1"))
    assert settings.broker_url.startswith("amqp://")
    assert settings.redis_url.endswith("/1")


def test_database_url_normalisation_leaves_driver_urls_alone() -> None:
    assert normalize_database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_database_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"


def test_customer_links_follow_the_web_port_unless_a_public_url_is_set() -> None:
    assert load_settings(GOOD).public_base_url == "http://127.0.0.1:8000"
    assert load_settings({**GOOD, "PORT": "5000"}).public_base_url == "http://127.0.0.1:5000"
    assert load_settings({**GOOD, "PORT": "5000", "PUBLIC_BASE_URL": "https://shop.example/"}).public_base_url \
        == "https://shop.example"
    assert load_settings({**GOOD, "PUBLIC_BASE_URL": ""}).public_base_url == "http://127.0.0.1:8000"
