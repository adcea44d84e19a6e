"""Fixtures of the helpdesk tests: the Zendesk, Gorgias and Intercom stand-ins wired into the
store's business file (a module names its ``[[helpdesks]]`` entries by overriding
``helpdesk_toml``), and our web app in front of them."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.integration.support import helpdesk_kit


@pytest.fixture
def helpdesk_toml() -> Callable[[str], str]:
    """The ``[[helpdesks]]`` entries for the stand-ins' base URL."""
    return helpdesk_kit.helpdesks


@pytest.fixture
def configured(helpdesk_toml: Callable[[str], str], tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The stand-ins running and the store configured for them; their base URL."""
    with helpdesk_kit.configured(tmp_path, monkeypatch, helpdesk_toml) as base:
        yield base


@pytest.fixture
def client(configured: str, db_session: Session) -> TestClient:
    from workers.web import create_app

    return TestClient(create_app(), raise_server_exceptions=False)
