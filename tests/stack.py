"""The product's web app and the sandbox over real HTTP, configured like production but for URLs.

Shared by the integration tests that drive whole flows with a real worker.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig, load_config
from domain.stock.catalog import apply_config
from demo import scenario
from sandbox.server import SandboxServer

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Stack:
    sandbox: str
    web: str
    config: BusinessConfig
    config_path: Path


@contextmanager
def running_stack(db_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, platforms: set[str],
                  available: int = 50, edit: Callable[[str], str] | None = None) -> Iterator[Stack]:
    from domain.core.env_settings import get_settings
    from workers.web import create_app

    with SandboxServer() as sandbox, SandboxServer(app=create_app(), health_path="/readyz") as web:
        env = scenario.sandbox_env(sandbox.base_url, web.base_url)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        text = scenario.sandbox_config_text(REPO_ROOT / "examples" / "futon-store.toml", sandbox.base_url, platforms)
        path = tmp_path / "store.toml"
        path.write_text(edit(text) if edit else text)
        monkeypatch.setenv("BACKORDERS_CONFIG", str(path))
        get_settings.cache_clear()
        config = load_config(path)
        apply_config(db_session, config)
        db_session.commit()
        scenario.prepare(sandbox.base_url, config, web.base_url, env, available=available)
        try:
            yield Stack(sandbox.base_url, web.base_url, config, path)
        finally:
            get_settings.cache_clear()
