"""Fixtures of the stock tests: the stack with the Shopify stand-in, synced once (a module that
needs other stand-ins defines its own ``stack``)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Store
from tests.conftest import wait_for
from tests.integration.stock.shopify_admin import STORE
from tests.stack import Stack, running_stack


def _no_quiet_hours(text: str) -> str:
    return text.replace('quiet_hours = "21:00-08:00"', 'quiet_hours = "00:00-00:00"')


@pytest.fixture
def stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
          celery_worker: object) -> Iterator[Stack]:
    """The web app and a worker against the Shopify stand-in (five of each item there, no quiet
    hours), after a full poll of the store has finished."""
    from tasks.polling import poll_store

    with running_stack(db_session, monkeypatch, tmp_path, {"shopify"}, available=5, edit=_no_quiet_hours) as running:
        store_id = db_session.scalar(select(Store.id).where(Store.key == STORE))
        poll_store.delay(store_id, True)
        wait_for(lambda: db_session.expire_all() or db_session.scalar(
            select(Store.last_full_sync_at).where(Store.id == store_id)), timeout_s=30)
        yield running
