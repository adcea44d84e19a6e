"""Engine and sessions. One engine per process, created lazily from the settings."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from domain.settings import get_settings, normalize_database_url


def make_engine(url: str, **kwargs: object) -> Engine:
    """Pre-ping so a PostgreSQL restart costs one failed checkout, not a broken pool."""
    options: dict[str, object] = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10,
                                  "connect_args": {"connect_timeout": 3}}
    options.update(kwargs)
    return create_engine(normalize_database_url(url), **options)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_engine() -> None:
    """Forget the cached engine (after a fork, or when tests point at another database)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
