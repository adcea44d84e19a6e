"""Runtime settings read from the environment and validated once at start-up.

Secrets and URLs come from the environment only; the business set-up lives in the TOML file
(``domain.core.business_config``). A missing or malformed variable stops the process with a message that names
it, instead of failing later inside a task.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from domain.core.business_config import BusinessConfig

DATABASE_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg"}
BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps", "pyamqp"}
REDIS_SCHEMES = {"redis", "rediss", "unix"}
BASIC_AUTH_PATTERN = re.compile(r"^[^:,\s]+:[^,\s]+(,[^:,\s]+:[^,\s]+)*$")


class SettingsError(Exception):
    """One or more environment variables are missing or malformed; the message names each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    redis_url: str
    data_dir: Path
    config_file: Path
    secret_key: str
    flower_basic_auth: str | None
    visibility_timeout_s: int
    public_base_url: str
    log_level: str


def normalize_database_url(url: str) -> str:
    """SQLAlchemy needs the psycopg 3 driver named; operators paste plain ``postgresql://`` URLs."""
    scheme, _, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def _check_url(name: str, value: str, schemes: set[str], problems: list[str]) -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        problems.append(f"{name}: scheme {parts.scheme or '(none)'!r} is not one of {sorted(schemes)}")
    elif parts.scheme != "unix" and not parts.hostname and "host=" not in parts.query:
        problems.append(f"{name}: no host in {value!r}")


def _int_var(env: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name}: {raw!r} is not a whole number")
        return default
    if value <= 0:
        problems.append(f"{name}: must be positive, got {value}")
    return value


def env_seconds(name: str, default: timedelta) -> timedelta:
    """A tuning duration read from ``name`` (seconds) each time it is asked for: unset or garbled,
    ``default``; never below zero."""
    raw = os.environ.get(name, "")
    try:
        return timedelta(seconds=max(0.0, float(raw))) if raw else default
    except ValueError:
        return default


def default_public_base_url(env: Mapping[str, str]) -> str:
    """Where customer links point when ``PUBLIC_BASE_URL`` is unset: the web process on this
    machine, on the port it listens on (``PORT``, as the Procfile's ``web`` line and the systemd
    unit read it; 8000 when unset). Behind a proxy or on another host, set ``PUBLIC_BASE_URL``."""
    port = (env.get("PORT") or "").strip()
    return f"http://127.0.0.1:{port if port.isdigit() else 8000}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Validate the environment; ``workers.embedded.ensure_env`` fills the URLs first when unset."""
    env = os.environ if env is None else env
    problems: list[str] = []

    database_url = env.get("DATABASE_URL", "")
    broker_url = env.get("BROKER_URL", "") or env.get("REDIS_URL", "")
    redis_url = env.get("REDIS_URL", "") or (broker_url if broker_url.startswith("redis") else "")
    for name, value in (("DATABASE_URL", database_url), ("BROKER_URL", broker_url), ("REDIS_URL", redis_url)):
        if not value:
            problems.append(f"{name}: not set (unset all URL variables to use the embedded servers)")
    if database_url:
        _check_url("DATABASE_URL", database_url, DATABASE_SCHEMES, problems)
    if broker_url:
        _check_url("BROKER_URL", broker_url, BROKER_SCHEMES, problems)
    if redis_url:
        _check_url("REDIS_URL", redis_url, REDIS_SCHEMES, problems)

    flower_auth = env.get("FLOWER_BASIC_AUTH") or None
    if flower_auth is not None and not BASIC_AUTH_PATTERN.match(flower_auth):
        problems.append("FLOWER_BASIC_AUTH: expected user:password[,user:password]")

    secret_key = env.get("SECRET_KEY", "")
    if secret_key and len(secret_key) < 32:
        problems.append("SECRET_KEY: must be at least 32 characters")
    if not secret_key:
        problems.append("SECRET_KEY: not set (it signs customer links)")

    visibility_timeout = _int_var(env, "VISIBILITY_TIMEOUT_S", 3600, problems)
    log_level = env.get("LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        problems.append(f"LOG_LEVEL: {log_level!r} is not one of DEBUG, INFO, WARNING, ERROR")

    if problems:
        raise SettingsError(problems)
    data_dir = Path(env.get("BACKORDERS_DATA_DIR", ".data")).resolve()
    return Settings(
        database_url=normalize_database_url(database_url),
        broker_url=broker_url,
        redis_url=redis_url,
        data_dir=data_dir,
        config_file=Path(env.get("BACKORDERS_CONFIG", "examples/futon-store.toml")),
        secret_key=secret_key,
        flower_basic_auth=flower_auth,
        visibility_timeout_s=visibility_timeout,
        public_base_url=(env.get("PUBLIC_BASE_URL") or default_public_base_url(env)).rstrip("/"),
        log_level=log_level,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests that change the environment call ``get_settings.cache_clear()``."""
    return load_settings()


def redis_key(*parts: str) -> str:
    """A Redis key in this deployment's namespace.

    Several deployments (or test sessions, or benchmarks) may share one Redis; their flags,
    buckets and tokens must never meet. ``REDIS_KEY_PREFIX`` names the namespace, defaulting to
    the broker's ``CELERY_KEY_PREFIX``.
    """
    prefix = os.environ.get("REDIS_KEY_PREFIX") or os.environ.get("CELERY_KEY_PREFIX", "")
    return prefix + "backorders:" + ":".join(parts)


@dataclass(frozen=True)
class JourneySettings:
    """What a customer or vendor decision needs from the outside: the business config (the TOML
    file), the base URL of our links and the secret that signs them."""

    config: BusinessConfig
    public_base_url: str
    secret_key: str


def current() -> JourneySettings:
    """The settings in force now: the loaded business config and the environment's link settings.
    Callers look it up as ``settings.current()`` at call time, so a test can replace it."""
    from domain.core.business_config import current_config

    env = get_settings()
    return JourneySettings(current_config(), env.public_base_url, env.secret_key)
