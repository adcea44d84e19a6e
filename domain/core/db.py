"""Engine and sessions. One engine per process, created lazily from the settings."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import ARRAY, Engine, Integer, Text, any_, bindparam, create_engine, event, literal_column
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from domain.core.env_settings import get_settings, normalize_database_url


def make_engine(url: str, **kwargs: object) -> Engine:
    """Pre-ping so a PostgreSQL restart costs one failed checkout, not a broken pool. TCP
    keepalives and ``tcp_user_timeout`` (30 s) end a connection whose server host vanished
    instead of waiting on it for the kernel's 15 minutes; a slow query is unaffected (the
    server's kernel keeps acknowledging)."""
    from domain.core.liveness import keepalive_options

    options: dict[str, object] = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10,
                                  "connect_args": {"connect_timeout": 3, **keepalive_options(30)}}
    options.update(kwargs)
    engine = create_engine(normalize_database_url(url), **options)  # type: ignore[arg-type]
    from domain.core.db_errors import invalidate_stale_sessions
    event.listen(engine, "handle_error", invalidate_stale_sessions)
    return engine


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
    from domain.core import clock

    clock.forget()  # the clock is read from the database the engine points at


def any_int(name: str, values: Iterable[int]) -> ColumnElement[Any]:
    """``= ANY(:name)`` with the ids as ONE array parameter, for ``column == any_int(...)``.

    ``column.in_(ids)`` renders one bind parameter per id, so every list length is a different
    SQL text: SQLAlchemy and psycopg then split and parse a query of a thousand parameters each
    time (py-spy on a 100k-SKU poll: half of purchasing's planning query was psycopg splitting
    that text). One array keeps the statement text fixed whatever the count."""
    return any_(bindparam(name, list(values), type_=ARRAY(Integer)))


def any_text(name: str, values: Iterable[str]) -> ColumnElement[Any]:
    """``any_int`` for text keys such as SKU codes."""
    return any_(bindparam(name, list(values), type_=ARRAY(Text)))


def state_is(column: Any, value: str) -> ColumnElement[bool]:
    """``column = 'value'`` with the value written into the statement text, not bound.

    The queues' partial indexes (``WHERE state = 'pending'`` on the inbox, timers and outbox,
    ``'draft'`` on purchase orders) only serve a plan that can see the value. psycopg prepares a
    statement after a few runs, and PostgreSQL may then switch to a generic plan in which a bound
    ``state = $2`` matches no partial index: the drain's claim walked the whole inbox in id
    order (20,000 rows: 2.8 ms instead of 0.02 ms, growing with the table). Only known state
    names are accepted, never user input."""
    if not value.isidentifier():
        raise ValueError(f"not a state name: {value!r}")
    return column == literal_column(f"'{value}'")
