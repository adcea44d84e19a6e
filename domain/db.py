"""Engine and sessions. One engine per process, created lazily from the settings."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import ARRAY, Engine, Integer, Text, any_, bindparam, create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

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


def any_int(name: str, values: Iterable[int]) -> ColumnElement[Any]:
    """``= ANY(:name)`` with the ids as ONE array parameter, for ``column == any_int(...)``.

    ``column.in_(ids)`` renders one placeholder per id, so every list length is a different SQL
    text: SQLAlchemy and psycopg then split and parse a query of a thousand placeholders each
    time (py-spy on a 100k-SKU poll: half of purchasing's planning query was psycopg splitting
    that text). One array keeps the statement text fixed whatever the count."""
    return any_(bindparam(name, list(values), type_=ARRAY(Integer)))


def any_text(name: str, values: Iterable[str]) -> ColumnElement[Any]:
    """``any_int`` for text keys such as SKU codes."""
    return any_(bindparam(name, list(values), type_=ARRAY(Text)))
